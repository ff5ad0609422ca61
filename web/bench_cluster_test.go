package web

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBenchCluster measures the two-node topology on the local cluster
// (gated: JIEDAO_BENCH_CLUSTER=1; JIEDAO_BENCH_OUT names a Markdown file
// to write): edit-to-visible on the other node over 50 edits, stale tiles
// after the wait, and read throughput of two nodes against one.
func TestBenchCluster(t *testing.T) {
	if os.Getenv("JIEDAO_BENCH_CLUSTER") == "" {
		t.Skip("set JIEDAO_BENCH_CLUSTER=1 to measure the two-node cluster")
	}
	n := startClusterNodes(t)
	var out strings.Builder
	fmt.Fprintf(&out, "# Two nodes on a primary and a hot standby (local cluster, %s)\n\n", time.Now().UTC().Format("2006-01-02"))
	n.benchEdits(t, &out, 50)
	n.benchThroughput(t, &out, 3*time.Second)
	t.Log("\n" + out.String())
	if p := os.Getenv("JIEDAO_BENCH_OUT"); p != "" {
		if err := os.WriteFile(p, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (n *clusterNodes) benchEdits(t *testing.T, out *strings.Builder, edits int) {
	code := n.centre(t, n.b).Community.Code
	// The tiles of the edited community at three zooms, warmed on both nodes.
	lon, lat := n.lonLat(t)
	var tiles []string
	for _, z := range []int{12, 13, 14} {
		x, y := lonLatTile(lon, lat, z)
		tiles = append(tiles, fmt.Sprintf("/tiles/communities/%d/%d/%d.mvt", z, x, y))
	}
	var put, after, total []time.Duration
	stale, checked := 0, 0
	for i := range edits {
		name := fmt.Sprintf("基准社区%d", i)
		for _, base := range []string{n.a, n.b} {
			for _, p := range tiles {
				fetch(t, base, p)
			}
		}
		t0 := time.Now()
		v := n.rename(t, n.a, code, name)
		t1 := time.Now()
		hdr := []string{HeaderMinVersion, strconv.FormatInt(v, 10)}
		for {
			got := n.centre(t, n.b, hdr...)
			_, b := fetch(t, n.b, tiles[0], hdr...)
			if got.Community.Name == name && tileName(t, b, code) == name {
				break
			}
			if time.Since(t0) > 5*time.Second {
				t.Fatalf("edit %d not visible on B after 5 s", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t2 := time.Now()
		put, after, total = append(put, t1.Sub(t0)), append(after, t2.Sub(t1)), append(total, t2.Sub(t0))
		// After the wait every tile of the community on either node has
		// the edit (no If-Min-Version: what any client would get now).
		for _, base := range []string{n.a, n.b} {
			for _, p := range tiles {
				_, b := fetch(t, base, p)
				checked++
				if tileName(t, b, code) != name {
					stale++
				}
			}
		}
	}
	fmt.Fprintf(out, "## Edit through node A, visible on node B (%d edits: rename a community; B's lookup and z12 tile with If-Min-Version)\n\n", edits)
	fmt.Fprintf(out, "| | p50 | p90 | p99 | max |\n|---|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		d    []time.Duration
	}{{"PUT on A (write + incremental analysis + A's replica catching up)", put}, {"after A's answer, until B shows it", after}, {"edit to visible on B (total)", total}} {
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s |\n", row.name, pct(row.d, 50), pct(row.d, 90), pct(row.d, 99), pct(row.d, 100))
	}
	fmt.Fprintf(out, "\nStale tiles after the wait: %d of %d (z12–z14 tiles of the edited community, both nodes, no If-Min-Version).\n\n", stale, checked)
}

func (n *clusterNodes) lonLat(t *testing.T) (float64, float64) {
	_, man := demoCity(t)
	return (man.BBox[0] + man.BBox[2]) / 2, (man.BBox[1] + man.BBox[3]) / 2
}

func pct(d []time.Duration, p int) string {
	s := slices.Clone(d)
	slices.Sort(s)
	i := min(len(s)-1, (len(s)*p+99)/100-1)
	return s[max(0, i)].Round(time.Millisecond).String()
}

// benchThroughput: 8 clients for d against node A alone, then spread over
// A and B, on two workloads: warm tiles (memory) and unit pages (SQL on
// the standby).
func (n *clusterNodes) benchThroughput(t *testing.T, out *strings.Builder, d time.Duration) {
	_, man := demoCity(t)
	var tilePaths []string
	for _, z := range []int{12, 13, 14} {
		for _, xy := range tileDemoTiles(man.BBox, z) {
			tilePaths = append(tilePaths, fmt.Sprintf("/tiles/communities/%d/%d/%d.mvt", z, xy[0], xy[1]))
		}
	}
	for _, base := range []string{n.a, n.b} {
		for _, p := range tilePaths {
			fetch(t, base, p)
		}
	}
	unitPages := func(r *rand.Rand) string {
		return fmt.Sprintf("/api/v1/units?level=community&limit=20&offset=%d", r.IntN(300))
	}
	workloads := []struct {
		name string
		path func(*rand.Rand) string
	}{
		{"warm tiles (cache hits)", func(r *rand.Rand) string { return tilePaths[r.IntN(len(tilePaths))] }},
		{"unit pages (SQL on the standby)", unitPages},
	}
	// Request logs off, as in the other benchmarks: they measure the
	// handlers, not the terminal.
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	defer slog.SetDefault(prev)
	for _, base := range []string{n.p} {
		for _, p := range tilePaths {
			fetch(t, base, p)
		}
	}
	fmt.Fprintf(out, "## Read throughput, 8 concurrent clients, %s per run, mean of 2 alternating rounds (nproc %s)\n\n", d, nproc())
	fmt.Fprintf(out, "| workload | one node on the primary (no replica) | node A alone (reads the standby) | A and B (round robin) | A+B / A |\n|---|---|---|---|---|\n")
	for _, w := range workloads {
		var p, one, two float64
		for range 2 {
			p += n.load(t, []string{n.p}, w.path, d) / 2
			one += n.load(t, []string{n.a}, w.path, d) / 2
			two += n.load(t, []string{n.a, n.b}, w.path, d) / 2
		}
		fmt.Fprintf(out, "| %s | %.0f req/s | %.0f req/s | %.0f req/s | %.2f |\n", w.name, p, one, two, two/one)
	}
	fmt.Fprintf(out, "\nBoth nodes, the standby and the primary share the same 2 cores (and, for the nodes, one Go process): a second node adds no CPU here, so the ratio shows what the design costs, not what a second machine adds.\n")
}

func nproc() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	return strconv.Itoa(strings.Count(string(b), "processor\t:"))
}

func (n *clusterNodes) load(t *testing.T, bases []string, path func(*rand.Rand) string, d time.Duration) float64 {
	var done, failed atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 21))
			for k := 0; time.Now().Before(deadline); k++ {
				res, err := client.Get(bases[(i+k)%len(bases)] + path(r))
				if err != nil {
					failed.Add(1)
					continue
				}
				res.Body.Close()
				if res.StatusCode >= 300 {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d requests failed", failed.Load())
	}
	return float64(done.Load()) / d.Seconds()
}
