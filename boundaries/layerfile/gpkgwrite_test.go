package layerfile

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/wkb"
)

var gpkgTestCols = []GPKGColumn{
	{"name", "string"}, {"pop", "integer"}, {"area", "number"},
	{"active", "boolean"}, {"since", "date"}, {"tags", "array"},
}

// mpWKB marshals a 2D MultiPolygon.
func mpWKB(t testing.TB, bo binary.ByteOrder, coords [][][]geom.Coord) ([]byte, *geom.MultiPolygon) {
	t.Helper()
	mp := geom.NewMultiPolygon(geom.XY).MustSetCoords(coords)
	b, err := wkb.Marshal(mp, bo)
	if err != nil {
		t.Fatal(err)
	}
	return b, mp
}

func boxRing(x0, y0, x1, y1 float64) []geom.Coord {
	return []geom.Coord{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}
}

// u32s appends little-endian uint32s to a WKB prefix.
func u32s(b []byte, vs ...uint32) []byte {
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

func TestGPKGWriterRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "streets?#%.gpkg") // URI characters in the name
	w, err := CreateGPKG(ctx, path, `jie"dao`, "街道 boundaries", gpkgTestCols)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()

	// Two polygons, one with a hole; little-endian, as PostGIS sends it.
	wkb1, g1 := mpWKB(t, wkb.NDR, [][][]geom.Coord{
		{boxRing(116.3, 39.8, 116.4, 39.9), boxRing(116.32, 39.82, 116.34, 39.84)},
		{boxRing(116.45, 39.95, 116.5, 40)},
	})
	// Big-endian WKB, and NULL for every attribute.
	wkb2, g2 := mpWKB(t, wkb.XDR, [][][]geom.Coord{{boxRing(116.35, 39.85, 116.42, 39.99)}})
	wkb3, g3 := mpWKB(t, wkb.NDR, nil) // MULTIPOLYGON EMPTY
	feats := []struct {
		wkb  []byte
		g    *geom.MultiPolygon
		vals []any
	}{
		{wkb1, g1, []any{"安定门街道", int64(42), 3.5, true, "2024-01-02", "a; b"}},
		{wkb2, g2, []any{nil, nil, nil, nil, nil, nil}},
		{wkb3, g3, []any{"empty", int64(-1), 0.0, false, "1999-12-31", ""}},
	}
	for _, f := range feats {
		if err := w.Add(ctx, f.wkb, f.vals); err != nil {
			t.Fatal(err)
		}
	}
	if w.Count() != 3 {
		t.Errorf("Count = %d, want 3", w.Count())
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	w.Abort() // after a successful Close: keeps the file
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Abort after Close removed the file: %v", err)
	}
	if err := w.Close(ctx); err == nil {
		t.Error("second Close succeeded")
	}

	// Back through the package's own reader.
	fs, r := openAll(t, path, Options{})
	if len(fs) != 3 {
		t.Fatalf("read %d features, want 3", len(fs))
	}
	if done, total := r.Progress(); done != 3 || total != 3 {
		t.Errorf("Progress = %d/%d, want 3/3", done, total)
	}
	if r.SRID() != 4326 || r.PRJ() != wgs84WKT {
		t.Errorf("SRID %d, PRJ %q", r.SRID(), r.PRJ())
	}
	want := []map[string]any{
		{"name": "安定门街道", "pop": int64(42), "area": 3.5, "active": true, "since": "2024-01-02", "tags": "a; b"},
		{"name": nil, "pop": nil, "area": nil, "active": nil, "since": nil, "tags": nil},
		{"name": "empty", "pop": int64(-1), "area": 0.0, "active": false, "since": "1999-12-31", "tags": ""},
	}
	for i, f := range fs {
		if f.Err != nil {
			t.Errorf("feature %d: %v", i, f.Err)
			continue
		}
		if !reflect.DeepEqual(f.Props, want[i]) {
			t.Errorf("feature %d props = %#v, want %#v", i, f.Props, want[i])
		}
		mp, ok := f.Geom.(*geom.MultiPolygon)
		if !ok {
			t.Errorf("feature %d geometry is %T", i, f.Geom)
			continue
		}
		got, _ := wkb.Marshal(mp, wkb.NDR)
		exp, _ := wkb.Marshal(feats[i].g, wkb.NDR)
		if !bytes.Equal(got, exp) {
			t.Errorf("feature %d geometry differs: %v, want %v", i, mp.Coords(), feats[i].g.Coords())
		}
	}
	if !fs[2].Geom.Empty() {
		t.Error("feature 2 is not empty")
	}

	// The layout GDAL sees.
	db, err := sql.Open("sqlite", "file:"+strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var appID, userVersion int64
	if err := db.QueryRow(`PRAGMA application_id`).Scan(&appID); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&userVersion); err != nil {
		t.Fatal(err)
	}
	if appID != 0x47504b47 || userVersion != 10300 {
		t.Errorf("application_id %#x, user_version %d", appID, userVersion)
	}
	var ident, desc, dataType string
	var ext [4]float64
	var srs int
	if err := db.QueryRow(`SELECT data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id FROM gpkg_contents WHERE table_name = 'jie"dao'`).
		Scan(&dataType, &ident, &desc, &ext[0], &ext[1], &ext[2], &ext[3], &srs); err != nil {
		t.Fatal(err)
	}
	if dataType != "features" || ident != `jie"dao` || desc != "街道 boundaries" || srs != 4326 || ext != [4]float64{116.3, 39.8, 116.5, 40} {
		t.Errorf("gpkg_contents: %s %q %q %v %d", dataType, ident, desc, ext, srs)
	}
	var gcols, exts string
	if err := db.QueryRow(`SELECT group_concat(table_name||','||column_name||','||geometry_type_name||','||srs_id||','||z||','||m) FROM gpkg_geometry_columns`).Scan(&gcols); err != nil {
		t.Fatal(err)
	}
	if gcols != `jie"dao,geom,MULTIPOLYGON,4326,0,0` {
		t.Errorf("gpkg_geometry_columns: %s", gcols)
	}
	if err := db.QueryRow(`SELECT group_concat(table_name||','||column_name||','||extension_name||','||definition||','||scope) FROM gpkg_extensions`).Scan(&exts); err != nil {
		t.Fatal(err)
	}
	if exts != `jie"dao,geom,gpkg_rtree_index,http://www.geopackage.org/spec120/#extension_rtree,write-only` {
		t.Errorf("gpkg_extensions: %s", exts)
	}
	var types string
	if err := db.QueryRow(`SELECT group_concat(name||' '||type, ', ') FROM pragma_table_info('jie"dao')`).Scan(&types); err != nil {
		t.Fatal(err)
	}
	if want := "fid INTEGER, geom MULTIPOLYGON, name TEXT, pop INTEGER, area DOUBLE, active BOOLEAN, since DATE, tags TEXT"; types != want {
		t.Errorf("columns: %s, want %s", types, want)
	}
	var idx string
	if err := db.QueryRow(`SELECT group_concat(id||':'||minx||','||maxx||','||miny||','||maxy, ' ') FROM "rtree_jie""dao_geom"`).Scan(&idx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range strings.Fields(idx) {
		ids = append(ids, strings.SplitN(e, ":", 2)[0])
	}
	if strings.Join(ids, " ") != "1 2" {
		t.Errorf("rtree ids %v (all: %s), want 1 2: the empty geometry is not indexed", ids, idx)
	}
	// The GP headers: little-endian with an xy envelope, or empty.
	blobs := map[int][]byte{}
	rows, err := db.Query(`SELECT fid, geom FROM "jie""dao"`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var fid int
		var b []byte
		if err := rows.Scan(&fid, &b); err != nil {
			t.Fatal(err)
		}
		blobs[fid] = b
	}
	rows.Close()
	hdr := func(flags byte, env ...float64) []byte {
		h := []byte{'G', 'P', 0, flags, 0xE6, 0x10, 0, 0}
		for _, v := range env {
			h = binary.LittleEndian.AppendUint64(h, math.Float64bits(v))
		}
		return h
	}
	for fid, exp := range map[int][]byte{
		1: append(hdr(0x03, 116.3, 116.5, 39.8, 40), wkb1...),
		2: append(hdr(0x03, 116.35, 116.42, 39.85, 39.99), wkb2...),
		3: append(hdr(0x11), wkb3...),
	} {
		if !bytes.Equal(blobs[fid], exp) {
			t.Errorf("fid %d blob\n% x\nwant\n% x", fid, blobs[fid], exp)
		}
	}

	// GDAL, when installed.
	ogrinfo(t, []string{"-so", "-al", path}, "Feature Count: 3", "Extent: (116.300000, 39.800000) - (116.500000, 40.000000)",
		"Geometry: Multi Polygon", `Layer name: jie"dao`, "active: Integer(Boolean)", "since: Date", "pop: Integer64", "area: Real")
	// A spatial filter that only fid 1's box meets, answered from the R-tree;
	// and the attributes as GDAL reads them.
	out := ogrinfo(t, []string{"-al", "-q", "-spat", "116.44", "39.94", "116.6", "40.1", path},
		"OGRFeature(jie\"dao):1", "name (String) = 安定门街道", "active (Integer(Boolean)) = 1",
		"since (Date) = 2024/01/02", "pop (Integer64) = 42", "MULTIPOLYGON (((116.3 39.8,")
	if n := strings.Count(out, "OGRFeature("); out != "" && n != 1 {
		t.Errorf("the spatial filter let %d features through, want 1", n)
	}
	ogrinfo(t, []string{"-q", path, "-sql", `SELECT HasSpatialIndex('jie"dao', 'geom') AS idx`}, "HasSpatialIndex (Integer) = 1")
}

// ogrinfo runs ogrinfo with args and checks that its output has each of
// wants and that GDAL complains about nothing, and returns the output; ""
// when GDAL is absent.
func ogrinfo(t *testing.T, args []string, wants ...string) string {
	t.Helper()
	bin, err := exec.LookPath("ogrinfo")
	if err != nil {
		if os.Getenv("JIEDAO_REQUIRE_TOOLS") != "" {
			t.Fatal("ogrinfo not on PATH: install the Debian package gdal-bin (make test runs scripts/testdeps.sh)")
		}
		t.Log("ogrinfo not on PATH; GDAL check skipped")
		return ""
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ogrinfo: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("ogrinfo %s:\n%s", strings.Join(args, " "), out)
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("ogrinfo output lacks %q:\n%s", w, out)
		}
	}
	if stderr.Len() > 0 {
		t.Errorf("ogrinfo complained:\n%s", stderr.String())
	}
	return out
}

func TestGPKGWriterNoFeatures(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "none.gpkg")
	w, err := CreateGPKG(ctx, path, "none", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	fs, _ := openAll(t, path, Options{})
	if len(fs) != 0 {
		t.Errorf("read %d features", len(fs))
	}
	ogrinfo(t, []string{"-so", "-al", path}, "Feature Count: 0")
}

func TestGPKGWriterBadInput(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bad.gpkg")
	w, err := CreateGPKG(ctx, path, "bad", "", []GPKGColumn{{"name", "string"}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	good, _ := mpWKB(t, wkb.NDR, [][][]geom.Coord{{boxRing(0, 0, 1, 1)}})
	polygon, _ := wkb.Marshal(geom.NewPolygon(geom.XY).MustSetCoords([][]geom.Coord{boxRing(0, 0, 1, 1)}), wkb.NDR)
	xyz, _ := wkb.Marshal(geom.NewMultiPolygon(geom.XYZ).MustSetCoords([][][]geom.Coord{{{{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 0}}}}), wkb.NDR)
	nan, _ := mpWKB(t, wkb.NDR, [][][]geom.Coord{{{{0, 0}, {math.NaN(), 0}, {0, 1}, {0, 0}}}})
	inf, _ := mpWKB(t, wkb.XDR, [][][]geom.Coord{{{{0, 0}, {math.Inf(1), 0}, {0, 1}, {0, 0}}}})
	ewkb := append([]byte{1}, u32s(nil, 0x20000006, 4326, 0)...)
	for name, b := range map[string][]byte{
		"nil":                 nil,
		"byte order only":     {1},
		"bad byte order":      u32s([]byte{2}, 6, 0),
		"truncated":           good[:len(good)-3],
		"trailing bytes":      append(append([]byte{}, good...), 0),
		"polygon":             polygon,
		"point":               u32s([]byte{1}, 1, 0, 0, 0, 0),
		"multipolygon Z":      xyz,
		"EWKB with SRID":      ewkb,
		"NaN coordinate":      nan,
		"infinite coordinate": inf,
		"polygon count":       u32s([]byte{1}, 6, 0xFFFFFFFF),
		"ring count":          u32s(append(u32s([]byte{1}, 6, 1), 1), 3, 0xFFFFFFFF),
		"point count":         u32s(append(u32s([]byte{1}, 6, 1), 1), 3, 1, 0xFFFFFFFF),
		"point count, XDR": append(append(binary.BigEndian.AppendUint32([]byte{0}, 6), 0, 0, 0, 1, 0),
			0, 0, 0, 3, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF),
		"part not a polygon": u32s(append(u32s([]byte{1}, 6, 1), 1), 2, 0),
	} {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		err := w.Add(ctx, b, []any{name})
		runtime.ReadMemStats(&m1)
		if err == nil {
			t.Errorf("%s: Add succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
		if a := m1.TotalAlloc - m0.TotalAlloc; a > 1<<20 {
			t.Errorf("%s: Add allocated %d bytes", name, a)
		}
	}
	if err := w.Add(ctx, good, nil); err == nil {
		t.Error("Add with no values for one column succeeded")
	}
	if err := w.Add(ctx, good, []any{"a", "b"}); err == nil {
		t.Error("Add with two values for one column succeeded")
	}
	// Rejected input writes nothing and leaves the writer usable.
	if err := w.Add(ctx, good, []any{"ok"}); err != nil {
		t.Fatal(err)
	}
	if w.Count() != 1 {
		t.Errorf("Count = %d, want 1", w.Count())
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	fs, _ := openAll(t, path, Options{})
	if len(fs) != 1 || fs[0].Props["name"] != "ok" {
		t.Errorf("read back %+v", fs)
	}
}

func TestGPKGWriterAbort(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "abort.gpkg")
	if err := os.WriteFile(path, []byte("not a GeoPackage"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := CreateGPKG(ctx, path, "t", "", nil) // replaces the file
	if err != nil {
		t.Fatal(err)
	}
	good, _ := mpWKB(t, wkb.NDR, [][][]geom.Coord{{boxRing(0, 0, 1, 1)}})
	if err := w.Add(ctx, good, nil); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	w.Abort()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("file still there after Abort: %v", err)
	}
	if err := w.Add(ctx, good, nil); err == nil {
		t.Error("Add after Abort succeeded")
	}
	if err := w.Close(ctx); err == nil {
		t.Error("Close after Abort succeeded")
	}
}

func TestGPKGWriterFailedInsert(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fail.gpkg")
	w, err := CreateGPKG(ctx, path, "t", "", []GPKGColumn{{"v", "string"}})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := mpWKB(t, wkb.NDR, [][][]geom.Coord{{boxRing(0, 0, 1, 1)}})
	if err := w.Add(ctx, good, []any{struct{}{}}); err == nil { // no SQL value
		t.Fatal("Add of a struct value succeeded")
	}
	if err := w.Add(ctx, good, []any{"ok"}); err == nil {
		t.Error("Add after a failed insert succeeded")
	}
	if err := w.Close(ctx); err == nil {
		t.Error("Close after a failed insert succeeded")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("file still there after a failed Close: %v", err)
	}
}

func TestGPKGWriterContext(t *testing.T) {
	good, _ := mpWKB(t, wkb.NDR, [][][]geom.Coord{{boxRing(0, 0, 1, 1)}})
	dir := t.TempDir()

	// The ctx of CreateGPKG does not hold the file: ending it afterwards
	// leaves the writer usable.
	ctx, cancel := context.WithCancel(context.Background())
	w, err := CreateGPKG(ctx, filepath.Join(dir, "a.gpkg"), "t", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	cancel()
	if err := w.Add(context.Background(), good, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fs, _ := openAll(t, filepath.Join(dir, "a.gpkg"), Options{}); len(fs) != 1 {
		t.Errorf("read %d features, want 1", len(fs))
	}

	// The ctx of Add governs Add.
	w, err = CreateGPKG(context.Background(), filepath.Join(dir, "b.gpkg"), "t", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.Add(ctx, good, nil); err == nil {
		t.Error("Add with a cancelled ctx succeeded")
	}
}

func TestGPKGWriterNames(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for i, tt := range []struct {
		table string
		cols  []GPKGColumn
	}{
		{"", nil},
		{"t", []GPKGColumn{{"", "string"}}},
		{"t", []GPKGColumn{{"FID", "integer"}}},
		{"t", []GPKGColumn{{"Geom", "string"}}},
		{"t", []GPKGColumn{{"a", "string"}, {"A", "integer"}}},
	} {
		path := filepath.Join(dir, fmt.Sprintf("%d.gpkg", i))
		if w, err := CreateGPKG(ctx, path, tt.table, "", tt.cols); err == nil {
			w.Abort()
			t.Errorf("CreateGPKG(%q, %v) succeeded", tt.table, tt.cols)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%d: file created: %v", i, err)
		}
	}
}

func FuzzGPKGAdd(f *testing.F) {
	good, _ := mpWKB(f, wkb.NDR, [][][]geom.Coord{{boxRing(116.3, 39.8, 116.4, 39.9), boxRing(116.32, 39.82, 116.34, 39.84)}})
	goodXDR, _ := mpWKB(f, wkb.XDR, [][][]geom.Coord{{boxRing(0, 0, 1, 1)}, {boxRing(2, 2, 3, 3)}})
	polygon, _ := wkb.Marshal(geom.NewPolygon(geom.XY).MustSetCoords([][]geom.Coord{boxRing(0, 0, 1, 1)}), wkb.NDR)
	empty, _ := mpWKB(f, wkb.NDR, nil)
	f.Add(good)
	f.Add(goodXDR)
	f.Add(polygon)
	f.Add(empty)
	f.Add(good[:len(good)/2])
	f.Add(u32s(append(u32s([]byte{1}, 6, 1), 1), 3, 0xFFFFFFFF))
	f.Add(u32s(append(u32s([]byte{1}, 6, 1), 1), 3, 1, 0xFFFFFFFF))

	ctx := context.Background()
	w, err := CreateGPKG(ctx, filepath.Join(f.TempDir(), "fuzz.gpkg"), "fuzz", "", []GPKGColumn{{"n", "integer"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := w.Close(ctx); err != nil {
			f.Error(err)
		}
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := w.Count()
		err := w.Add(ctx, b, []any{int64(len(b))})
		if err != nil {
			if w.Count() != n {
				t.Fatalf("failed Add counted: %v", err)
			}
			if w.err != nil {
				t.Fatalf("malformed input spoiled the writer: %v", err)
			}
			return
		}
		if w.Count() != n+1 {
			t.Fatalf("Count %d after Add, want %d", w.Count(), n+1)
		}
		// What was stored reads back as what was given.
		blob, env, empty, err := gpkgGeometry(nil, b)
		if err != nil {
			t.Fatal(err)
		}
		g, err := parseGPKGGeometry(blob)
		if err != nil {
			t.Fatalf("stored blob does not parse: %v", err)
		}
		want, err := wkb.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		gb, _ := wkb.Marshal(g, wkb.NDR)
		wb, _ := wkb.Marshal(want, wkb.NDR)
		if !bytes.Equal(gb, wb) {
			t.Fatalf("round trip: %x, want %x", gb, wb)
		}
		if empty != (len(want.FlatCoords()) == 0) {
			t.Fatalf("empty = %v for %d coordinates", empty, len(want.FlatCoords()))
		}
		if !empty {
			bounds := want.Bounds()
			if env != [4]float64{bounds.Min(0), bounds.Min(1), bounds.Max(0), bounds.Max(1)} {
				t.Fatalf("envelope %v, bounds %v", env, bounds)
			}
		}
	})
}
