package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/web/tiles"
)

// Tile benchmarks run against a database holding a generated city, e.g.
//
//	psql "$DATABASE_URL" -c 'create database jiedao_bench'
//	go run ./cmd/jiedao demo --scale beijing --out /tmp/bj --db .../jiedao_bench
//	JIEDAO_BENCH_DB=.../jiedao_bench go test ./web/ -run '^$' -bench Tile -benchtime 20000x
//
// They are skipped without JIEDAO_BENCH_DB so `make test` stays fast.

type tileBench struct {
	store *store.Store
	url   string
	tiles [][3]int // z, x, y of communities tiles over the city
	box   [4]float64
}

var (
	tileBenchOnce sync.Once
	tileBenchEnv  *tileBench
	tileBenchErr  error
)

// tileBenchServer serves the bench database with the given cache size; the
// request log is silenced (it would measure stderr, not tiles).
func tileBenchServer(b *testing.B, cacheBytes int64) *tileBench {
	b.Helper()
	dbURL := os.Getenv("JIEDAO_BENCH_DB")
	if dbURL == "" {
		b.Skip("JIEDAO_BENCH_DB not set: skipping tile benchmarks")
	}
	slog.SetDefault(slog.New(slog.DiscardHandler))
	ctx := context.Background()
	tileBenchOnce.Do(func() {
		var s *store.Store
		if s, tileBenchErr = store.Open(ctx, dbURL); tileBenchErr != nil {
			return
		}
		if tileBenchErr = s.Migrate(ctx); tileBenchErr != nil {
			return
		}
		s.Watch(ctx)
		tileBenchEnv = &tileBench{store: s}
		var ext layers.Extent
		if ext, tileBenchErr = pgtest.Reader(s).Extent(ctx, layers.ExtentQuery{}); tileBenchErr == nil && ext.BBox == nil {
			tileBenchErr = fmt.Errorf("no units in %s", dbURL)
		}
		if ext.BBox != nil {
			tileBenchEnv.box = *ext.BBox
		}
		for z := 12; z <= 14; z++ {
			for _, xy := range tileDemoTiles(tileBenchEnv.box, z) {
				tileBenchEnv.tiles = append(tileBenchEnv.tiles, [3]int{z, xy[0], xy[1]})
			}
		}
	})
	if tileBenchErr != nil {
		b.Fatal(tileBenchErr)
	}
	tb := *tileBenchEnv
	srv := httptest.NewServer(New(tb.store, Config{Tiles: tiles.Config{CacheBytes: cacheBytes}}))
	b.Cleanup(srv.Close)
	tb.url = srv.URL
	return &tb
}

var tileBenchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}

func tileBenchFetch(url string) (int, error) {
	req, _ := http.NewRequest("GET", url, nil)
	if os.Getenv("JIEDAO_BENCH_IDENTITY") == "" {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	res, err := tileBenchClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	n, err := io.Copy(io.Discard, res.Body)
	if res.StatusCode != 200 && res.StatusCode != 204 {
		return 0, fmt.Errorf("GET %s: %d", url, res.StatusCode)
	}
	return int(n), err
}

func (tb *tileBench) tileURL(layer string, t [3]int) string {
	return fmt.Sprintf("%s/tiles/%s/%d/%d/%d.mvt", tb.url, layer, t[0], t[1], t[2])
}

// BenchmarkTilesWarm: cached tiles over loopback, 8 concurrent clients.
func BenchmarkTilesWarm(b *testing.B) {
	tb := tileBenchServer(b, 1<<30)
	for _, t := range tb.tiles {
		if _, err := tileBenchFetch(tb.tileURL("communities", t)); err != nil {
			b.Fatal(err)
		}
	}
	procs := max(1, tileBenchProcs())
	b.SetParallelism((8 + procs - 1) / procs)
	var mu sync.Mutex
	next := 0
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		i := next
		next += 7
		mu.Unlock()
		for pb.Next() {
			i++
			if _, err := tileBenchFetch(tb.tileURL("communities", tb.tiles[i%len(tb.tiles)])); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tiles/s")
}

func tileBenchProcs() int { return runtime.GOMAXPROCS(0) }

// BenchmarkTilesCold: every tile built by PostGIS (cache off), compared
// with the same ST_AsMVT query run directly with pgx.
func BenchmarkTilesCold(b *testing.B) {
	// A real cache, each tile asked once: every request is the server's
	// cold path (a miss), as a planner's first view of an area.
	tb := tileBenchServer(b, 256<<20)
	ctx := context.Background()
	p, err := analysis.LoadProfile("")
	if err != nil {
		b.Fatal(err)
	}
	run, err := pgtest.Reader(tb.store).Run(ctx, p, boundaries.Today(), 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, layer := range []string{"communities", "streets"} {
		b.Run(layer, func(b *testing.B) {
			if b.N > len(tb.tiles) {
				b.Fatalf("-benchtime %dx asks for more than the %d distinct tiles", b.N, len(tb.tiles))
			}
			l, _ := layers.ByName(layer)
			var httpTime, sqlTime time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t := tb.tiles[i%len(tb.tiles)]
				viaHTTP := func() {
					s := time.Now()
					if _, err := tileBenchFetch(tb.tileURL(layer, t)); err != nil {
						b.Fatal(err)
					}
					httpTime += time.Since(s)
				}
				viaSQL := func() {
					s := time.Now()
					if _, err := pgtest.Reader(tb.store).Tile(ctx, l, run, false, boundaries.Today(), t[0], t[1], t[2]); err != nil {
						b.Fatal(err)
					}
					sqlTime += time.Since(s)
				}
				// Alternate which goes first: the second finds the
				// tile's pages in PostgreSQL's buffers.
				if i%2 == 0 {
					viaHTTP()
					viaSQL()
				} else {
					viaSQL()
					viaHTTP()
				}
			}
			b.ReportMetric(float64(httpTime.Microseconds())/float64(b.N), "µs/http-tile")
			b.ReportMetric(float64(sqlTime.Microseconds())/float64(b.N), "µs/sql-tile")
			b.ReportMetric(float64(httpTime)/float64(sqlTime), "http/sql")
		})
	}
}

// BenchmarkTileEncodeOrb compares ST_AsMVT with encoding in Go with orb
// (rows fetched as WKB, projected, clipped and marshalled) for the same
// community tiles.
func BenchmarkTileEncodeOrb(b *testing.B) {
	tb := tileBenchServer(b, -1)
	ctx := context.Background()
	p, _ := analysis.LoadProfile("")
	run, err := pgtest.Reader(tb.store).Run(ctx, p, boundaries.Today(), 0)
	if err != nil {
		b.Fatal(err)
	}
	l, _ := layers.ByName("communities")
	b.Run("st_asmvt", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			t := tb.tiles[i%len(tb.tiles)]
			if _, err := pgtest.Reader(tb.store).Tile(ctx, l, run, false, boundaries.Today(), t[0], t[1], t[2]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("orb", func(b *testing.B) {
		q := `SELECT ST_AsBinary(u.geom), u.code, u.name, coalesce(r.households, u.households)::bigint, coalesce(r.status, 'unknown')
			FROM ` + l.From(false) + ` AND u.geom && ST_Transform(ST_TileEnvelope($3::int, $4::int, $5::int, margin => 0.015625), 4326)`
		for i := 0; i < b.N; i++ {
			t := tb.tiles[i%len(tb.tiles)]
			rows, err := tb.store.Primary().Query(ctx, q, run, boundaries.Today(), t[0], t[1], t[2])
			if err != nil {
				b.Fatal(err)
			}
			fc := geojson.NewFeatureCollection()
			for rows.Next() {
				var g []byte
				var code, name, status string
				var hh *int64
				if err := rows.Scan(&g, &code, &name, &hh, &status); err != nil {
					b.Fatal(err)
				}
				geom, err := wkb.Unmarshal(g)
				if err != nil {
					b.Fatal(err)
				}
				f := geojson.NewFeature(geom)
				f.Properties = geojson.Properties{"code": code, "name": name, "status": status}
				if hh != nil {
					f.Properties["households"] = *hh
				}
				fc.Append(f)
			}
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
			layers := mvt.NewLayers(map[string]*geojson.FeatureCollection{"communities": fc})
			layers.ProjectToTile(maptile.New(uint32(t[1]), uint32(t[2]), maptile.Zoom(t[0])))
			layers.Clip(mvt.MapboxGLDefaultExtentBound)
			layers.RemoveEmpty(1, 1)
			if _, err := mvt.Marshal(layers); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTileSizes logs the largest tile per layer and zoom over the
// city (every tile up to z14, the central 16×16 tiles above).
func BenchmarkTileSizes(b *testing.B) {
	tb := tileBenchServer(b, -1)
	for i := 0; i < b.N; i++ {
		if i > 0 {
			continue
		}
		layers := []string{"districts", "streets", "communities", "zones"}
		if v := os.Getenv("JIEDAO_BENCH_LAYERS"); v != "" {
			layers = strings.Split(v, ",")
		}
		for _, layer := range layers {
			for z := 0; z <= 16; z++ {
				tiles := tileDemoTiles(tb.box, z)
				if len(tiles) > 256 {
					cx, cy := lonLatTile((tb.box[0]+tb.box[2])/2, (tb.box[1]+tb.box[3])/2, z)
					tiles = nil
					for x := cx - 8; x < cx+8; x++ {
						for y := cy - 8; y < cy+8; y++ {
							tiles = append(tiles, [2]int{x, y})
						}
					}
				}
				largest, total := 0, 0
				for _, xy := range tiles {
					n, err := rawTileSize(tb, layer, z, xy[0], xy[1])
					if err != nil {
						b.Fatal(err)
					}
					largest, total = max(largest, n), total+n
				}
				fmt.Printf("tile sizes: %-12s z%-2d %5d tiles, largest %7.1f KB, mean %6.1f KB\n", layer, z, len(tiles), float64(largest)/1024, float64(total)/1024/float64(len(tiles)))
			}
		}
	}
}

// rawTileSize is the uncompressed size of a tile (0 when empty).
func rawTileSize(tb *tileBench, layer string, z, x, y int) (int, error) {
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/tiles/%s/%d/%d/%d.mvt", tb.url, layer, z, x, y), nil)
	res, err := tileBenchClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	n, err := io.Copy(io.Discard, res.Body)
	return int(n), err
}

// BenchmarkTilesScenario: a scenario's communities tiles (live units less
// the replaced and removed, plus the scenario's, joined to the scenario's
// run) against the live ones, the same tiles, raw SQL, alternating. It uses
// the newest scenario of the bench database, e.g. one made by
//
//	jiedao plan --all --format geojson -o plan.geojson --db …
//	jiedao scenario create all --from-plan plan.geojson --db …
func BenchmarkTilesScenario(b *testing.B) {
	tb := tileBenchServer(b, 256<<20)
	ctx := context.Background()
	var scenario int64
	if err := tb.store.Primary().QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM scenarios`).Scan(&scenario); err != nil || scenario == 0 {
		b.Skipf("no scenario in the bench database (%v)", err)
	}
	p, err := analysis.LoadProfile("")
	if err != nil {
		b.Fatal(err)
	}
	day := boundaries.Today()
	t0 := time.Now()
	runScen, err := pgtest.Reader(tb.store).Run(ctx, p, day, scenario)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("scenario %d: analysis run %d ready in %v", scenario, runScen, time.Since(t0).Round(time.Millisecond))
	runLive, err := pgtest.Reader(tb.store).Run(ctx, p, day, 0)
	if err != nil {
		b.Fatal(err)
	}
	l, _ := layers.ByName("communities")
	var liveTime, scenTime time.Duration
	var liveBytes, scenBytes int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := tb.tiles[i%len(tb.tiles)]
		one := func(scenario bool, run int64, d *time.Duration, n *int) {
			s := time.Now()
			raw, err := pgtest.Reader(tb.store).Tile(ctx, l, run, scenario, day, t[0], t[1], t[2])
			if err != nil {
				b.Fatal(err)
			}
			*d += time.Since(s)
			*n += len(raw)
		}
		if i%2 == 0 {
			one(false, runLive, &liveTime, &liveBytes)
			one(true, runScen, &scenTime, &scenBytes)
		} else {
			one(true, runScen, &scenTime, &scenBytes)
			one(false, runLive, &liveTime, &liveBytes)
		}
	}
	b.ReportMetric(float64(liveTime.Microseconds())/float64(b.N), "µs/live-tile")
	b.ReportMetric(float64(scenTime.Microseconds())/float64(b.N), "µs/scenario-tile")
	b.ReportMetric(float64(scenTime)/float64(liveTime), "scenario/live")
	b.ReportMetric(float64(scenBytes)/float64(max(1, liveBytes)), "bytes-scenario/live")
}
