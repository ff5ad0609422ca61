package layers_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// Live tiles read the stored EPSG:3857 geometry and tile-ready attributes
// (migration 0012); they must be the very tiles the per-row transform and
// formatting made, for units written by the importer and results written
// by the analysis.
func TestLiveTilesMatchReference(t *testing.T) {
	s, _ := ogcStore(t)
	ctx := context.Background()
	p, err := analysis.LoadProfile("")
	if err != nil {
		t.Fatal(err)
	}
	day := boundaries.Today()
	run, err := pgtest.Reader(s).Run(ctx, p, day, 0)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := pgtest.Reader(s).Extent(ctx, layers.ExtentQuery{Layer: "communities"})
	if err != nil || ext.BBox == nil {
		t.Fatalf("extent %v %v", ext, err)
	}
	bound := orb.Bound{Min: orb.Point{ext.BBox[0], ext.BBox[1]}, Max: orb.Point{ext.BBox[2], ext.BBox[3]}}
	for _, name := range []string{"districts", "streets", "communities"} {
		l, _ := layers.ByName(name)
		live, ref := layers.TileSQL(l, false), layers.ReferenceTileSQL(l)
		if !strings.Contains(live, "geom_3857") || strings.Contains(live, "ST_Transform") {
			t.Fatalf("%s: live tiles do not read the stored geometry:\n%s", name, live)
		}
		features := 0
		for z := max(layers.TileMinZoom(name), 10); z <= 14; z++ {
			for _, tile := range tilesOver(bound, maptile.Zoom(z), 40) {
				x, y := int(tile.X), int(tile.Y)
				args := layers.TileArgs(run, day, z, x, y)
				var got, want []byte
				if err := s.Reader().QueryRow(ctx, live, args...).Scan(&got); err != nil {
					t.Fatalf("%s %d/%d/%d: %v", name, z, x, y, err)
				}
				if err := s.Reader().QueryRow(ctx, ref, args...).Scan(&want); err != nil {
					t.Fatalf("%s %d/%d/%d reference: %v", name, z, x, y, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s %d/%d/%d: %s", name, z, x, y, tileDiff(got, want))
				}
				features += featureCount(t, got)
			}
		}
		if features == 0 {
			t.Errorf("%s: no features in any tile compared", name)
		}
		t.Logf("%s: %d features, tiles equal to the reference", name, features)
	}
	// The stored columns follow the expressions they replace.
	for what, q := range map[string]string{
		"units": `SELECT count(*) FROM units WHERE ST_AsBinary(geom_3857) IS DISTINCT FROM ST_AsBinary(ST_Transform(geom, 3857))
			OR tile_area_km2 IS DISTINCT FROM round((area_m2 / 1e6)::numeric, 4)::float8`,
		"analysis_units": `SELECT count(*) FROM analysis_units WHERE tile_density IS DISTINCT FROM round(density::numeric, 4)::float8
			OR tile_reasons IS DISTINCT FROM array_to_string(reasons, '; ')`,
	} {
		var n int
		if err := s.Reader().QueryRow(ctx, q).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d rows whose tile columns differ (%v)", what, n, err)
		}
	}
}

// The live tile finds rows with the EPSG:3857 index, and no tile query
// runs the geometry pipeline in a filter as well as in its output (what
// an outer "geom IS NOT NULL" turns into once pushed down).
func TestTilePlan(t *testing.T) {
	s, _ := ogcStore(t)
	ctx := context.Background()
	conn, err := s.Primary().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// The plan a loaded database gets (autovacuum would analyse it soon).
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	// The generic plan, as the statement cache runs it after a few calls.
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	for i, l := range layers.All {
		for _, scenario := range []bool{false, true} {
			name := fmt.Sprintf("tile%d_%v", i, scenario)
			if _, err := conn.Exec(ctx, "PREPARE "+name+" (bigint, date, int, int, int, float8) AS "+layers.TileSQL(&l, scenario)); err != nil {
				t.Fatalf("%s: prepare: %v", l.Name, err)
			}
			plan := queryLines(t, conn, "EXPLAIN (VERBOSE, COSTS OFF) EXECUTE "+name+" (1, current_date, 14, 13485, 6210, 2.388657133911758)")
			for _, line := range strings.Split(plan, "\n") {
				if strings.Contains(line, "Filter:") && strings.Contains(line, "st_asmvtgeom") {
					t.Errorf("%s (scenario %v): geometry pipeline in a filter: %s", l.Name, scenario, line)
				}
			}
			if l.Level != "" && !scenario && !strings.Contains(plan, "units_geom_3857_"+string(l.Level)) {
				t.Errorf("%s: live tile does not use the EPSG:3857 index:\n%s", l.Name, plan)
			}
		}
	}
}

func queryLines(t *testing.T, conn *pgxpool.Conn, q string) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// tilesOver lists the tiles of zoom z over b, at most n of them (evenly).
func tilesOver(b orb.Bound, z maptile.Zoom, n int) []maptile.Tile {
	min, max := maptile.At(orb.Point{b.Min[0], b.Max[1]}, z), maptile.At(orb.Point{b.Max[0], b.Min[1]}, z)
	var all []maptile.Tile
	for x := min.X; x <= max.X; x++ {
		for y := min.Y; y <= max.Y; y++ {
			all = append(all, maptile.New(x, y, z))
		}
	}
	if len(all) <= n {
		return all
	}
	out := make([]maptile.Tile, 0, n)
	for i := range n {
		out = append(out, all[i*len(all)/n])
	}
	return out
}

func featureCount(t *testing.T, b []byte) int {
	t.Helper()
	if len(b) == 0 {
		return 0
	}
	ls, err := mvt.Unmarshal(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	n := 0
	for _, l := range ls {
		n += len(l.Features)
	}
	return n
}

// tileDiff says how two tiles differ once decoded: feature counts, then
// the first feature whose properties or geometry differ.
func tileDiff(got, want []byte) string {
	g, err1 := mvt.Unmarshal(got)
	w, err2 := mvt.Unmarshal(want)
	if err1 != nil || err2 != nil || len(g) != len(w) {
		return fmt.Sprintf("bytes differ (decode %v, %v; %d and %d layers)", err1, err2, len(g), len(w))
	}
	for i := range g {
		if len(g[i].Features) != len(w[i].Features) {
			return fmt.Sprintf("%d features, reference %d", len(g[i].Features), len(w[i].Features))
		}
		for j, f := range g[i].Features {
			if fmt.Sprint(f.Properties) != fmt.Sprint(w[i].Features[j].Properties) {
				return fmt.Sprintf("feature %d: properties %v, reference %v", j, f.Properties, w[i].Features[j].Properties)
			}
			if fmt.Sprint(f.Geometry) != fmt.Sprint(w[i].Features[j].Geometry) {
				return fmt.Sprintf("feature %d (%v): geometry differs", j, f.Properties["code"])
			}
		}
	}
	return "bytes differ, decoded tiles equal"
}

// scripts/bench-tilesql/jiedao.sql is the live communities tile query, so
// the benchmark measures the query the server runs;
// JIEDAO_WRITE_TILESQL=1 rewrites it.
func TestBenchTileSQL(t *testing.T) {
	const path = "../../scripts/bench-tilesql/jiedao.sql"
	l, _ := layers.ByName("communities")
	want := layers.TileSQL(l, false) + "\n"
	if os.Getenv("JIEDAO_WRITE_TILESQL") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is not the live tile query; rewrite it with JIEDAO_WRITE_TILESQL=1 go test -run TestBenchTileSQL ./boundaries/layers/", path)
	}
}
