package analysis_test

import (
	"context"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// BenchmarkAnalyze measures a full analysis (measures, statuses, zones).
func BenchmarkAnalyze(b *testing.B) {
	pgtest.BenchGate(b)
	for _, scale := range []demo.Scale{demo.Small, demo.Beijing} {
		b.Run(string(scale), func(b *testing.B) {
			dir := pgtest.DemoFiles(b, scale)
			ctx := context.Background()
			s, _ := pgtest.NewStore(b)
			if _, err := importer.LoadDemo(ctx, s, dir, nil); err != nil {
				b.Fatal(err)
			}
			p, err := analysis.LoadProfile("")
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := analysis.Analyze(ctx, s, p, boundaries.Today(), analysis.Live); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
