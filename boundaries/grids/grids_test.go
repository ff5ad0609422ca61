package grids_test

import (
	"context"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/grids"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/store"
)

const beixinqiao = "110101005"

// beixinqiaoWithPoints imports the real Beixinqiao street (skipped when
// ../shared/data is absent) and places synthetic building points in every
// community in proportion to its households, one per ~100, as the plan's
// test does.
func beixinqiaoWithPoints(t *testing.T) *store.Store {
	t.Helper()
	s, _ := pgtest.NewStore(t)
	pgtest.ImportBeixinqiao(t, s)
	pgtest.BuildingPoints(t, s)
	return s
}

func profile(t testing.TB) *analysis.Profile {
	t.Helper()
	p, err := analysis.LoadProfile("beijing-2020")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func propose(t testing.TB, s *store.Store, opt grids.Options) *plan.Plan {
	t.Helper()
	pl, err := grids.Propose(context.Background(), s, profile(t), opt)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// loadPlanGrids copies a plan's grid units into the temp-like table
// test_grids (code, parent, households, geom) for PostGIS checks.
func loadPlanGrids(t *testing.T, s *store.Store, pl *plan.Plan) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Primary().Exec(ctx, `DROP TABLE IF EXISTS test_grids; CREATE TABLE test_grids (code text, parent text, households int, geom geometry)`); err != nil {
		t.Fatal(err)
	}
	for _, u := range pl.Units {
		if _, err := s.Primary().Exec(ctx, `INSERT INTO test_grids VALUES ($1, $2, $3, ST_SetSRID(ST_GeomFromGeoJSON($4), 4326))`,
			u.Code, u.ParentCode, u.Households, string(u.Geometry)); err != nil {
			t.Fatal(err)
		}
	}
}

// checkTiling asserts, in PostGIS, that the grids of table (code,
// parent, geom) tile each community of the street: their union is the
// community (symmetric difference under 1e-6 of its area) and no two
// overlap (under 0.01 m² in all).
func checkTiling(t *testing.T, s *store.Store, table string) {
	t.Helper()
	ctx := context.Background()
	rows, err := s.Primary().Query(ctx, `SELECT c.code, count(g.code), ST_Area(c.geom::geography),
			coalesce(ST_Area(ST_SymDifference(c.geom, ST_Union(g.geom))::geography), ST_Area(c.geom::geography))
		FROM units c LEFT JOIN `+table+` g ON g.parent = c.code
		WHERE c.level = 'community' AND c.valid_to IS NULL GROUP BY c.code, c.geom ORDER BY c.code`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		var n int
		var area, diff float64
		if err := rows.Scan(&code, &n, &area, &diff); err != nil {
			t.Fatal(err)
		}
		if n == 0 || diff > 1e-6*area {
			t.Errorf("community %s: %d grids, union differs from it by %.3f m² of %.0f", code, n, diff, area)
		}
	}
	var overlap float64
	if err := s.Primary().QueryRow(ctx, `SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0)
		FROM `+table+` a JOIN `+table+` b ON a.code < b.code AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)`).Scan(&overlap); err != nil {
		t.Fatal(err)
	}
	if overlap > 0.01 {
		t.Errorf("grids overlap by %.3f m²", overlap)
	}
}

// checkOrder asserts a community's grid codes follow OrderRule, computed
// here from the label points PostGIS gives.
func checkOrder(t *testing.T, s *store.Store, table string) {
	t.Helper()
	rows, err := s.Primary().Query(context.Background(), `SELECT parent, code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)),
		ST_YMax(geom) - ST_YMin(geom), ST_YMax(geom) FROM `+table+` ORDER BY parent, code`)
	if err != nil {
		t.Fatal(err)
	}
	type g struct {
		code       string
		x, y, h, n float64
	}
	by := map[string][]g{}
	for rows.Next() {
		var p string
		var x g
		if err := rows.Scan(&p, &x.code, &x.x, &x.y, &x.h, &x.n); err != nil {
			t.Fatal(err)
		}
		by[p] = append(by[p], x)
	}
	rows.Close()
	for p, gs := range by {
		hs := make([]float64, len(gs))
		top := math.Inf(-1)
		for i, x := range gs {
			hs[i], top = x.h, math.Max(top, x.n)
		}
		sort.Float64s(hs)
		med := hs[len(hs)/2]
		if len(hs)%2 == 0 {
			med = (hs[len(hs)/2-1] + hs[len(hs)/2]) / 2
		}
		row := func(x g) float64 { return math.Floor((top - x.y) / med) }
		for i := 1; i < len(gs); i++ {
			a, b := gs[i-1], gs[i]
			if row(a) > row(b) || row(a) == row(b) && a.x > b.x {
				t.Errorf("community %s: %s (row %.0f, lon %.6f) is numbered before %s (row %.0f, lon %.6f)", p, a.code, row(a), a.x, b.code, row(b), b.x)
			}
		}
	}
}

// TestGenerateBeixinqiao cuts every real Beixinqiao community into grids.
func TestGenerateBeixinqiao(t *testing.T) {
	s := beixinqiaoWithPoints(t)
	pl := propose(t, s, grids.Options{Street: beixinqiao, Seed: 1})
	if len(pl.Units) < 50 {
		t.Fatalf("%d grids for 12 communities of ~24,000 households, want ~60", len(pl.Units))
	}
	comms := map[string]int{}
	for _, u := range pl.Units {
		comms[u.ParentCode]++
		if u.Level != boundaries.Grid {
			t.Errorf("%s: level %q", u.Code, u.Level)
		}
		if !strings.HasPrefix(u.Code, u.ParentCode) || len(u.Code) != len(u.ParentCode)+3 {
			t.Errorf("grid %s of %s: want the community's code and 3 digits", u.Code, u.ParentCode)
		}
		if !u.Provisional && len(u.Code) != 15 {
			t.Errorf("grid %s: want 15 digits", u.Code)
		}
		if u.Households == nil || *u.Households < 300 || *u.Households > 500 {
			if len(u.Reasons) == 0 {
				t.Errorf("grid %s has %v households and no reason", u.Code, u.Households)
			}
		}
	}
	if len(comms) != 12 {
		t.Errorf("grids in %d communities, want 12", len(comms))
	}
	loadPlanGrids(t, s, pl)
	checkTiling(t, s, "test_grids")
	checkOrder(t, s, "test_grids")
	t.Logf("%d grids, %d out of range: %+v", len(pl.Units), len(pl.Infeasible), pl.Infeasible)
}
