package grids_test

import (
	"context"
	"testing"
	"time"

	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/grids"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// BenchmarkGenerateBeijing generates the grids of every community of the
// beijing demo (goal: under 60 s), with its barriers and building points,
// and reports grids, grids out of range and seconds.
//
//	JIEDAO_BENCH=1 go test ./boundaries/grids -run '^$' -bench GenerateBeijing -benchtime 1x
func BenchmarkGenerateBeijing(b *testing.B) {
	pgtest.BenchGate(b)
	ctx := context.Background()
	s, _ := pgtest.NewStore(b)
	if _, err := importer.LoadDemo(ctx, s, pgtest.DemoFiles(b, demo.Beijing), nil); err != nil {
		b.Fatal(err)
	}
	// The demo comes with grids for part of the city: without them, every
	// community is cut.
	if _, err := s.Primary().Exec(ctx, `DELETE FROM units WHERE level = 'grid'`); err != nil {
		b.Fatal(err)
	}
	var comms int
	if err := s.Primary().QueryRow(ctx, `SELECT count(*) FROM units c WHERE c.level = 'community' AND c.valid_to IS NULL`).Scan(&comms); err != nil {
		b.Fatal(err)
	}
	p := profile(b)
	var n, out int
	t0 := time.Now()
	for range b.N {
		pl, err := grids.Propose(ctx, s, p, grids.Options{All: true, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		n, out = len(pl.Units), len(pl.Infeasible)
	}
	b.ReportMetric(float64(comms), "communities")
	b.ReportMetric(float64(n), "grids")
	b.ReportMetric(float64(out), "out-of-range")
	b.ReportMetric(time.Since(t0).Seconds()/float64(b.N), "s/generate")
	b.ReportMetric(0, "ns/op")
}
