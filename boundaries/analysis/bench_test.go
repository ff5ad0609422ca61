package analysis_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
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

// BenchmarkAdvance measures the incremental analysis after an edit of one
// community (its households, alternating), beside a full analysis of the
// same units (the full-s metric). Small and beijing are loaded fresh; with
// JIEDAO_BENCH_DB set (a database loaded by scripts/bench-national.sh) it
// runs there too, as "db".
//
//	JIEDAO_BENCH=1 go test ./boundaries/analysis -run '^$' -bench Advance -benchtime 10x
func BenchmarkAdvance(b *testing.B) {
	pgtest.BenchGate(b)
	cases := []struct{ name, url string }{{string(demo.Small), ""}, {string(demo.Beijing), ""}}
	if u := os.Getenv("JIEDAO_BENCH_DB"); u != "" {
		cases = append(cases, struct{ name, url string }{"db", u})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			var s *store.Store
			if c.url == "" {
				s, _ = pgtest.NewStore(b)
				if _, err := importer.LoadDemo(ctx, s, pgtest.DemoFiles(b, demo.Scale(c.name)), nil); err != nil {
					b.Fatal(err)
				}
			} else {
				var err error
				if s, err = store.Open(ctx, c.url); err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				if err := s.Migrate(ctx); err != nil {
					b.Fatal(err)
				}
			}
			p, err := analysis.LoadProfile("")
			if err != nil {
				b.Fatal(err)
			}
			today := boundaries.Today()
			t0 := time.Now()
			full, err := analysis.Analyze(ctx, s, p, today, analysis.Live)
			if err != nil {
				b.Fatal(err)
			}
			fullSeconds := time.Since(t0).Seconds()
			var code string
			if err := s.Primary().QueryRow(ctx, `SELECT code FROM units WHERE level = 'community' AND valid_to IS NULL
				ORDER BY code LIMIT 1 OFFSET (SELECT count(*) / 2 FROM units WHERE level = 'community' AND valid_to IS NULL)`).Scan(&code); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e, err := units.ParseFeature([]byte(fmt.Sprintf(`{"type":"Feature","geometry":null,"properties":{"households":%d,
					"approval":"bench","valid_from":%q}}`, 2000+i%2*1500, today.Format("2006-01-02"))))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := units.Update(ctx, s, code, units.AnyVersion, e, units.Actor{KeyName: "bench"}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				id, ok, err := analysis.Advance(ctx, s, p, today)
				if err != nil || !ok || id != full.RunID {
					b.Fatalf("advance: run %d, %v, %v (want run %d)", id, ok, err, full.RunID)
				}
			}
			b.ReportMetric(fullSeconds, "full-s")
		})
	}
}
