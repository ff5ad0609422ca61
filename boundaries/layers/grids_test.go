package layers_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
)

// gridCity is a hand-made street of two communities, 0.02° square each
// (in pgtest.Rect units: x 0–2 and 2–4, y 0–2), the first cut into four
// grids numbered west→east, north→south; the second has none.
var gridCity = []struct {
	level boundaries.Level
	fc    string
}{
	{boundaries.District, pgtest.FC(pgtest.Feature(`{"code":"110101","name":"东城区"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 4, 2))))},
	{boundaries.Street, pgtest.FC(pgtest.Feature(`{"code":"110101001","name":"东华门街道"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 4, 2))))},
	{boundaries.Community, pgtest.FC(pgtest.Comm("110101001001", pgtest.PolyOf(pgtest.Rect(0, 0, 2, 2)), 1600),
		pgtest.Comm("110101001002", pgtest.PolyOf(pgtest.Rect(2, 0, 4, 2)), 1500))},
	{boundaries.Grid, pgtest.FC(
		pgtest.Feature(`{"code":"110101001001001","name":"第一网格","hh":350}`, pgtest.PolyOf(pgtest.Rect(0, 1, 1, 2))),
		pgtest.Feature(`{"code":"110101001001002","name":"第二网格","hh":400}`, pgtest.PolyOf(pgtest.Rect(1, 1, 2, 2))),
		pgtest.Feature(`{"code":"110101001001003","name":"第三网格","hh":450}`, pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1))),
		pgtest.Feature(`{"code":"110101001001004","name":"第四网格","hh":400}`, pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1))))},
}

var gridCodes = []string{"110101001001001", "110101001001002", "110101001001003", "110101001001004"}

// gridStore imports gridCity into a fresh database.
func gridStore(t *testing.T) *store.Store {
	t.Helper()
	s, _ := pgtest.NewStore(t)
	for _, l := range gridCity {
		opt := importer.Options{Level: l.level, HouseholdsField: "hh", ValidFrom: pgtest.Date(t, "2024-01-01"), Approval: "test"}
		if _, err := importer.Import(context.Background(), s, pgtest.WriteFile(t, string(l.level)+".geojson", l.fc), opt); err != nil {
			t.Fatalf("import %s: %v", l.level, err)
		}
	}
	return s
}

// TestGridsLayer: the grids layer of the registry in tiles (from zoom 13),
// OGC items, downloads, unit documents, stats and the map's list.
func TestGridsLayer(t *testing.T) {
	s := gridStore(t)
	ctx := context.Background()
	r := pgtest.Reader(s)
	p, _ := analysis.LoadProfile("")
	day := boundaries.Today()
	run, err := r.Run(ctx, p, day, 0)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := layers.ByName("grids")
	if !ok || l.Level != boundaries.Grid || layers.TileMinZoom("grids") != 13 {
		t.Fatalf("grids layer %+v, minzoom %d", l, layers.TileMinZoom("grids"))
	}

	// Tiles: the four grids from zoom 13, nothing below it.
	center := orb.Point{116.41, 39.91}
	tile := maptile.At(center, 13)
	b, err := r.Tile(ctx, l, run, false, day, 13, int(tile.X), int(tile.Y))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := mvt.Unmarshal(b)
	if err != nil || len(ls) != 1 || ls[0].Name != "grids" {
		t.Fatalf("tile: %v %v", ls, err)
	}
	var codes []string
	for _, f := range ls[0].Features {
		codes = append(codes, f.Properties["code"].(string))
		if f.Properties["parent_code"] != "110101001001" || f.Properties["households"] == nil || f.Properties["status"] == nil {
			t.Errorf("tile feature %v", f.Properties)
		}
	}
	if !slices.Equal(codes, gridCodes) {
		t.Errorf("tile codes %v, want %v", codes, gridCodes)
	}
	low := maptile.At(center, 12)
	if b, err := r.Tile(ctx, l, run, false, day, 12, int(low.X), int(low.Y)); err != nil || b != nil {
		t.Errorf("zoom 12: %d bytes, %v; want none below the minzoom", len(b), err)
	}

	// OGC items, filtered by parent.
	c, err := r.Features(ctx, layers.FeatureQuery{Layer: "grids", Equal: map[string]string{"parent_code": "110101001001"}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	codes = nil
	for c.Next() {
		var f struct {
			ID         string
			Properties struct{ Households int }
		}
		if err := json.Unmarshal(c.Feature(), &f); err != nil {
			t.Fatal(err)
		}
		codes = append(codes, f.ID)
	}
	c.Close()
	if c.Matched != 4 || !slices.Equal(codes, gridCodes) {
		t.Errorf("items: %d matched, %v", c.Matched, codes)
	}

	// Downloads: GeoJSON and CSV.
	var buf bytes.Buffer
	if n, err := r.Export(ctx, &buf, layers.ExportOptions{Layer: "grids", Format: "csv"}); err != nil || n != 4 {
		t.Fatalf("export csv: %d, %v", n, err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), "\uFEFF"))).ReadAll()
	if err != nil || len(rows) != 5 || rows[0][0] != "code" || rows[3][0] != gridCodes[2] {
		t.Errorf("csv: %v %v", rows, err)
	}
	buf.Reset()
	var fc struct {
		Features []struct{ Properties struct{ Code, Level string } }
	}
	if n, err := r.Export(ctx, &buf, layers.ExportOptions{Layer: "grids"}); err != nil || n != 4 || json.Unmarshal(buf.Bytes(), &fc) != nil ||
		len(fc.Features) != 4 || fc.Features[0].Properties.Level != "grid" || fc.Features[3].Properties.Code != gridCodes[3] {
		t.Errorf("export geojson: %d, %v: %+v", n, err, fc)
	}

	// Unit documents: grids are the last level; a cursor runs into them.
	page, err := r.Page(ctx, layers.PageQuery{Run: run, Limit: 5})
	if err != nil || page.Total != 8 || page.Next == nil {
		t.Fatalf("page: %+v %v", page, err)
	}
	page, err = r.Page(ctx, layers.PageQuery{Run: run, Limit: 5, Cursor: *page.Next})
	if err != nil || len(page.Items) != 3 || page.Next != nil {
		t.Fatalf("second page: %+v %v", page, err)
	}
	var last struct{ Code, Level string }
	json.Unmarshal(page.Items[2], &last) //nolint:errcheck
	if last.Code != gridCodes[3] || last.Level != "grid" {
		t.Errorf("last unit %+v", last)
	}
	st, err := r.Stats(ctx, "", "", day, run)
	if err != nil || len(st) != 4 || st[3].Level != boundaries.Grid || st[3].Units != 4 || *st[3].Households != 1600 {
		t.Errorf("stats: %+v %v", st, err)
	}

	// The map's list: by code, with label points inside each grid.
	gs, err := r.GridsOf(ctx, "110101001001", day, run)
	if err != nil || len(gs) != 4 {
		t.Fatalf("grids of: %+v %v", gs, err)
	}
	cells := [][2]float64{{0, 1}, {1, 1}, {0, 0}, {1, 0}}
	for i, g := range gs {
		x, y := (g.Lon-116.40)/0.01, (g.Lat-39.90)/0.01
		if g.Code != gridCodes[i] || x < cells[i][0] || x > cells[i][0]+1 || y < cells[i][1] || y > cells[i][1]+1 || g.Households == nil {
			t.Errorf("grid %d: %+v (cell %.2f, %.2f)", i, g, x, y)
		}
	}
	if gs, err := r.GridsOf(ctx, "110101001002", day, run); err != nil || len(gs) != 0 {
		t.Errorf("community without grids: %v %v", gs, err)
	}

	// The summary counts grids by status; findings list the street's.
	_, sums, err := r.Summaries(ctx, []layers.SummaryQuery{{Run: run, At: day}}, 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range sums[0].Status["grid"] {
		n += v
	}
	if n != 4 {
		t.Errorf("summary status of grids: %v", sums[0].Status)
	}
}
