package dispatch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/dispatch"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/web"
)

// beijing is a fresh database with the beijing demo loaded.
func beijing(b *testing.B) *store.Store {
	b.Helper()
	pgtest.BenchGate(b)
	s, _ := pgtest.NewStore(b)
	t0 := time.Now()
	if _, err := importer.LoadDemo(context.Background(), s, pgtest.DemoFiles(b, demo.Beijing), nil); err != nil {
		b.Fatal(err)
	}
	b.Logf("beijing demo loaded in %s", time.Since(t0).Round(time.Second))
	return s
}

// BenchmarkPostDispatch100k: POST /api/v1/dispatch of 100,000 new tickets
// (JSON) on the beijing demo, decided and stored, through the whole server.
func BenchmarkPostDispatch100k(b *testing.B) {
	s := beijing(b)
	ctx := context.Background()
	key, err := units.CreateKey(ctx, s, "bench", units.Editor)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(web.New(s, web.Config{}))
	defer srv.Close()
	var x0, y0, x1, y1 float64
	if err := s.Primary().QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
		FROM (SELECT ST_Extent(geom) AS e FROM units WHERE level = 'district') x`).Scan(&x0, &y0, &x1, &y1); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	body := func(round int) []byte {
		type tk struct {
			ID       string  `json:"id"`
			Time     string  `json:"time"`
			Lon      float64 `json:"lon"`
			Lat      float64 `json:"lat"`
			Category string  `json:"category"`
		}
		ts := make([]tk, 100_000)
		for i := range ts {
			ts[i] = tk{fmt.Sprintf("B%d-%06d", round, i), "2025-06-01T10:00:00+08:00", x0 + (x1-x0)*r.Float64(), y0 + (y1-y0)*r.Float64(), "噪音扰民"}
		}
		out, _ := json.Marshal(map[string]any{"tickets": ts})
		return out
	}
	post := func(bd []byte) {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/dispatch", bytes.NewReader(bd))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var out struct{ Count, Stored int }
		json.NewDecoder(res.Body).Decode(&out) //nolint:errcheck
		res.Body.Close()
		if res.StatusCode != 200 || out.Stored != 100_000 {
			b.Fatalf("status %d, %+v", res.StatusCode, out)
		}
	}
	post(body(-1)) // the locator's index is built once per process
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		bd := body(i)
		b.StartTimer()
		post(bd)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/100k")
}

// BenchmarkImportTickets1M: `jiedao import-tickets` of 1,000,000 demo
// tickets (ten years of the beijing demo) on the beijing demo.
func BenchmarkImportTickets1M(b *testing.B) {
	s := beijing(b)
	dir := filepath.Join(os.TempDir(), "jiedao-bench-beijing-tickets")
	if _, err := os.Stat(filepath.Join(dir, demo.ManifestFile)); err != nil {
		if _, err := demo.Generate(demo.Config{Seed: 1, Scale: demo.Beijing, Dir: dir, TicketMonths: 120}); err != nil {
			b.Fatal(err)
		}
	}
	loc := lookup.New(s)
	ctx := context.Background()
	if _, err := loc.Lookup(ctx, 0, time.Time{}, []lookup.Point{{Lon: 116.4, Lat: 39.9}}); err != nil { // build the index
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 {
			b.StopTimer()
			if _, err := s.Primary().Exec(ctx, `TRUNCATE tickets CASCADE`); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		rep, err := dispatch.ImportFile(ctx, s, loc, filepath.Join(dir, demo.TicketsFile), dispatch.ImportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rep.Stored), "tickets")
		b.ReportMetric(rep.Seconds, "s/import")
	}
}
