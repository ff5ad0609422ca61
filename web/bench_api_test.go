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

// benchGridsFrom is the day the benchmark's grids start: the same units
// as today plus the grids, so one database measures both.
const benchGridsFrom = "2099-01-01"

// addBenchGrids cuts every community valid today into five strips of equal
// width (west→east, coded community + 001…005) valid from benchGridsFrom,
// about 37,500 grids at the beijing scale, unless they are there; cleanup
// removes them. Plain SQL, so the benchmark does not depend on the grid
// generator.
func addBenchGrids(b *testing.B, st *store.Store) int {
	b.Helper()
	ctx := context.Background()
	var n int
	if err := st.Primary().QueryRow(ctx, `SELECT count(*) FROM units WHERE level = 'grid' AND source = 'bench-grids'`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n == 0 {
		t0 := time.Now()
		if err := st.Primary().QueryRow(ctx, `WITH c AS (
				SELECT u.code, u.households, u.geom, ST_XMin(u.geom) x0, ST_XMax(u.geom) x1, ST_YMin(u.geom) y0, ST_YMax(u.geom) y1
				FROM units u WHERE u.level = 'community' AND u.valid_to IS NULL),
			s AS (SELECT c.code, c.households, i, ST_Multi(ST_CollectionExtract(ST_Intersection(c.geom,
					ST_MakeEnvelope(x0 + (x1 - x0) * (i - 1) / 5, y0 - 1e-6, x0 + (x1 - x0) * i / 5, y1 + 1e-6, 4326)), 3)) g
				FROM c, generate_series(1, 5) i),
			ins AS (INSERT INTO units (code, name, level, parent_code, households, geom, valid_from, approval, source)
				SELECT code || lpad(i::text, 3, '0'), '网格' || i, 'grid', code, households / 5, g, $1::date, 'benchmark', 'bench-grids'
				FROM s WHERE NOT ST_IsEmpty(g) RETURNING 1)
			SELECT count(*) FROM ins`, benchGridsFrom).Scan(&n); err != nil {
			b.Fatal(err)
		}
		b.Logf("added %d bench grids in %v", n, time.Since(t0).Round(time.Millisecond))
		b.Cleanup(func() {
			for _, q := range []string{`DELETE FROM changes WHERE level = 'grid' AND valid_from = $1::date`,
				`DELETE FROM units WHERE level = 'grid' AND source = 'bench-grids' AND valid_from = $1::date`} {
				if _, err := st.Primary().Exec(ctx, q, benchGridsFrom); err != nil {
					b.Error(err)
				}
			}
			st.Primary().Exec(ctx, `UPDATE meta SET data_version = data_version + 1, units_version = units_version + 1`) //nolint:errcheck
		})
	}
	if _, err := st.Primary().Exec(ctx, `UPDATE meta SET data_version = data_version + 1, units_version = units_version + 1`); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkLookupGrids measures 100,000 points through the index without
// grids (today) and with a grid level loaded (benchGridsFrom), taking
// turns, with and without encoding the answers as the batch route does,
// and reports the ratio (goal: within 1.3×).
func BenchmarkLookupGrids(b *testing.B) {
	env := apiBenchSetup(b)
	ctx := context.Background()
	grids := addBenchGrids(b, env.store)
	p, _ := analysis.LoadProfile("")
	run, err := pgtest.Reader(env.store).Run(ctx, p, boundaries.Today(), 0)
	if err != nil {
		b.Fatal(err)
	}
	with, err := boundaries.ParseDate(benchGridsFrom)
	if err != nil {
		b.Fatal(err)
	}
	loc := lookup.New(env.store)
	days := []time.Time{boundaries.Today(), with}
	found := make([]int, 2)
	for i, d := range days { // build both indexes: not what is measured
		res, err := loc.Lookup(ctx, run, d, env.pts)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Grid != nil {
				found[i]++
			}
		}
	}
	if found[1] == 0 {
		b.Fatal("no point found a bench grid")
	}
	var secs, encSecs [2]float64
	buf := make([]byte, 0, 512)
	for b.Loop() {
		for i, d := range days {
			t0 := time.Now()
			res, err := loc.Lookup(ctx, run, d, env.pts)
			if err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			for j := range res {
				buf = appendResult(buf[:0], &res[j])
			}
			secs[i] += t1.Sub(t0).Seconds()
			encSecs[i] += time.Since(t0).Seconds()
		}
	}
	// The batch route end to end (JSON in, lookup, JSON out), ?at= the
	// day with grids or not: what a client sees.
	var js bytes.Buffer
	js.WriteString(`{"points":[`)
	for i, p := range env.pts {
		if i > 0 {
			js.WriteByte(',')
		}
		fmt.Fprintf(&js, `{"id":%q,"lon":%v,"lat":%v}`, p.ID, p.Lon, p.Lat)
	}
	js.WriteString("]}")
	var httpSecs [2]float64
	for round := range 6 {
		for i, q := range []string{"", "?at=" + benchGridsFrom} {
			t0 := time.Now()
			res, err := http.Post(env.url+"/api/v1/lookup"+q, "application/json", bytes.NewReader(js.Bytes()))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatalf("status %d", res.StatusCode)
			}
			if round > 0 { // the first builds the day's run and index
				httpSecs[i] += time.Since(t0).Seconds()
			}
		}
	}
	b.ReportMetric(httpSecs[1]/httpSecs[0], "slowdown-http")
	n := float64(b.N * len(env.pts))
	b.ReportMetric(n/secs[0], "without-points/s")
	b.ReportMetric(n/secs[1], "with-grids-points/s")
	b.ReportMetric(secs[1]/secs[0], "slowdown")
	b.ReportMetric(encSecs[1]/encSecs[0], "slowdown-encoded")
	b.Logf("%d bench grids; points in a grid: %d without, %d with", grids, found[0], found[1])
}
