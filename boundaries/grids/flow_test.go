package grids_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/grids"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// adoptPlan stores a plan document as a scenario and adopts it today.
func adoptPlan(t *testing.T, s *store.Store, name string, pl *plan.Plan) *scenario.AdoptResult {
	t.Helper()
	ctx := context.Background()
	var b bytes.Buffer
	if err := plan.WriteGeoJSON(&b, pl); err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.CreateFromPlan(ctx, s, name, pl.Profile, pl.Summary(0), b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	res, err := scenario.Adopt(ctx, s, sc.ID, "东政函〔2026〕"+name, boundaries.Today(), units.Actor{KeyName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// liveGrids copies the live grids into test_grids (code, parent,
// households, geom).
func liveGrids(t *testing.T, s *store.Store) int {
	t.Helper()
	var n int
	if err := s.Primary().QueryRow(context.Background(), `DROP TABLE IF EXISTS test_grids;
		CREATE TABLE test_grids AS SELECT code, parent_code AS parent, households, geom FROM units WHERE level = 'grid' AND valid_to IS NULL;
		SELECT count(*) FROM test_grids`).Scan(&n); err != nil {
		// Several statements return no row through the extended protocol.
		if _, err := s.Primary().Exec(context.Background(), `DROP TABLE IF EXISTS test_grids;
			CREATE TABLE test_grids AS SELECT code, parent_code AS parent, households, geom FROM units WHERE level = 'grid' AND valid_to IS NULL`); err != nil {
			t.Fatal(err)
		}
		if err := s.Primary().QueryRow(context.Background(), `SELECT count(*) FROM test_grids`).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// TestGridsFlow generates the grids of every Beixinqiao community, adopts
// them, edits and renumbers one community, and follows a scenario that
// splits 民安.
func TestGridsFlow(t *testing.T) {
	ctx := context.Background()
	s := beixinqiaoWithPoints(t)
	pl := propose(t, s, grids.Options{All: true, Seed: 1})
	res := adoptPlan(t, s, "grids", pl)
	if len(res.Grids.Created) != len(pl.Units) || len(res.Grids.Updated)+len(res.Grids.Retired)+len(res.Created) != 0 {
		t.Fatalf("adopted %+v; plan has %d grids", res, len(pl.Units))
	}
	if n := liveGrids(t, s); n != len(pl.Units) {
		t.Fatalf("%d live grids, want %d", n, len(pl.Units))
	}
	checkTiling(t, s, "test_grids")
	checkOrder(t, s, "test_grids")
	var issued int
	if err := s.Primary().QueryRow(ctx, `SELECT count(*) FROM grid_codes`).Scan(&issued); err != nil || issued != len(pl.Units) {
		t.Fatalf("grid_codes has %d codes (%v), want %d", issued, err, len(pl.Units))
	}
	// Communities that have grids are left out of --all, so a second
	// generation proposes nothing.
	if again := propose(t, s, grids.Options{All: true, Seed: 1}); len(again.Units) != 0 {
		t.Errorf("second generation proposed %d grids", len(again.Units))
	}
	t.Run("renumber", func(t *testing.T) { renumberFlow(t, s) })
	t.Run("follow", func(t *testing.T) { followMinan(t, s) })
}

// communityGrids lists a community's live grids in numbering order (by
// the test's own reading of the rule, checkOrder) and by code.
func communityGrids(t *testing.T, s *store.Store, community string) []string {
	t.Helper()
	rows, err := s.Primary().Query(context.Background(), `SELECT code FROM units WHERE level = 'grid' AND valid_to IS NULL AND parent_code = $1 ORDER BY code`, community)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	rows.Close()
	return out
}

// mergeGrids is a grid plan merging two live grids of a community into one
// new grid under code.
func mergeGrids(t *testing.T, s *store.Store, community, code string, a, b string) *plan.Plan {
	t.Helper()
	var gj string
	var h int64
	var va, vb int64
	if err := s.Primary().QueryRow(context.Background(), `SELECT ST_AsGeoJSON(ST_Union(geom), 15), sum(households)::bigint,
			max(version_id) FILTER (WHERE code = $1), max(version_id) FILTER (WHERE code = $2)
		FROM units WHERE valid_to IS NULL AND code IN ($1, $2)`, a, b).Scan(&gj, &h, &va, &vb); err != nil {
		t.Fatal(err)
	}
	return &plan.Plan{Profile: "beijing-2020", Units: []plan.Unit{{Code: code, Name: "合并网格", Level: boundaries.Grid, ParentCode: community,
		Households: &h, Geometry: []byte(gj), Replaces: []string{a, b}, Reasons: []string{}}},
		Removed: []units.Base{{Code: a, BaseVersion: &va}, {Code: b, BaseVersion: &vb}}, Ops: []plan.Op{}, Infeasible: []plan.Issue{}}
}

// renumberFlow: renumbering grids already in order changes nothing; an
// edit merging the last two grids takes the next free number and keeps
// the order, so renumbering still changes nothing; a retired code is
// refused; a merge of the first two puts a high number in front, and
// renumbering gives the grids after the in-order prefix new codes, none
// issued before, increasing along the order.
func renumberFlow(t *testing.T, s *store.Store) {
	ctx := context.Background()
	const c = "110101005001" // 海运仓, 2,613 households
	p := profile(t)
	if pl, err := grids.Renumber(ctx, s, p, c, boundaries.Today()); err != nil {
		t.Fatal(err)
	} else if len(pl.Units) != 0 {
		t.Fatalf("renumber of grids in order moved %d", len(pl.Units))
	}
	gs := communityGrids(t, s, c)
	n := len(gs)
	if n < 5 {
		t.Fatalf("%s has %d grids", c, n)
	}
	adoptPlan(t, s, "merge-last", mergeGrids(t, s, c, grids.Code(c, n+1), gs[n-2], gs[n-1]))
	if pl, err := grids.Renumber(ctx, s, p, c, boundaries.Today()); err != nil {
		t.Fatal(err)
	} else if len(pl.Units) != 0 {
		t.Fatalf("renumber after merging the last two moved %d", len(pl.Units))
	}
	// A grid under a retired code is refused at adoption.
	reuse := mergeGrids(t, s, c, gs[n-1], gs[0], gs[1])
	reuse.Removed = nil
	var b bytes.Buffer
	if err := plan.WriteGeoJSON(&b, reuse); err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.CreateFromPlan(ctx, s, "reuse", "beijing-2020", nil, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scenario.Adopt(ctx, s, sc.ID, "x", boundaries.Today(), units.Actor{KeyName: "test"}); !errors.Is(err, boundaries.ErrConflict) {
		t.Fatalf("adopting a grid under the retired code %s: %v", gs[n-1], err)
	}
	adoptPlan(t, s, "merge-first", mergeGrids(t, s, c, grids.Code(c, n+2), gs[0], gs[1]))
	before := communityGrids(t, s, c)
	pl, err := grids.Renumber(ctx, s, p, c, boundaries.Today())
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Units) == 0 || len(pl.Units) >= len(before) {
		t.Fatalf("renumber moved %d of %d grids: the first keeps its code, and %s is out of order", len(pl.Units), len(before), grids.Code(c, n+2))
	}
	var issued []string
	rows, err := s.Primary().Query(ctx, `SELECT code FROM grid_codes`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var code string
		if err := rows.Scan(&code); err != nil {
			t.Fatal(err)
		}
		issued = append(issued, code)
	}
	rows.Close()
	for i, u := range pl.Units {
		if slices.Contains(issued, u.Code) {
			t.Errorf("renumber reuses %s", u.Code)
		}
		if want := grids.Code(c, n+3+i); u.Code != want || len(u.Replaces) != 1 {
			t.Errorf("renumbered %v → %s, want %s", u.Replaces, u.Code, want)
		}
	}
	res := adoptPlan(t, s, "renumber", pl)
	if len(res.Grids.Created) != len(pl.Units) || len(res.Grids.Retired) != len(pl.Units) || len(res.ReplacedBy) != len(pl.Units) {
		t.Errorf("renumber adopted: %+v", res)
	}
	after := communityGrids(t, s, c)
	kept := 0
	for _, code := range after {
		if slices.Contains(before, code) {
			kept++
		}
	}
	if len(after) != len(before) || kept != len(before)-len(pl.Units) {
		t.Errorf("before %v, after %v", before, after)
	}
	liveGrids(t, s)
	checkOrder(t, s, "test_grids")
	for _, u := range pl.Units {
		var by []string
		if err := s.Primary().QueryRow(ctx, `SELECT replaced_by FROM grid_codes WHERE code = $1`, u.Replaces[0]).Scan(&by); err != nil || !slices.Equal(by, []string{u.Code}) {
			t.Errorf("%s replaced by %v (%v), want %s", u.Replaces[0], by, err, u.Code)
		}
	}
	t.Logf("%s: %d grids, %d kept their codes; renumbered %v", c, len(after), kept, res.ReplacedBy)
}

// followMinan splits 民安 (3,523 households) by a plan of its street and
// checks the scenario proposes grids for both parts: kept, re-coded or
// regenerated, covering each part, with old → new codes in the diff.
func followMinan(t *testing.T, s *store.Store) {
	ctx := context.Background()
	const minan = "110101005006"
	old := communityGrids(t, s, minan)
	pl := pgtest.Plan(t, s, plan.Options{Street: beixinqiao, Seed: 1})
	var part string
	for _, u := range pl.Units {
		if u.Provisional && strings.HasPrefix(u.Code, "P"+beixinqiao) {
			part = u.Code
		}
	}
	if part == "" {
		t.Fatalf("the plan does not split 民安: %+v", pl.Ops)
	}
	sc, err := scenario.Create(ctx, s, "民安拆分", pl.Profile, pl.Summary(0), pgtest.ScenarioUnits(t, pl), pgtest.ScenarioRemoved(t, pl))
	if err != nil {
		t.Fatal(err)
	}
	d, err := scenario.Difference(ctx, s, pgtest.Runs(s), sc.ID, profile(t), boundaries.Today())
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]string{}
	var lines []string
	for _, g := range d.Grids {
		lines = append(lines, fmt.Sprintf("%s %v → %s (%s)", g.Change, g.Old, g.New, g.Community))
		if g.New != "" {
			by[g.Community] = append(by[g.Community], g.New)
			if !strings.HasPrefix(g.New, g.Community) {
				t.Errorf("grid %s is not under its community %s", g.New, g.Community)
			}
		}
		for _, o := range g.Old {
			if g.Change != "kept" && g.Change != "changed" && !slices.Contains(old, o) {
				t.Errorf("%s replaces %s, not a grid of 民安", g.New, o)
			}
		}
	}
	if len(by[minan]) == 0 || len(by[part]) == 0 {
		t.Fatalf("grids by community %v; want grids for %s and %s:\n%s", by, minan, part, strings.Join(lines, "\n"))
	}
	// The scenario's grids (live ones it keeps, and its own) tile both parts.
	if _, err := s.Primary().Exec(ctx, `DROP TABLE IF EXISTS test_grids; DROP TABLE IF EXISTS test_parts;
		CREATE TABLE test_grids AS SELECT code, parent_code AS parent, households, geom FROM (`+scenario.UnitsSQL(fmt.Sprint(sc.ID), "current_date")+`) u
			WHERE level = 'grid' AND parent_code IN ('`+minan+`', '`+part+`')`); err != nil {
		t.Fatal(err)
	}
	checkScenarioTiling(t, s, sc.ID, []string{minan, part})
	t.Logf("民安 → %s + %s; grids:\n%s", minan, part, strings.Join(lines, "\n"))
	res, err := scenario.Adopt(ctx, s, sc.ID, "东政函〔2026〕民安", boundaries.Today(), units.Actor{KeyName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if got := communityGrids(t, s, part); len(got) != len(by[part]) {
		t.Errorf("after adoption %s has grids %v, want %v (%+v)", part, got, by[part], res)
	}
}

// checkScenarioTiling checks test_grids against communities of scenario
// id: each union equals its community, no overlaps.
func checkScenarioTiling(t *testing.T, s *store.Store, id int64, codes []string) {
	t.Helper()
	for _, c := range codes {
		var n int
		var area, diff float64
		if err := s.Primary().QueryRow(context.Background(), `SELECT count(g.code), ST_Area(c.geom::geography),
				ST_Area(ST_SymDifference(c.geom, ST_Union(g.geom))::geography)
			FROM (`+scenario.UnitsSQL("$1", "current_date")+`) c JOIN test_grids g ON g.parent = c.code WHERE c.code = $2 GROUP BY c.geom`, id, c).Scan(&n, &area, &diff); err != nil {
			t.Fatal(err)
		}
		// Kept grids follow the live boundary, the plan's parts are
		// rounded to 7 decimals (~1 cm): a few m² at most.
		if diff > 1e-4*area {
			t.Errorf("community %s: %d grids, union differs by %.2f m² of %.0f", c, n, diff, area)
		}
	}
	var overlap float64
	if err := s.Primary().QueryRow(context.Background(), `SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0)
		FROM test_grids a JOIN test_grids b ON a.code < b.code AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)`).Scan(&overlap); err != nil {
		t.Fatal(err)
	}
	if overlap > 1 {
		t.Errorf("the scenario's grids overlap by %.2f m²", overlap)
	}
}
