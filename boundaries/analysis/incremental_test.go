package analysis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// TestAdvanceEqualsFullRun edits the small demo city one change after
// another; after each, the advanced run must hold exactly what a full
// analysis of the same units finds: every unit's measures, status and
// candidacy, every zone with its geometry, the slivers and the summary.
func TestAdvanceEqualsFullRun(t *testing.T) {
	ctx := context.Background()
	s := pgtest.SmallDemo(t)
	p, err := analysis.LoadProfile("beijing-2020")
	if err != nil {
		t.Fatal(err)
	}
	// Counts from every source: streets and districts sum their children,
	// half the communities count their building points (some on shared
	// edges), the others carry households; grids count their points.
	if _, err := s.Primary().Exec(ctx, `UPDATE units SET households = NULL, population = NULL
		WHERE level <> 'community' OR right(code, 1) IN ('1', '3', '5', '7', '9')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Primary().Exec(ctx, `INSERT INTO points (geom, households, population)
		SELECT ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1), 7, 20 FROM units WHERE level = 'community'`); err != nil {
		t.Fatal(err)
	}
	runs := analysis.NewRuns(s)
	today := boundaries.Today()
	base, err := runs.Ensure(ctx, p, today, analysis.Live)
	if err != nil {
		t.Fatal(err)
	}
	// Two neighbouring communities of one street, and a community of
	// another street touching them.
	var c, n, other, street string
	if err := s.Primary().QueryRow(ctx, `SELECT a.code, b.code, a.parent_code FROM units a JOIN units b
		ON a.level = 'community' AND b.level = 'community' AND a.parent_code = b.parent_code AND a.code < b.code
		AND ST_Touches(a.geom, b.geom) AND a.valid_to IS NULL AND b.valid_to IS NULL ORDER BY a.code LIMIT 1`).Scan(&c, &n, &street); err != nil {
		t.Fatal(err)
	}
	if err := s.Primary().QueryRow(ctx, `SELECT b.code FROM units a JOIN units b ON a.level = 'street' AND b.level = 'street'
		AND a.code = $1 AND b.code <> a.code AND ST_Touches(a.geom, b.geom) AND b.valid_to IS NULL ORDER BY b.code LIMIT 1`, street).Scan(&other); err != nil {
		t.Fatal(err)
	}
	// And two neighbouring grids of one community (the demo's grids).
	var ga, gb string
	if err := s.Primary().QueryRow(ctx, `SELECT a.code, b.code FROM units a JOIN units b
		ON a.level = 'grid' AND b.level = 'grid' AND a.parent_code = b.parent_code AND a.code < b.code
		AND ST_Touches(a.geom, b.geom) AND a.valid_to IS NULL AND b.valid_to IS NULL ORDER BY a.code LIMIT 1`).Scan(&ga, &gb); err != nil {
		t.Fatal(err)
	}
	// geometryOf is GeoJSON computed from the current c and the last version of n.
	geometryOf := func(sql, c, n string) string {
		var g string
		if err := s.Primary().QueryRow(ctx, `SELECT ST_AsGeoJSON(ST_Multi(`+sql+`), 9) FROM units c, units n
			WHERE c.code = $1 AND c.valid_to IS NULL AND n.version_id = (SELECT max(version_id) FROM units WHERE code = $2)`, c, n).Scan(&g); err != nil {
			t.Fatal(err)
		}
		return g
	}
	geometry := func(sql string) string { return geometryOf(sql, c, n) }
	edit := func(props map[string]any, g string) *units.Edit {
		props["approval"], props["valid_from"] = "京民发〔2026〕1号", today.Format("2006-01-02")
		pj, _ := json.Marshal(props)
		if g == "" {
			g = "null"
		}
		e, err := units.ParseFeature([]byte(`{"type":"Feature","properties":` + string(pj) + `,"geometry":` + g + `}`))
		if err != nil {
			t.Fatal(err)
		}
		e.AllowOrphans = true
		return e
	}
	actor := units.Actor{KeyName: "test"}
	update := func(code string, e *units.Edit) error {
		_, err := units.Update(ctx, s, code, units.AnyVersion, e, actor)
		return err
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"households of one community", func() error {
			return update(c, edit(map[string]any{"households": 3600}, ""))
		}},
		{"community grows into its neighbour", func() error {
			return update(c, edit(map[string]any{}, geometry(`ST_Union(c.geom, ST_Intersection(n.geom, ST_Buffer(c.geom, 0.002)))`)))
		}},
		{"community shrinks, leaving a gap", func() error {
			return update(n, edit(map[string]any{}, geometry(`ST_Buffer(n.geom, -0.001)`)))
		}},
		{"community moves to another street", func() error {
			return update(n, edit(map[string]any{"parent_code": other}, ""))
		}},
		{"community retired", func() error {
			_, err := units.Retire(ctx, s, n, units.AnyVersion, today, "京民发〔2026〕2号", false, actor)
			return err
		}},
		{"community created over two others", func() error {
			e := edit(map[string]any{"code": street + "901", "level": "community", "name": "新社区", "parent_code": street, "households": 800},
				geometry(`ST_Buffer(ST_ClosestPoint(c.geom, ST_Centroid(c.geom)), 0.004)`))
			_, err := units.Create(ctx, s, e, actor)
			return err
		}},
		{"street shrinks", func() error {
			var g string
			if err := s.Primary().QueryRow(ctx, `SELECT ST_AsGeoJSON(ST_Multi(ST_Buffer(geom, -0.0005)), 9) FROM units
				WHERE code = $1 AND valid_to IS NULL`, street).Scan(&g); err != nil {
				return err
			}
			return update(street, edit(map[string]any{}, g))
		}},
		{"households of one grid", func() error {
			return update(ga, edit(map[string]any{"households": 900}, ""))
		}},
		{"grid grows into its neighbour", func() error {
			return update(ga, edit(map[string]any{}, geometryOf(`ST_Union(c.geom, ST_Intersection(n.geom, ST_Buffer(c.geom, 0.0008)))`, ga, gb)))
		}},
		{"grid shrinks, leaving unowned ground", func() error {
			return update(gb, edit(map[string]any{}, geometryOf(`ST_Buffer(c.geom, -0.0005)`, gb, gb)))
		}},
		{"grid moves to another community", func() error {
			return update(gb, edit(map[string]any{"parent_code": c}, ""))
		}},
		{"grid created over two others", func() error {
			e := edit(map[string]any{"code": ga[:12] + "901", "level": "grid", "name": "新网格", "parent_code": ga[:12]},
				geometryOf(`ST_Buffer(ST_ClosestPoint(c.geom, ST_Centroid(c.geom)), 0.001)`, ga, gb))
			_, err := units.Create(ctx, s, e, actor)
			return err
		}},
		{"grid retired", func() error {
			_, err := units.Retire(ctx, s, ga, units.AnyVersion, today, "京民发〔2026〕3号", false, actor)
			return err
		}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		id, err := runs.Ensure(ctx, p, today, analysis.Live)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if id != base {
			t.Fatalf("%s: run %d made, want run %d advanced", st.name, id, base)
		}
		full, err := analysis.Analyze(ctx, s, p, today, analysis.Live)
		if err != nil {
			t.Fatal(err)
		}
		compareRuns(t, s, st.name, base, full.RunID)
		if _, err := s.Primary().Exec(ctx, `DELETE FROM analysis_runs WHERE id = $1`, full.RunID); err != nil {
			t.Fatal(err)
		}
	}
	// The grid edits left grid zones of every kind they make.
	var kinds []string
	if err := s.Primary().QueryRow(ctx, `SELECT array_agg(DISTINCT kind ORDER BY kind) FROM zones WHERE run_id = $1
		AND (level = 'grid' OR kind = 'unowned') AND codes && $2`, base, []string{ga, gb, ga[:12], gb[:12]}).Scan(&kinds); err != nil {
		t.Fatal(err)
	}
	if strings.Join(kinds, " ") != "crosses_parent overlap unowned" {
		t.Errorf("grid zones after the edits: %v", kinds)
	}
	var advanced int
	if err := s.Primary().QueryRow(ctx, `SELECT advanced FROM analysis_runs WHERE id = $1`, base).Scan(&advanced); err != nil {
		t.Fatal(err)
	}
	if advanced != len(steps) {
		t.Errorf("run advanced %d times, want %d", advanced, len(steps))
	}
}

// compareRuns fails unless runs a and b hold the same results.
func compareRuns(t *testing.T, s *store.Store, step string, a, b int64) {
	t.Helper()
	ctx := context.Background()
	tables := map[string]string{
		"units": `SELECT code, level, households, population, counts_method, round(area_km2::numeric, 9), round(density::numeric, 6),
			round(household_density::numeric, 6), round(ratio_to_normal::numeric, 9), staff_min, staff_max,
			round(outside_share::numeric, 9), status, reasons, cand FROM analysis_units WHERE run_id = $1`,
		"zones": `SELECT id, kind, level, codes, part, round(area_m2::numeric, 3), households, population, ST_AsEWKB(ST_Normalize(geom))
			FROM zones WHERE run_id = $1`,
		"slivers": `SELECT kind, codes, part FROM analysis_slivers WHERE run_id = $1`,
	}
	for name, q := range tables {
		var diff int
		var sample *string
		if err := s.Primary().QueryRow(ctx, `WITH x AS ((`+q+` EXCEPT ALL `+replaceRun(q)+`) UNION ALL (`+replaceRun(q)+` EXCEPT ALL `+q+`))
			SELECT count(*), min(x::text) FROM x`, a, b).Scan(&diff, &sample); err != nil {
			t.Fatalf("%s: compare %s: %v", step, name, err)
		}
		if diff > 0 {
			t.Errorf("%s: %s differ in %d rows from a full run, e.g. %s", step, name, diff, *sample)
		}
	}
	var sa, sb analysis.Summary
	for _, x := range []struct {
		id  int64
		sum *analysis.Summary
	}{{a, &sa}, {b, &sb}} {
		var raw []byte
		if err := s.Primary().QueryRow(ctx, `SELECT summary FROM analysis_runs WHERE id = $1`, x.id).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, x.sum); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(sa, sb) {
		t.Errorf("%s: summary %+v, full run %+v", step, sa, sb)
	}
}

// replaceRun is q reading its second parameter.
func replaceRun(q string) string {
	return fmt.Sprint(q[:len(q)-len("$1")], "$2")
}
