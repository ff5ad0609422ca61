package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
	orbjson "github.com/paulmach/orb/geojson"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
)

// Benchmarks of point lookups against a loaded database:
//
//	psql "$DATABASE_URL" -c 'create database jiedao_bench6'
//	go run ./cmd/jiedao demo --scale beijing --out /tmp/bj6 --db $URL6
//	JIEDAO_BENCH_DB=$URL6 go test ./web -run '^$' -bench 'Lookup' -benchtime 5x
//
// Skipped without JIEDAO_BENCH_DB, so `make test` stays fast.

type apiBench struct {
	store *store.Store
	url   string
	pts   []lookup.Point
}

var (
	apiBenchOnce sync.Once
	apiBenchEnv  *apiBench
	apiBenchErr  error
)

// apiBenchSetup opens the bench database once per binary, serves it and
// makes 100,000 random points over the city's districts.
func apiBenchSetup(b *testing.B) *apiBench {
	b.Helper()
	dbURL := os.Getenv("JIEDAO_BENCH_DB")
	if dbURL == "" {
		b.Skip("JIEDAO_BENCH_DB not set")
	}
	apiBenchOnce.Do(func() {
		ctx := context.Background()
		store, err := store.Open(ctx, dbURL)
		if err != nil {
			apiBenchErr = err
			return
		}
		if err := store.Migrate(ctx); err != nil {
			apiBenchErr = err
			return
		}
		store.Watch(ctx)
		env := &apiBench{store: store}
		env.url = httptest.NewServer(New(store, Config{})).URL
		page, err := pgtest.Reader(store).Page(ctx, layers.PageQuery{Level: boundaries.District, Limit: 1000})
		if err != nil {
			apiBenchErr = err
			return
		}
		var bd orb.Bound
		for i, raw := range page.Items {
			var u struct{ Code string }
			json.Unmarshal(raw, &u)
			d, err := pgtest.Reader(store).Unit(ctx, u.Code, time.Time{}, 0, true)
			if err != nil {
				apiBenchErr = err
				return
			}
			var g struct{ Geometry json.RawMessage }
			json.Unmarshal(d.JSON, &g)
			geom, err := orbjson.UnmarshalGeometry(g.Geometry)
			if err != nil {
				apiBenchErr = err
				return
			}
			if i == 0 {
				bd = geom.Geometry().Bound()
			} else {
				bd = bd.Union(geom.Geometry().Bound())
			}
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 100_000 {
			env.pts = append(env.pts, lookup.Point{ID: strconv.Itoa(i),
				Lon: bd.Min[0] + rng.Float64()*(bd.Max[0]-bd.Min[0]), Lat: bd.Min[1] + rng.Float64()*(bd.Max[1]-bd.Min[1])})
		}
		// Build the index and run the analysis once: not what is measured.
		p, _ := analysis.LoadProfile("")
		run, err := pgtest.Reader(store).Run(ctx, p, time.Time{}, 0)
		if err != nil {
			apiBenchErr = err
			return
		}
		if _, err := lookup.New(store).Lookup(ctx, run, time.Time{}, env.pts[:1]); err != nil {
			apiBenchErr = err
			return
		}
		apiBenchEnv = env
	})
	if apiBenchErr != nil {
		b.Fatal(apiBenchErr)
	}
	return apiBenchEnv
}

// BenchmarkLookupIndexVsSQL measures 100,000 points through the in-memory
// index and, in the same run, one ST_Covers query per point (8 at a time,
// on a sample), and reports the ratio.
func BenchmarkLookupIndexVsSQL(b *testing.B) {
	env := apiBenchSetup(b)
	ctx := context.Background()
	p, _ := analysis.LoadProfile("")
	loc := lookup.New(env.store)
	run, err := pgtest.Reader(env.store).Run(ctx, p, boundaries.Today(), 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := loc.Lookup(ctx, run, time.Time{}, env.pts[:1]); err != nil {
		b.Fatal(err)
	}
	var indexSecs float64
	for b.Loop() {
		t0 := time.Now()
		if _, err := loc.Lookup(ctx, run, time.Time{}, env.pts); err != nil {
			b.Fatal(err)
		}
		indexSecs += time.Since(t0).Seconds()
	}
	indexRate := float64(b.N*len(env.pts)) / indexSecs
	const sample = 4000
	t0 := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if _, err := lookup.SQL(ctx, env.store, time.Time{}, run, env.pts[i]); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range sample {
		next <- i
	}
	close(next)
	wg.Wait()
	sqlRate := sample / time.Since(t0).Seconds()
	b.ReportMetric(indexRate, "index-points/s")
	b.ReportMetric(sqlRate, "sql-points/s")
	b.ReportMetric(indexRate/sqlRate, "ratio")
}

// BenchmarkLookupBatchHTTP posts 100,000 points as JSON and as CSV.
func BenchmarkLookupBatchHTTP(b *testing.B) {
	env := apiBenchSetup(b)
	var js, cs bytes.Buffer
	js.WriteString(`{"crs":"wgs84","points":[`)
	cs.WriteString("id,lon,lat\n")
	for i, p := range env.pts {
		if i > 0 {
			js.WriteByte(',')
		}
		fmt.Fprintf(&js, `{"id":%q,"lon":%v,"lat":%v}`, p.ID, p.Lon, p.Lat)
		fmt.Fprintf(&cs, "%s,%v,%v\n", p.ID, p.Lon, p.Lat)
	}
	js.WriteString("]}")
	for _, c := range []struct {
		name, ct string
		body     []byte
	}{{"json", "application/json", js.Bytes()}, {"csv", "text/csv", cs.Bytes()}} {
		b.Run(c.name, func(b *testing.B) {
			var secs float64
			for b.Loop() {
				t0 := time.Now()
				res, err := http.Post(env.url+"/api/v1/lookup", c.ct, bytes.NewReader(c.body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatalf("status %d", res.StatusCode)
				}
				secs += time.Since(t0).Seconds()
			}
			b.ReportMetric(float64(b.N*len(env.pts))/secs, "points/s")
		})
	}
}

// BenchmarkLookupSingleHTTP runs GET /api/v1/lookup from 8 clients and
// reports latency percentiles.
func BenchmarkLookupSingleHTTP(b *testing.B) {
	env := apiBenchSetup(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var mu sync.Mutex
	var lat []time.Duration
	var idx int
	b.ResetTimer()
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			var mine []time.Duration
			for i := range work {
				p := env.pts[i%len(env.pts)]
				t0 := time.Now()
				res, err := client.Get(fmt.Sprintf("%s/api/v1/lookup?lon=%v&lat=%v", env.url, p.Lon, p.Lat))
				if err != nil {
					b.Error(err)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	for b.Loop() {
		work <- idx
		idx++
	}
	close(work)
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}
