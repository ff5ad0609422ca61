package layers_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"
	"github.com/twpayne/go-geom/encoding/wkb"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/layerfile"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/geo"
)

func TestParseCRS(t *testing.T) {
	for in, want := range map[string]geo.CRS{
		"http://www.opengis.net/def/crs/OGC/1.3/CRS84":  geo.CRS84,
		"https://www.opengis.net/def/crs/OGC/1.3/CRS84": geo.CRS84,
		"OGC:CRS84":   geo.CRS84,
		"EPSG:4326":   geo.EPSG4326,
		"[EPSG:4490]": geo.EPSG4490,
		"epsg:4548":   geo.EPSG4548,
		"http://www.opengis.net/def/crs/EPSG/0/3857": geo.EPSG3857,
	} {
		got, err := geo.ParseURI(in)
		if err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"EPSG:2000", "http://www.opengis.net/def/crs/EPSG/0/43260", "", "EPSG:CRS84"} {
		if _, err := geo.ParseURI(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if !geo.EPSG4326.Flip || !geo.EPSG4548.Flip || geo.CRS84.Flip || geo.EPSG3857.Flip {
		t.Error("axis order flags")
	}
}

func TestParseDatetime(t *testing.T) {
	for in, want := range map[string]string{
		"2024-06-30":                "2024-06-30",
		"2024-06-30T12:00:00Z":      "2024-06-30",
		"2024-06-30T20:00:00Z":      "2024-07-01", // 04:00 next day in Beijing
		"2024-06-30T23:00:00+08:00": "2024-06-30",
	} {
		got, err := boundaries.ParseDatetime(in)
		if day, one := got.Day(); err != nil || !one || day.Format("2006-01-02") != want {
			t.Errorf("%s: %v %v, want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"2024-07-01/2024-06-30", "../2024-01-0", "yesterday", "2024-13-01"} {
		if _, err := boundaries.ParseDatetime(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// ogcStore is a fresh database holding the small demo city.
func ogcStore(t *testing.T) (*store.Store, *demo.Manifest) {
	t.Helper()
	s, _ := pgtest.NewStore(t)
	dir := t.TempDir()
	man, err := demo.Generate(demo.Config{Seed: 1, Scale: demo.Small, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := importer.LoadDemo(context.Background(), s, dir, nil); err != nil {
		t.Fatal(err)
	}
	return s, man
}

func TestFeatures(t *testing.T) {
	s, man := ogcStore(t)
	ctx := context.Background()
	// Paging covers every feature once, in code order.
	var codes []string
	for off := 0; ; off += 70 {
		c, err := pgtest.Reader(s).Features(ctx, layers.FeatureQuery{Layer: "communities", Limit: 70, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		if c.Matched != int64(man.Counts.Communities) {
			t.Fatalf("matched %d, want %d", c.Matched, man.Counts.Communities)
		}
		n := 0
		for c.Next() {
			f := c.Feature()
			i := bytes.Index(f, []byte(`"id":"`))
			codes = append(codes, string(f[i+6:i+6+bytes.IndexByte(f[i+6:], '"')]))
			n++
		}
		err = c.Err()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n < 70 {
			break
		}
	}
	if len(codes) != man.Counts.Communities {
		t.Fatalf("paged %d features, want %d", len(codes), man.Counts.Communities)
	}
	for i := 1; i < len(codes); i++ {
		if codes[i-1] >= codes[i] {
			t.Fatalf("not in code order at %d: %s %s", i, codes[i-1], codes[i])
		}
	}
	// One feature; a missing one; bad queries are QueryErrors.
	if f, err := pgtest.Reader(s).Feature(ctx, layers.FeatureQuery{Layer: "communities", ID: codes[3]}); err != nil || !bytes.Contains(f, []byte(codes[3])) {
		t.Errorf("feature %s: %v", codes[3], err)
	}
	if _, err := pgtest.Reader(s).Feature(ctx, layers.FeatureQuery{Layer: "communities", ID: "nope"}); !errors.Is(err, boundaries.ErrNotFound) {
		t.Errorf("missing feature: %v", err)
	}
	var qe *boundaries.QueryError
	for _, q := range []layers.FeatureQuery{
		{Layer: "communities", Equal: map[string]string{"households": "x"}},
		{Layer: "communities", Equal: map[string]string{"nope": "x"}},
		{Layer: "communities", BBox: []float64{3, 0, 1, 1}},
		{Layer: "communities", Filter: "households >"},
	} {
		if _, err := pgtest.Reader(s).Features(ctx, q); !errors.As(err, &qe) {
			t.Errorf("%+v: %v", q, err)
		}
	}
	// A date before everything: nothing valid then.
	c, err := pgtest.Reader(s).Features(ctx, layers.FeatureQuery{Layer: "streets", At: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Matched != 0 {
		t.Errorf("1990: %d streets", c.Matched)
	}
	c.Close()
}

// TestExportGPKG reads the GeoPackage back with jiedao's own reader and
// compares every geometry with PostGIS, bit for bit.
func TestExportGPKG(t *testing.T) {
	s, man := ogcStore(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.gpkg")
	n, err := pgtest.Reader(s).ExportGPKG(ctx, path, layers.ExportOptions{Layer: "communities"})
	if err != nil || n != man.Counts.Communities {
		t.Fatalf("export: %d %v, want %d", n, err, man.Counts.Communities)
	}
	r, err := layerfile.Open(path, layerfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.SRID() != 4326 {
		t.Errorf("SRID %d", r.SRID())
	}
	want := map[string][]byte{}
	rows, err := s.Primary().Query(ctx, `SELECT code, ST_AsBinary(geom, 'NDR') FROM units WHERE level = 'community' AND valid_to IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var code string
		var b []byte
		if err := rows.Scan(&code, &b); err != nil {
			t.Fatal(err)
		}
		want[code] = b
	}
	rows.Close()
	got := 0
	for {
		f, ok := r.Next()
		if !ok {
			break
		}
		if f.Err != nil {
			t.Fatalf("feature %d: %v", f.Index, f.Err)
		}
		code, _ := f.Props["code"].(string)
		b, err := wkb.Marshal(f.Geom, wkb.NDR)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want[code]) {
			t.Errorf("%s: geometry differs", code)
		}
		if _, ok := f.Props["households"]; !ok || f.Props["name"] == "" || f.Props["status"] == nil || f.Props["reasons"] == nil {
			t.Errorf("%s: props %v", code, f.Props)
		}
		got++
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Errorf("read %d features, database %d", got, len(want))
	}
}

// Tiles list their features in id order, so every process encodes one
// data version to the same bytes.
func TestTileFeatureOrder(t *testing.T) {
	s, _ := ogcStore(t)
	ctx := context.Background()
	p, err := analysis.LoadProfile("")
	if err != nil {
		t.Fatal(err)
	}
	run, err := pgtest.Reader(s).Run(ctx, p, boundaries.Today(), 0)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := pgtest.Reader(s).Extent(ctx, layers.ExtentQuery{Layer: "communities"})
	if err != nil || ext.BBox == nil {
		t.Fatalf("extent %v %v", ext, err)
	}
	lon, lat := (ext.BBox[0]+ext.BBox[2])/2, (ext.BBox[1]+ext.BBox[3])/2
	tile := maptile.At(orb.Point{lon, lat}, 12)
	l, _ := layers.ByName("communities")
	b, err := pgtest.Reader(s).Tile(ctx, l, run, false, boundaries.Today(), 12, int(tile.X), int(tile.Y))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := mvt.Unmarshal(b)
	if err != nil || len(ls) != 1 {
		t.Fatalf("decode: %v (%d layers)", err, len(ls))
	}
	var codes []string
	for _, f := range ls[0].Features {
		codes = append(codes, f.Properties["code"].(string))
	}
	if len(codes) < 5 || !slices.IsSorted(codes) {
		t.Fatalf("%d features, codes %v: want several, in code order", len(codes), codes)
	}
	again, err := pgtest.Reader(s).Tile(ctx, l, run, false, boundaries.Today(), 12, int(tile.X), int(tile.Y))
	if err != nil || !bytes.Equal(b, again) {
		t.Fatalf("second encoding differs (%v)", err)
	}
}
