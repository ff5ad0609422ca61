package plan_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/store"
)

const blockStreet = "110101001"

// pt is a building point at (x, y) in Rect's units with h households.
func pt(x, y float64, h int) string {
	return fmt.Sprintf(`{"type":"Feature","properties":{"households":%d,"population":%d},"geometry":{"type":"Point","coordinates":[%.6f,%.6f]}}`,
		h, h*2, 116.40+x*0.01, 39.90+y*0.01)
}

// road is a barrier line through (x, y) points in Rect's units.
func road(class string, xy ...float64) string {
	var cs []string
	for i := 0; i+1 < len(xy); i += 2 {
		cs = append(cs, fmt.Sprintf("[%.6f,%.6f]", 116.40+xy[i]*0.01, 39.90+xy[i+1]*0.01))
	}
	return pgtest.Feature(fmt.Sprintf(`{"class":%q}`, class), `{"type":"LineString","coordinates":[`+strings.Join(cs, ",")+`]}`)
}

// blockCity loads a street, its communities, building points and barriers.
func blockCity(t *testing.T, street string, comms, points, barriers []string) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	if _, err := importer.Import(ctx, s, pgtest.WriteFile(t, "s.geojson", pgtest.FC(pgtest.Feature(`{"code":"`+blockStreet+`","name":"甲街道"}`, street))),
		importer.Options{Level: boundaries.Street}); err != nil {
		t.Fatal(err)
	}
	if _, err := importer.Import(ctx, s, pgtest.WriteFile(t, "c.geojson", pgtest.FC(comms...)), importer.Options{
		Level: boundaries.Community, HouseholdsField: "hh"}); err != nil {
		t.Fatal(err)
	}
	if _, err := importer.Points(ctx, s, pgtest.WriteFile(t, "p.geojson", pgtest.FC(points...)), importer.PointsOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(barriers) > 0 {
		if _, err := importer.Barriers(ctx, s, pgtest.WriteFile(t, "b.geojson", pgtest.FC(barriers...)), importer.BarrierOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestPlanBlocksSplitAlongRoad: a community of 3,400 households cut by one
// slanted road, 1,700 on each side, splits along the road (all of the new
// boundary on it) with blocks, while straight cuts between the points
// follow it only by chance; without barriers auto falls back to cuts and
// says so.
func TestPlanBlocksSplitAlongRoad(t *testing.T) {
	var points []string
	for _, y := range []float64{0.2, 0.5, 0.8} {
		points = append(points, pt(0.2, y, 283), pt(0.45, y, 284), pt(1.3, y, 283), pt(1.7, y, 284))
	}
	comms := []string{pgtest.Comm(blockStreet+"001", pgtest.PolyOf(pgtest.Rect(0, 0, 2, 1)), 3400)}
	street := pgtest.PolyOf(pgtest.Rect(0, 0, 2, 1))
	slanted := road("secondary", 0.6, -0.2, 1.1, 1.2)
	cases := []struct {
		name     string
		barriers []string
		method   string
		wantOp   string  // the split's method
		minOn    float64 // boundary_on_barriers at least
		maxOn    float64 // and at most
		note     bool    // method_note says cuts
	}{
		{"blocks", []string{slanted}, plan.SplitBlocks, plan.MethodBlocks, 0.95, 1, false},
		{"auto with barriers", []string{slanted}, plan.SplitAuto, plan.MethodBlocks, 0.95, 1, false},
		{"cuts with barriers", []string{slanted}, plan.SplitCuts, plan.MethodStraight, 0, 0.5, false},
		{"auto without barriers", nil, plan.SplitAuto, plan.MethodStraight, -1, -1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := blockCity(t, street, comms, points, c.barriers)
			pl := pgtest.Plan(t, s, plan.Options{Street: blockStreet, Seed: 3, Method: c.method})
			if len(pl.Ops) != 1 || pl.Ops[0].Kind != "split" || pl.Ops[0].Method != c.wantOp || len(pl.Units) != 2 {
				t.Fatalf("ops %+v, %d units", pl.Ops, len(pl.Units))
			}
			if (pl.MethodNote != "") != c.note {
				t.Errorf("method note %q", pl.MethodNote)
			}
			for _, u := range pl.Units {
				if *u.Households != 1700 {
					t.Errorf("%s: %d households, want 1700", u.Code, *u.Households)
				}
				switch {
				case c.minOn < 0 && u.BoundaryOnBarriers != nil:
					t.Errorf("%s: boundary_on_barriers %v without barriers", u.Code, *u.BoundaryOnBarriers)
				case c.minOn >= 0 && (u.BoundaryOnBarriers == nil || *u.BoundaryOnBarriers < c.minOn || *u.BoundaryOnBarriers > c.maxOn):
					t.Errorf("%s: boundary_on_barriers %v, want %g–%g", u.Code, u.BoundaryOnBarriers, c.minOn, c.maxOn)
				}
			}
			if c.minOn >= 0 && (pl.BoundaryOnBarriers == nil || *pl.BoundaryOnBarriers < c.minOn || *pl.BoundaryOnBarriers > c.maxOn) {
				t.Errorf("plan boundary_on_barriers %v", pl.BoundaryOnBarriers)
			}
			t.Logf("%s: parts %v %v, boundary on barriers %v", c.name, *pl.Units[0].Households, *pl.Units[1].Households, fmtShare(pl.BoundaryOnBarriers))
			checkUnits(t, s, pl)
			checkCover(t, s, pl, blockStreet+"001")
		})
	}
	// Blocks asked for with no barriers: a clear error, no plan.
	s := blockCity(t, street, comms, points, nil)
	p, err := analysis.LoadProfile(analysis.DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Propose(context.Background(), s, p, plan.Options{Street: blockStreet, Method: plan.SplitBlocks}); err == nil ||
		!strings.Contains(err.Error(), "no barriers") {
		t.Errorf("blocks without barriers: %v", err)
	}
}

// checkCover: the plan's units that came from community code cover it
// exactly (PostGIS: the symmetric difference has no area) and do not
// overlap.
func checkCover(t *testing.T, s *store.Store, pl *plan.Plan, code string) {
	t.Helper()
	var gs []string
	for _, u := range pl.Units {
		gs = append(gs, string(u.Geometry))
	}
	var diff, overlap, perim float64
	if err := s.Primary().QueryRow(context.Background(), `WITH p AS (SELECT ST_GeomFromGeoJSON(g) AS g FROM unnest($1::text[]) g),
			c AS (SELECT geom FROM units WHERE code = $2 AND valid_to IS NULL)
		SELECT ST_Area(ST_SymDifference((SELECT ST_Union(g) FROM p), (SELECT geom FROM c))::geography),
			coalesce((SELECT sum(ST_Area(ST_Intersection(a.g, b.g)::geography)) FROM p a, p b WHERE a.g < b.g AND ST_Intersects(a.g, b.g)), 0),
			(SELECT ST_Perimeter(geom::geography) FROM c)`,
		gs, code).Scan(&diff, &overlap, &perim); err != nil {
		t.Fatal(err)
	}
	// The plan's geometries are rounded to 7 decimals (≈ 1 cm): up to
	// about a centimetre's strip along the boundary.
	if tol := max(1, perim*0.01); diff > tol || overlap > tol {
		t.Errorf("parts of %s: %.1f m² off the community, %.1f m² overlapping", code, diff, overlap)
	}
}

// TestPlanBlocksInfeasible: when the blocks cannot make parts within range
// (a road leaves 200 households on one side and 3,200 on the other), the
// plan says so with the partition's reason, naming the block.
func TestPlanBlocksInfeasible(t *testing.T) {
	points := []string{pt(0.1, 0.5, 200), pt(1.0, 0.3, 1600), pt(1.5, 0.7, 1600)}
	s := blockCity(t, pgtest.PolyOf(pgtest.Rect(0, 0, 2, 1)),
		[]string{pgtest.Comm(blockStreet+"001", pgtest.PolyOf(pgtest.Rect(0, 0, 2, 1)), 3400)}, points,
		[]string{road("secondary", 0.3, -0.2, 0.3, 1.2)})
	pl := pgtest.Plan(t, s, plan.Options{Street: blockStreet, Seed: 3, Method: plan.SplitBlocks})
	var reasons []string
	for _, is := range pl.Infeasible {
		reasons = append(reasons, is.Code+": "+is.Reason)
	}
	t.Logf("infeasible: %v", reasons)
	if len(reasons) == 0 || !strings.Contains(strings.Join(reasons, "\n"), "3,000") {
		t.Errorf("infeasible %v, want the block above the maximum 3,000 named", reasons)
	}
}

// TestPlanMergeAvoidsRiver: 300 households between 1,700 (west, across a
// river) and 1,000 (east, across an alley). Without barriers the merge takes
// the west neighbour (2,000, exactly normal); with the river it takes the
// east one, as another neighbour fits.
func TestPlanMergeAvoidsRiver(t *testing.T) {
	comms := []string{
		pgtest.Comm(blockStreet+"001", pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1)), 1700),
		pgtest.Comm(blockStreet+"002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 300),
		pgtest.Comm(blockStreet+"003", pgtest.PolyOf(pgtest.Rect(2, 0, 3, 1)), 1000),
	}
	points := []string{pt(0.5, 0.5, 1700), pt(1.5, 0.5, 300), pt(2.5, 0.5, 1000)}
	for _, c := range []struct {
		name     string
		barriers []string
		want     string
	}{
		{"no barriers", nil, blockStreet + "002+" + blockStreet + "001"},
		{"river west, alley east", []string{road("river", 1, -0.5, 1, 1.5), road("alley", 2, -0.5, 2, 1.5)}, blockStreet + "002+" + blockStreet + "003"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := blockCity(t, pgtest.PolyOf(pgtest.Rect(0, 0, 3, 1)), comms, points, c.barriers)
			pl := pgtest.Plan(t, s, plan.Options{Street: blockStreet, Seed: 1})
			if len(pl.Ops) != 1 || pl.Ops[0].Kind != "merge" || strings.Join(pl.Ops[0].From, "+") != c.want {
				t.Fatalf("ops %+v, want merge %s", pl.Ops, c.want)
			}
		})
	}
}

// TestPlanRebalanceStreet: a street of 200, 4,600 and 1,200 households
// (6,000: three communities' worth) on a grid of alleys is re-partitioned
// into three communities within range, each one piece, covering the street,
// keeping most households where they were; the plan reports how many moved.
func TestPlanRebalanceStreet(t *testing.T) {
	comms := []string{
		pgtest.Comm(blockStreet+"001", pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1)), 200),
		pgtest.Comm(blockStreet+"002", pgtest.PolyOf(pgtest.Rect(1, 0, 3, 1)), 4600),
		pgtest.Comm(blockStreet+"003", pgtest.PolyOf(pgtest.Rect(3, 0, 4, 1)), 1200),
	}
	var points, barriers []string
	for i := 0; i < 8; i++ {
		x := 0.25 + 0.5*float64(i)
		h := map[int]int{0: 100, 1: 100, 2: 1150, 3: 1150, 4: 1150, 5: 1150, 6: 600, 7: 600}[i]
		points = append(points, pt(x, 0.25, h/2), pt(x, 0.75, h-h/2))
	}
	for i := 1; i < 8; i++ {
		barriers = append(barriers, road("alley", 0.5*float64(i), -0.2, 0.5*float64(i), 1.2))
	}
	barriers = append(barriers, road("alley", -0.2, 0.5, 4.2, 0.5))
	s := blockCity(t, pgtest.PolyOf(pgtest.Rect(0, 0, 4, 1)), comms, points, barriers)
	pl := pgtest.Plan(t, s, plan.Options{Street: blockStreet, Seed: 5, Rebalance: plan.RebalanceStreet})
	if len(pl.Ops) != 1 || pl.Ops[0].Kind != "rebalance" || len(pl.Ops[0].To) != 3 {
		t.Fatalf("ops %+v", pl.Ops)
	}
	if pl.Remaining.Oversized+pl.Remaining.Undersized != 0 || len(pl.Infeasible) != 0 {
		t.Errorf("remaining %+v, infeasible %v", pl.Remaining, pl.Infeasible)
	}
	// At least the 1,600 households over 3,000 must move; far fewer than all.
	if m := pl.Ops[0].HouseholdsMoved; m < 1600 || m > 3000 {
		t.Errorf("households moved %d", m)
	}
	if pl.BoundaryOnBarriers == nil || *pl.BoundaryOnBarriers < 0.95 {
		t.Errorf("boundary on barriers %v", pl.BoundaryOnBarriers)
	}
	var total int64
	for _, u := range pl.Units {
		total += *u.Households
		t.Logf("%s %s: %d households, boundary on barriers %s", u.Code, u.Name, *u.Households, fmtShare(u.BoundaryOnBarriers))
	}
	t.Logf("moved %d households; %s", pl.Ops[0].HouseholdsMoved, pl.Ops[0].Note)
	if total != 6000 {
		t.Errorf("%d households in the street after, want 6000", total)
	}
	checkUnits(t, s, pl)
	checkCover(t, s, pl, blockStreet)
}

func fmtShare(v *float64) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprintf("%.3f", *v)
}

// TestPlanGapAlongBlocks: a gap between two communities with a road
// through its middle goes half to each, along the road; without the road
// it goes whole to one side.
func TestPlanGapAlongBlocks(t *testing.T) {
	comms := []string{
		pgtest.Comm(blockStreet+"001", pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1)), 1000),
		pgtest.Comm(blockStreet+"002", pgtest.PolyOf(pgtest.Rect(2, 0, 3, 1)), 1000),
	}
	points := []string{pt(0.5, 0.5, 1000), pt(2.5, 0.5, 1000)}
	for _, c := range []struct {
		name     string
		barriers []string
		want     []string // reassign receivers, in order
	}{
		{"no road", nil, []string{blockStreet + "001"}},
		{"road through the gap", []string{road("residential", 1.5, -0.2, 1.5, 1.2)}, []string{blockStreet + "001", blockStreet + "002"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := blockCity(t, pgtest.PolyOf(pgtest.Rect(0, 0, 3, 1)), comms, points, c.barriers)
			pl := pgtest.Plan(t, s, plan.Options{Street: blockStreet, Seed: 1})
			var got []string
			for _, op := range pl.Ops {
				if op.Kind == "reassign" && strings.HasPrefix(op.Zone, "gap") {
					got = append(got, op.To...)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") || pl.Remaining.Zones["gap"] != 0 {
				t.Fatalf("gap given to %v (want %v); ops %+v; remaining %v", got, c.want, pl.Ops, pl.Remaining.Zones)
			}
			// Each side grows by the share of the gap it took (0.5 or 1 of 0.01°²).
			for _, u := range pl.Units {
				var km2 float64
				if err := s.Primary().QueryRow(context.Background(), `SELECT ST_Area(ST_GeomFromGeoJSON($1)::geography) / 1e6`, string(u.Geometry)).Scan(&km2); err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %.3f km²", u.Code, km2)
			}
			checkUnits(t, s, pl)
		})
	}
}
