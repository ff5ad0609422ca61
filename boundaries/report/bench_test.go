package report_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/report"
)

// BenchmarkDistrictReport writes the status report of the Beijing demo's
// largest district (most streets) as HTML, and reports its seconds and
// bytes; cold-s includes the day's first analysis of the city. Run it with
//
//	JIEDAO_BENCH=1 go test ./boundaries/report/ -run '^$' -bench DistrictReport -benchtime 3x
func BenchmarkDistrictReport(b *testing.B) {
	pgtest.BenchGate(b)
	ctx := context.Background()
	st, _ := pgtest.NewStore(b)
	if _, err := importer.LoadDemo(ctx, st, pgtest.DemoFiles(b, demo.Beijing), nil); err != nil {
		b.Fatal(err)
	}
	var district string
	var streets int
	if err := st.Primary().QueryRow(ctx, `SELECT parent_code, count(*) FROM units WHERE level = 'street' AND valid_to IS NULL
		GROUP BY parent_code ORDER BY count(*) DESC, parent_code LIMIT 1`).Scan(&district, &streets); err != nil {
		b.Fatal(err)
	}
	runs := analysis.NewRuns(st)
	once := func() int {
		doc, err := report.Status(ctx, st, runs, report.Options{District: district})
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if err := doc.WriteHTML(&buf); err != nil {
			b.Fatal(err)
		}
		return buf.Len()
	}
	t0 := time.Now()
	size := once()
	cold := time.Since(t0).Seconds()
	b.ResetTimer()
	for range b.N {
		size = once()
	}
	b.ReportMetric(cold, "cold-s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/report")
	b.ReportMetric(float64(size), "html-bytes")
	b.ReportMetric(float64(streets), "streets")
	if size > 20<<20 {
		b.Errorf("district report is %d bytes, over 20 MB", size)
	}
}
