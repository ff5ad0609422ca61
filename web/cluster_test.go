package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paulmach/orb/encoding/mvt"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/pgtest/pgcluster"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// testCluster is the test's primary and standby.
type testCluster = pgcluster.Cluster

func startTestCluster(t testing.TB) *testCluster { return pgcluster.Start(t, 21000) }

// clusterNodes is the demo on a cluster's primary, with two nodes (A and
// B) reading the standby and node P reading the primary only (a writer
// the replica knows nothing about until it replays).
type clusterNodes struct {
	c          *testCluster
	prim       *store.Store
	stA, stB   *store.Store
	a, b, p    string // base URLs
	editor     string
	tile, look string // paths at the demo's centre
}

func startClusterNodes(t testing.TB) *clusterNodes {
	t.Helper()
	start := time.Now()
	c := startTestCluster(t)
	ctx := context.Background()
	prim, err := store.Open(ctx, c.Primary)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prim.Close)
	if err := prim.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dir, man := demoCity(t)
	if _, err := importer.LoadDemo(ctx, prim, dir, nil); err != nil {
		t.Fatalf("load demo: %v", err)
	}
	n := &clusterNodes{c: c, prim: prim}
	n.editor = mustEditorKey(t, prim)
	open := func() *store.Store {
		st, err := store.Open(ctx, c.Primary, c.Standby)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		lsn, err := st.PrimaryLSN(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.WaitReplayed(ctx, lsn, 10*time.Second); err != nil {
			t.Fatalf("the standby did not replay the demo: %v", err)
		}
		return st
	}
	n.stA, n.stB = open(), open()
	serve := func(st *store.Store) string {
		srv := httptest.NewServer(New(st, Config{}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	// Node P follows the version by LISTEN/NOTIFY, as serve does without
	// read pools (a no-op for A and B, whose monitor polls their replica).
	wctx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	prim.Watch(wctx)
	n.a, n.b, n.p = serve(n.stA), serve(n.stB), serve(prim)
	lon, lat := (man.BBox[0]+man.BBox[2])/2, (man.BBox[1]+man.BBox[3])/2
	x, y := lonLatTile(lon, lat, 12)
	n.tile = fmt.Sprintf("/tiles/communities/12/%d/%d.mvt", x, y)
	n.look = fmt.Sprintf("/api/v1/lookup?lon=%f&lat=%f", lon, lat)
	t.Logf("primary, standby, demo and three nodes up in %s", time.Since(start).Round(time.Millisecond))
	return n
}

func mustEditorKey(t testing.TB, st *store.Store) string {
	t.Helper()
	k, err := units.CreateKey(context.Background(), st, "cluster-editor", units.Editor)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fetch GETs base+path with headers (name, value pairs).
func fetch(t testing.TB, base, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// rawClient neither asks for gzip nor undoes it: the bytes compared are
// the bytes served.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 20 * time.Second}

// rename renames the community at the demo's centre through base and
// returns the data version the write answered with.
func (n *clusterNodes) rename(t testing.TB, base, code, name string) int64 {
	t.Helper()
	res, _ := fetch(t, base, "/api/v1/units/"+code)
	if res.StatusCode != 200 {
		t.Fatalf("GET unit %s: %d", code, res.StatusCode)
	}
	req, _ := http.NewRequest("PUT", base+"/api/v1/units/"+code, featureBody(map[string]any{"name": name,
		"approval": "京民发〔2026〕21号", "valid_from": boundaries.Today().Format("2006-01-02")}, "null"))
	req.Header.Set("Authorization", "Bearer "+n.editor)
	req.Header.Set("If-Match", res.Header.Get("ETag"))
	put, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(put.Body)
	put.Body.Close()
	if put.StatusCode != 200 {
		t.Fatalf("PUT %s through %s: %d %.300s", code, base, put.StatusCode, b)
	}
	v, err := strconv.ParseInt(put.Header.Get(HeaderDataVersion), 10, 64)
	if err != nil {
		t.Fatalf("write response without %s: %q", HeaderDataVersion, put.Header.Get(HeaderDataVersion))
	}
	return v
}

func (n *clusterNodes) centre(t testing.TB, base string, hdr ...string) lookup.Result {
	t.Helper()
	res, b := fetch(t, base, n.look, hdr...)
	if res.StatusCode != 200 {
		t.Fatalf("lookup on %s: %d %s", base, res.StatusCode, b)
	}
	var r lookup.Result
	if err := json.Unmarshal(b, &r); err != nil || r.Community == nil {
		t.Fatalf("lookup: %v %s", err, b)
	}
	return r
}

// TestClusterTwoNodes runs two nodes on a primary and a hot standby:
// an edit through node A is in node B's next tile and lookup once B's
// replica has it (If-Min-Version), both nodes serve the same bytes under
// the same ETag, a paused standby is served at its own version until the
// lag limit and then the primary is read, and a stopped standby makes
// reads move to the primary with no 5xx.
func TestClusterTwoNodes(t *testing.T) {
	n := startClusterNodes(t)
	before := n.centre(t, n.b)
	code := before.Community.Code
	r0, tile0 := fetch(t, n.b, n.tile)
	if r0.StatusCode != 200 || r0.Header.Get(HeaderReadFrom) != "replica" {
		t.Fatalf("tile on B: %d, read from %q", r0.StatusCode, r0.Header.Get(HeaderReadFrom))
	}

	// An edit through A, seen on B within 2 s.
	name := "集群社区一"
	start := time.Now()
	v := n.rename(t, n.a, code, name)
	hdr := []string{HeaderMinVersion, strconv.FormatInt(v, 10)}
	r1, tile1 := fetch(t, n.b, n.tile, hdr...)
	if r1.StatusCode != 200 || r1.Header.Get("ETag") == r0.Header.Get("ETag") || tileName(t, tile1, code) != name {
		t.Fatalf("B's tile after A's edit: %d, ETag %s (was %s), name %q, want %q", r1.StatusCode, r1.Header.Get("ETag"), r0.Header.Get("ETag"), tileName(t, tile1, code), name)
	}
	if tileName(t, tile0, code) != before.Community.Name {
		t.Fatalf("B's tile before the edit names %s %q, its lookup %q", code, tileName(t, tile0, code), before.Community.Name)
	}
	if got := n.centre(t, n.b, hdr...); got.Community.Name != name {
		t.Fatalf("B's lookup after A's edit: %q, want %q", got.Community.Name, name)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("edit to visible on the other node: %s, want under 2 s", d)
	}
	t.Logf("edit through A visible in B's tile and lookup after %s", time.Since(start).Round(time.Millisecond))

	// The same version gives the same bytes and ETag on both nodes.
	ra, ta := fetch(t, n.a, n.tile, hdr...)
	rb, tb := fetch(t, n.b, n.tile, hdr...)
	if !bytes.Equal(ta, tb) || ra.Header.Get("ETag") != rb.Header.Get("ETag") || ra.Header.Get("ETag") == "" {
		t.Fatalf("A and B differ at version %d: ETags %s and %s, bytes equal %v", v, ra.Header.Get("ETag"), rb.Header.Get("ETag"), bytes.Equal(ta, tb))
	}
	etag := ra.Header.Get("ETag")
	// Compressed too (a cache hit's gzip copy), byte for byte.
	for range 2 {
		ra, ta = fetch(t, n.a, n.tile, append(hdr, "Accept-Encoding", "gzip")...)
		rb, tb = fetch(t, n.b, n.tile, append(hdr, "Accept-Encoding", "gzip")...)
	}
	if !bytes.Equal(ta, tb) || ra.Header.Get("ETag") != rb.Header.Get("ETag") || !strings.HasSuffix(ra.Header.Get("ETag"), `-gz"`) {
		t.Fatalf("A and B differ gzipped at version %d: ETags %s and %s, bytes equal %v", v, ra.Header.Get("ETag"), rb.Header.Get("ETag"), bytes.Equal(ta, tb))
	}
	// A version the primary has not reached is refused; a bad one too.
	if res, _ := fetch(t, n.b, n.tile, HeaderMinVersion, strconv.FormatInt(v+1000, 10)); res.StatusCode != 400 {
		t.Errorf("If-Min-Version beyond the primary: %d, want 400", res.StatusCode)
	}
	if res, _ := fetch(t, n.b, n.look+"&min_version=x"); res.StatusCode != 400 {
		t.Errorf("?min_version=x: %d, want 400", res.StatusCode)
	}
	if res, _ := fetch(t, n.b, "/ogc/collections/communities/items?limit=1&min_version="+strconv.FormatInt(v, 10)); res.StatusCode != 200 {
		t.Errorf("OGC items with ?min_version=: %d, want 200 (the parameter is the node's, not the route's)", res.StatusCode)
	}

	t.Run("paused standby", func(t *testing.T) { n.pausedStandby(t, code, etag) })
	t.Run("stopped standby", func(t *testing.T) { n.stoppedStandby(t) })
}

// pausedStandby: while replay is paused B serves its replica's version (the
// old tile, under the old ETag), then past the lag limit reads the primary.
func (n *clusterNodes) pausedStandby(t *testing.T, code, etag string) {
	// A generous limit while the write is made and B checked (a slow
	// machine must not move B to the primary early), then 1 s.
	n.stB.SetMaxReplicaLag(time.Minute)
	defer n.stB.SetMaxReplicaLag(store.DefaultMaxReplicaLag)
	if out, err := n.c.Script("pause"); err != nil {
		t.Fatalf("pause: %v %s", err, out)
	}
	resumed := false
	defer func() {
		if !resumed {
			n.c.Script("resume") //nolint:errcheck // best effort
		}
	}()
	name := "集群社区二"
	v := n.rename(t, n.p, code, name) // through the primary-only node
	res, b := fetch(t, n.b, n.tile)
	if res.StatusCode != 200 || res.Header.Get("ETag") != etag || tileName(t, b, code) == name || res.Header.Get(HeaderReadFrom) != "replica" {
		t.Fatalf("B right after a write its replica has not replayed: %d, ETag %s (want the replica's %s), name %q, read from %s",
			res.StatusCode, res.Header.Get("ETag"), etag, tileName(t, b, code), res.Header.Get(HeaderReadFrom))
	}
	if got := n.centre(t, n.b); got.Community.Name == name {
		t.Fatal("B's lookup shows what its replica has not replayed")
	}
	if res, _ := fetch(t, n.b, n.tile, HeaderMinVersion, strconv.FormatInt(v, 10)); res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("If-Min-Version the paused replica lacks, within the lag limit: %d (Retry-After %q), want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	n.stB.SetMaxReplicaLag(time.Second)
	start := time.Now()
	res, b = fetch(t, n.b, n.tile, HeaderMinVersion, strconv.FormatInt(v, 10))
	if res.StatusCode != 200 || tileName(t, b, code) != name || res.Header.Get(HeaderReadFrom) != "primary" {
		t.Fatalf("B past the lag limit: %d, name %q, read from %q", res.StatusCode, tileName(t, b, code), res.Header.Get(HeaderReadFrom))
	}
	t.Logf("B moved to the primary %s after the limit went to 1 s", time.Since(start).Round(time.Millisecond))
	var ready struct {
		Reads readyState `json:"reads"`
	}
	getJSON(t, n.b+"/readyz", 200, &ready)
	if !ready.Reads.ReadingPrimary || ready.Reads.Version < v || len(ready.Reads.Replicas) != 1 || !ready.Reads.Replicas[0].Paused || ready.Reads.Replicas[0].Reading {
		t.Fatalf("/readyz while the standby is paused: %+v", ready.Reads)
	}
	if out, err := n.c.Script("resume"); err != nil {
		t.Fatalf("resume: %v %s", err, out)
	}
	resumed = true
	eventually(t, 5*time.Second, "B reads its replica again", func() bool { return !n.stB.ReadingPrimary() })
}

// stoppedStandby: reads on both nodes while the standby stops: none fails.
func (n *clusterNodes) stoppedStandby(t *testing.T) {
	var reads, bad atomic.Int64
	var firstBad atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := rawClient
	for _, base := range []string{n.a, n.b} {
		for _, path := range []string{n.tile, n.look, "/api/v1/units?level=community&limit=5", "/ogc/collections/communities/items?limit=5"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					res, err := client.Get(base + path)
					if err != nil {
						bad.Add(1)
						firstBad.CompareAndSwap(nil, err.Error())
						continue
					}
					io.Copy(io.Discard, res.Body) //nolint:errcheck
					res.Body.Close()
					reads.Add(1)
					if res.StatusCode >= 500 {
						bad.Add(1)
						firstBad.CompareAndSwap(nil, fmt.Sprintf("%s%s: %d", base, path, res.StatusCode))
					}
				}
			}()
		}
	}
	time.Sleep(300 * time.Millisecond)
	if out, err := n.c.Script("stop", "standby"); err != nil {
		t.Fatalf("stop standby: %v %s", err, out)
	}
	eventually(t, 5*time.Second, "reads move to the primary", func() bool { return n.stA.ReadingPrimary() && n.stB.ReadingPrimary() })
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d of %d reads failed while the standby stopped; first: %v", bad.Load(), reads.Load(), firstBad.Load())
	}
	t.Logf("%d reads on two nodes while the standby stopped, none failed", reads.Load())
	res, _ := fetch(t, n.b, n.tile)
	if res.Header.Get(HeaderReadFrom) != "primary" {
		t.Errorf("read from %q with the standby down, want primary", res.Header.Get(HeaderReadFrom))
	}
	var ready struct {
		Status string     `json:"status"`
		Reads  readyState `json:"reads"`
	}
	getJSON(t, n.b+"/readyz", 200, &ready)
	if ready.Status != "ready" || !ready.Reads.ReadingPrimary || ready.Reads.Replicas[0].Up {
		t.Fatalf("/readyz with the standby down: %+v", ready)
	}
}

// tileName is the name a communities tile gives unit code ("": absent).
func tileName(t testing.TB, b []byte, code string) string {
	t.Helper()
	ls, err := mvt.Unmarshal(b)
	if err != nil {
		t.Fatalf("decode tile: %v", err)
	}
	for _, l := range ls {
		for _, f := range l.Features {
			if f.Properties["code"] == code {
				s, _ := f.Properties["name"].(string)
				return s
			}
		}
	}
	return ""
}

// eventually polls cond every 10 ms for at most d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// On a single node (no read pools) writes carry their version too, a read
// naming it answers at once, one naming a version not made yet is 400,
// and /readyz reports the version read.
func TestReadYourWritesSingleNode(t *testing.T) {
	url, st := testServer(t, Config{})
	ed := newKeys(t, st)["editor"]
	var list struct {
		Items []unitJSON `json:"items"`
	}
	getJSON(t, url+"/api/v1/units?level=community&limit=1", 200, &list)
	code := list.Items[0].Code
	n := &clusterNodes{editor: ed}
	v := n.rename(t, url, code, "单节点社区")
	if dv, err := st.DataVersion(context.Background()); err != nil || dv != v {
		t.Fatalf("write answered version %d, the primary is at %d (%v)", v, dv, err)
	}
	res, b := fetch(t, url, "/api/v1/units/"+code+"?min_version="+strconv.FormatInt(v, 10))
	if res.StatusCode != 200 || !strings.Contains(string(b), "单节点社区") || res.Header.Get(HeaderReadFrom) != "" {
		t.Fatalf("read with ?min_version: %d, read from %q: %.200s", res.StatusCode, res.Header.Get(HeaderReadFrom), b)
	}
	for _, c := range []struct{ hdr, q, want string }{
		{"", "?min_version=" + strconv.FormatInt(v+5, 10), "min_version"},
		{strconv.FormatInt(v+5, 10), "", HeaderMinVersion},
		{"", "?min_version=-1", "min_version"},
		{"soon", "", HeaderMinVersion},
	} {
		var hdr []string
		if c.hdr != "" {
			hdr = []string{HeaderMinVersion, c.hdr}
		}
		res, b := fetch(t, url, "/api/v1/units/"+code+c.q, hdr...)
		if res.StatusCode != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("min version %q%s: %d %s, want 400 naming %s", c.hdr, c.q, res.StatusCode, b, c.want)
		}
	}
	// A failed write carries no version.
	res, _ = fetch(t, url, "/api/v1/units/"+code)
	req, _ := http.NewRequest("PUT", url+"/api/v1/units/"+code, strings.NewReader("{"))
	req.Header.Set("Authorization", "Bearer "+ed)
	req.Header.Set("If-Match", res.Header.Get("ETag"))
	bad, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode < 400 || bad.Header.Get(HeaderDataVersion) != "" {
		t.Errorf("a refused write: %d with %s %q", bad.StatusCode, HeaderDataVersion, bad.Header.Get(HeaderDataVersion))
	}
	var ready struct {
		Status string     `json:"status"`
		Reads  readyState `json:"reads"`
	}
	getJSON(t, url+"/readyz", 200, &ready)
	if ready.Status != "ready" || ready.Reads.Version != v || ready.Reads.ReadingPrimary || ready.Reads.Replicas != nil {
		t.Fatalf("/readyz on a single node: %+v, want ready at version %d", ready, v)
	}
}
