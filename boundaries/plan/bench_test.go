package plan_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/plan"
)

// BenchmarkPlanBeijing plans every street of the beijing demo with each
// split method, side by side on one database, and reports the comparison
// of BENCHMARKS.md: the split parts' deviation from normal households
// (max, mean of |h − normal| / normal), their mean Polsby-Popper, the new
// split boundaries' share on barriers, households moved, communities left
// oversized and infeasible, and seconds (block building included).
//
//	JIEDAO_BENCH=1 go test ./boundaries/plan -run '^$' -bench PlanBeijing -benchtime 1x
func BenchmarkPlanBeijing(b *testing.B) {
	pgtest.BenchGate(b)
	ctx := context.Background()
	s, _ := pgtest.NewStore(b)
	if _, err := importer.LoadDemo(ctx, s, pgtest.DemoFiles(b, demo.Beijing), nil); err != nil {
		b.Fatal(err)
	}
	p, err := analysis.LoadProfile(analysis.DefaultProfile)
	if err != nil {
		b.Fatal(err)
	}
	var barriers bool
	if err := s.Primary().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM barriers)`).Scan(&barriers); err != nil {
		b.Fatal(err)
	}
	methods := []string{plan.SplitCuts}
	if barriers {
		methods = append(methods, plan.SplitBlocks, plan.SplitAuto)
	}
	for _, m := range methods {
		b.Run(m, func(b *testing.B) {
			var pl *plan.Plan
			t0 := time.Now()
			for range b.N {
				if pl, err = plan.Propose(ctx, s, p, plan.Options{All: true, Seed: 1, Method: m}); err != nil {
					b.Fatal(err)
				}
			}
			reportPlan(b, pl, time.Since(t0).Seconds()/float64(b.N))
		})
	}
}

func reportPlan(b *testing.B, pl *plan.Plan, seconds float64) {
	var n int
	var maxDev, sumDev, sumPP float64
	for _, u := range pl.Units {
		if u.Op != "split" || u.Deviation == nil {
			continue
		}
		d := math.Abs(*u.Deviation)
		n, maxDev, sumDev, sumPP = n+1, max(maxDev, d), sumDev+d, sumPP+u.PolsbyPopper
	}
	on := -1.0
	if pl.BoundaryOnBarriers != nil {
		on = *pl.BoundaryOnBarriers
	}
	b.ReportMetric(float64(n), "parts")
	b.ReportMetric(maxDev, "max-dev")
	b.ReportMetric(sumDev/max(1, float64(n)), "mean-dev")
	b.ReportMetric(sumPP/max(1, float64(n)), "mean-PP")
	b.ReportMetric(on, "on-barriers")
	b.ReportMetric(float64(pl.HouseholdsMoved), "hh-moved")
	b.ReportMetric(float64(pl.Remaining.Oversized), "oversized-left")
	b.ReportMetric(float64(len(pl.Infeasible)), "infeasible")
	b.ReportMetric(seconds, "s/plan")
	b.ReportMetric(0, "ns/op")
}
