package analysis_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// Benchmarks run only with JIEDAO_BENCH=1 (make bench), so make test stays
// fast. Each needs PostGIS (DATABASE_URL) like the tests.
func benchGate(b *testing.B) {
	if os.Getenv("JIEDAO_BENCH") == "" {
		b.Skip("set JIEDAO_BENCH=1 to run (make bench)")
	}
	// Keep the benchmark lines readable.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func demoFiles(b *testing.B, scale demo.Scale) string {
	dir := filepath.Join(os.TempDir(), "jiedao-bench-"+string(scale))
	if _, err := demo.ReadManifest(dir); err != nil {
		if _, err := demo.Generate(demo.Config{Seed: 1, Scale: scale, Dir: dir}); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkImport measures import throughput (features/s) of the
// communities file into a database holding the districts and streets.
func BenchmarkImport(b *testing.B) {
	benchGate(b)
	for _, scale := range []demo.Scale{demo.Small, demo.Beijing} {
		b.Run(string(scale), func(b *testing.B) {
			dir := demoFiles(b, scale)
			ctx := context.Background()
			var features int
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s, _ := pgtest.NewStore(b)
				for _, l := range []boundaries.Level{boundaries.District, boundaries.Street} {
					if _, err := importer.Import(ctx, s, filepath.Join(dir, l.Layer()+".geojson"), importer.Options{Level: l}); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				rep, err := importer.Import(ctx, s, filepath.Join(dir, "communities.geojson"), importer.Options{
					Level: boundaries.Community, HouseholdsField: "households", PopulationField: "population", KindField: "kind", AllowOrphans: true})
				if err != nil {
					b.Fatal(err)
				}
				features += rep.Features
			}
			b.ReportMetric(float64(features)/b.Elapsed().Seconds(), "features/s")
		})
	}
}

// BenchmarkAnalyze measures a full analysis (measures, statuses, zones).
func BenchmarkAnalyze(b *testing.B) {
	benchGate(b)
	for _, scale := range []demo.Scale{demo.Small, demo.Beijing} {
		b.Run(string(scale), func(b *testing.B) {
			dir := demoFiles(b, scale)
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
