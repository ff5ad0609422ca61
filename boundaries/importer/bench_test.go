package importer_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// BenchmarkImport measures import throughput (features/s) of the
// communities file into a database holding the districts and streets.
func BenchmarkImport(b *testing.B) {
	pgtest.BenchGate(b)
	for _, scale := range []demo.Scale{demo.Small, demo.Beijing} {
		b.Run(string(scale), func(b *testing.B) {
			dir := pgtest.DemoFiles(b, scale)
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
