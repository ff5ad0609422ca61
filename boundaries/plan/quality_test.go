package plan_test

import (
	"context"
	"math"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/store"
)

// TestPlanSplitQuality plans a whole city (a loaded database, by default
// the beijing-scale bench database) and compares the quality of its splits
// with a simple baseline on the same communities in the same run:
// straight-line recursive bisection (cut the community's bounding box
// along its longer side where the building points' households split
// ⌊k/2⌋:⌈k/2⌉; parts are the community clipped to the boxes). It reports
// the time, max and mean |deviation from normal| and mean Polsby-Popper of
// both. Skipped unless JIEDAO_BENCH is set (JIEDAO_BENCH_DB chooses the
// database).
func TestPlanSplitQuality(t *testing.T) {
	if os.Getenv("JIEDAO_BENCH") == "" {
		t.Skip("set JIEDAO_BENCH to plan a whole city and compare split quality")
	}
	url := os.Getenv("JIEDAO_BENCH_DB")
	if url == "" {
		t.Skip("set JIEDAO_BENCH_DB to a database holding the beijing demo (jiedao demo --scale beijing)")
	}
	ctx := context.Background()
	s, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := analysis.LoadProfile("beijing-2020")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	pl, err := plan.Propose(ctx, s, p, plan.Options{All: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(t0)
	normal := p.Community.NormalHouseholds.Float()
	units := map[string]plan.Unit{}
	for _, u := range pl.Units {
		units[u.Code] = u
	}

	// Planned parts, and the data for the baseline: every split's parts
	// (their union is the community as the split saw it) and households.
	type q struct {
		n            int
		maxDev, sumD float64
		sumPP        float64
	}
	var plan, base q
	tx, err := s.Primary().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE qp (orig text, code text, gj text); CREATE TEMP TABLE qb (orig text, part int, x0 float8, y0 float8, x1 float8, y1 float8)`); err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	total := map[string]int64{}
	kOf := map[string]int{}
	for _, op := range pl.Ops {
		if op.Kind != "split" {
			continue
		}
		orig := op.From[0]
		kOf[orig] = len(op.To)
		for _, cd := range op.To {
			u, ok := units[cd]
			if !ok {
				continue
			}
			rows = append(rows, []any{orig, cd, string(u.Geometry)})
			if u.Households != nil {
				total[orig] += *u.Households
			}
			if u.Deviation != nil {
				d := math.Abs(*u.Deviation)
				plan.n++
				plan.maxDev = max(plan.maxDev, d)
				plan.sumD += d
				plan.sumPP += u.PolsbyPopper
			}
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"qp"}, []string{"orig", "code", "gj"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE qo AS SELECT orig, ST_Union(ST_GeomFromGeoJSON(gj)) AS g FROM qp GROUP BY orig;
		ALTER TABLE qo ALTER g TYPE geometry USING ST_SetSRID(g, 4326); CREATE INDEX ON qo USING gist (g); ANALYZE qo`); err != nil {
		t.Fatal(err)
	}
	type pt struct{ x, y, w float64 }
	pts := map[string][]pt{}
	bbox := map[string][4]float64{}
	r, err := tx.Query(ctx, `SELECT o.orig, ST_X(p.geom), ST_Y(p.geom), p.households FROM qo o JOIN points p ON ST_Intersects(o.g, p.geom) AND p.households > 0
		ORDER BY o.orig, ST_X(p.geom), ST_Y(p.geom)`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var o string
		var x pt
		if err := r.Scan(&o, &x.x, &x.y, &x.w); err != nil {
			t.Fatal(err)
		}
		pts[o] = append(pts[o], x)
	}
	r.Close()
	r, err = tx.Query(ctx, `SELECT orig, ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g) FROM qo`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var o string
		var b [4]float64
		if err := r.Scan(&o, &b[0], &b[1], &b[2], &b[3]); err != nil {
			t.Fatal(err)
		}
		bbox[o] = b
	}
	r.Close()
	// Straight-line bisection of the points; each leaf is a box.
	type leaf struct {
		box [4]float64
		w   float64
	}
	var cut func(ps []pt, box [4]float64, k int) []leaf
	cut = func(ps []pt, box [4]float64, k int) []leaf {
		var w float64
		for _, x := range ps {
			w += x.w
		}
		if k <= 1 || len(ps) <= 1 {
			return []leaf{{box, w}}
		}
		byX := (box[2]-box[0])*math.Cos((box[1]+box[3])/2*math.Pi/180) >= box[3]-box[1]
		ps = append([]pt(nil), ps...)
		sort.SliceStable(ps, func(i, j int) bool {
			if byX {
				return ps[i].x < ps[j].x
			}
			return ps[i].y < ps[j].y
		})
		k1 := k / 2
		target := w * float64(k1) / float64(k)
		best, bestD, pre := 1, math.Inf(1), 0.0
		for i := 1; i < len(ps); i++ {
			pre += ps[i-1].w
			if d := math.Abs(pre - target); d < bestD {
				best, bestD = i, d
			}
		}
		a, b := box, box
		if byX {
			c := (ps[best-1].x + ps[best].x) / 2
			a[2], b[0] = c, c
		} else {
			c := (ps[best-1].y + ps[best].y) / 2
			a[3], b[1] = c, c
		}
		return append(cut(ps[:best], a, k1), cut(ps[best:], b, k-k1)...)
	}
	var brow [][]any
	skipped := 0
	for o, k := range kOf {
		ps := pts[o]
		if len(ps) < k {
			skipped++
			continue
		}
		b := bbox[o]
		b = [4]float64{b[0] - 1e-6, b[1] - 1e-6, b[2] + 1e-6, b[3] + 1e-6}
		leaves := cut(ps, b, k)
		var wsum float64
		for _, l := range leaves {
			wsum += l.w
		}
		for i, l := range leaves {
			brow = append(brow, []any{o, int32(i), l.box[0], l.box[1], l.box[2], l.box[3]})
			if wsum > 0 && normal > 0 {
				h := float64(total[o]) * l.w / wsum
				d := math.Abs(h-normal) / normal
				base.n++
				base.maxDev = max(base.maxDev, d)
				base.sumD += d
			}
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"qb"}, []string{"orig", "part", "x0", "y0", "x1", "y1"}, pgx.CopyFromRows(brow)); err != nil {
		t.Fatal(err)
	}
	var ppSum float64
	var ppN, multi int
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(pp), 0), count(*), count(*) FILTER (WHERE n > 1) FROM (
			SELECT coalesce(4 * pi() * ST_Area(g::geography) / nullif(ST_Perimeter(g::geography) ^ 2, 0), 0) AS pp,
				ST_NumGeometries(ST_UnaryUnion(g)) AS n FROM (
				SELECT ST_CollectionExtract(ST_Intersection(o.g, ST_MakeEnvelope(b.x0, b.y0, b.x1, b.y1, 4326)), 3) AS g
				FROM qb b JOIN qo o USING (orig)) x) y`).Scan(&ppSum, &ppN, &multi); err != nil {
		t.Fatal(err)
	}
	base.sumPP = ppSum
	mean := func(s float64, n int) float64 {
		if n == 0 {
			return 0
		}
		return s / float64(n)
	}
	t.Logf("plan --all: %.1f s, %d operations, %d splits", elapsed.Seconds(), len(pl.Ops), len(kOf))
	t.Logf("split parts, planned (straight cuts, fallbacks): %d parts, max |deviation| %.3f, mean |deviation| %.3f, mean Polsby-Popper %.3f",
		plan.n, plan.maxDev, mean(plan.sumD, plan.n), mean(plan.sumPP, plan.n))
	t.Logf("split parts, baseline (straight-line bisection): %d parts, max |deviation| %.3f, mean |deviation| %.3f, mean Polsby-Popper %.3f; %d parts in more than one piece (not tidied); %d communities with too few points skipped",
		base.n, base.maxDev, mean(base.sumD, base.n), mean(base.sumPP, ppN), multi, skipped)
}
