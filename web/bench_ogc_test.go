package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/web/ogc"
)

// Benchmarks of the OGC API and downloads against a loaded database:
//
//	go run ./cmd/jiedao demo --scale beijing --out /tmp/bj5 --db $URL
//	JIEDAO_BENCH_DB=$URL go test ./web -run '^$' -bench 'OGC|Download' -benchtime 5x
//
// Skipped without JIEDAO_BENCH_DB, so `make test` stays fast.

func benchServer(b *testing.B) string {
	b.Helper()
	url := os.Getenv("JIEDAO_BENCH_DB")
	if url == "" {
		b.Skip("JIEDAO_BENCH_DB not set")
	}
	ctx := context.Background()
	store, err := store.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(store.Close)
	p, err := analysis.LoadProfile("")
	if err != nil {
		b.Fatal(err)
	}
	// The analysis runs once per data version; not what is measured.
	if _, err := pgtest.Reader(store).Run(ctx, p, boundaries.Today(), 0); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(New(store, Config{}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// peakHeap samples the heap in use until stop is closed.
func peakHeap(stop <-chan struct{}) *atomic.Uint64 {
	var peak atomic.Uint64
	go func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return &peak
}

// benchClient asks for gzip when JIEDAO_BENCH_GZIP is set; by default it
// measures the uncompressed stream.
var benchClient = &http.Client{Transport: &http.Transport{DisableCompression: os.Getenv("JIEDAO_BENCH_GZIP") == ""}}

func benchGet(b *testing.B, u string) int64 {
	resp, err := benchClient.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return n
}

func BenchmarkOGCItems1000(b *testing.B) {
	base := benchServer(b)
	var matched struct{ NumberMatched int }
	resp, err := http.Get(base + "/ogc/collections/communities/items?limit=1")
	if err != nil {
		b.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&matched)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	items := 0
	for i := 0; i < b.N; i++ {
		off := (i * 1000) % max(1, matched.NumberMatched-1000)
		benchGet(b, fmt.Sprintf("%s/ogc/collections/communities/items?limit=1000&offset=%d", base, off))
		items += 1000
	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
}

func benchDownload(b *testing.B, file string) {
	base := benchServer(b)
	stop := make(chan struct{})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := peakHeap(stop)
	b.ResetTimer()
	var bytes int64
	for i := 0; i < b.N; i++ {
		bytes += benchGet(b, base+"/download/"+file)
	}
	b.StopTimer()
	close(stop)
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(bytes)/1e6/sec, "MB/s")
	b.ReportMetric(float64(bytes)/float64(b.N)/1e6, "MB/op")
	b.ReportMetric(float64(peak.Load())/1e6, "peak-heap-MB")
	b.ReportMetric(float64(before.HeapInuse)/1e6, "start-heap-MB")
}

func BenchmarkDownloadGeoJSON(b *testing.B) { benchDownload(b, "communities.geojson") }
func BenchmarkDownloadCSV(b *testing.B)     { benchDownload(b, "communities.csv?geometry=wkt") }
func BenchmarkDownloadGPKG(b *testing.B)    { benchDownload(b, "communities.gpkg") }

// BenchmarkOGCAllPages pages through all communities 10,000 at a time, as a
// client copying the layer does.
func BenchmarkOGCAllPages(b *testing.B) {
	base := benchServer(b)
	stop := make(chan struct{})
	peak := peakHeap(stop)
	b.ResetTimer()
	var bytes int64
	for i := 0; i < b.N; i++ {
		next := base + "/ogc/collections/communities/items?limit=10000"
		for next != "" {
			resp, err := benchClient.Get(next)
			if err != nil {
				b.Fatal(err)
			}
			var fc struct {
				Links []ogc.Link `json:"links"`
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bytes += int64(len(body))
			if err := json.Unmarshal(body, &fc); err != nil {
				b.Fatal(err)
			}
			next = ""
			for _, l := range fc.Links {
				if l.Rel == "next" {
					next = l.Href
				}
			}
		}
	}
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
	b.ReportMetric(float64(peak.Load())/1e6, "peak-heap-MB")
}
