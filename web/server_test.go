package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
)

func TestHealthAndReady(t *testing.T) {
	url, store := testServer(t, Config{})
	for _, c := range []struct {
		path string
		want int
	}{{"/healthz", 200}, {"/readyz", 200}, {"/nowhere", 404}} {
		res, err := http.Get(url + c.path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("GET %s: %d, want %d", c.path, res.StatusCode, c.want)
		}
	}
	// With the database gone, /readyz says 503 and /healthz still 200.
	store.Close()
	for _, c := range []struct {
		path string
		want int
	}{{"/healthz", 200}, {"/readyz", 503}} {
		res, err := http.Get(url + c.path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("after close: GET %s: %d, want %d", c.path, res.StatusCode, c.want)
		}
	}
}

func TestAnalysisAPI(t *testing.T) {
	url, _ := testServer(t, Config{})
	_, man := demoCity(t)
	var a struct {
		Profile string `json:"profile"`
		Units   []struct {
			Code    string   `json:"code"`
			Status  string   `json:"status"`
			Reasons []string `json:"reasons"`
		} `json:"units"`
		Zones []struct {
			Kind  string   `json:"kind"`
			Codes []string `json:"codes"`
		} `json:"zones"`
	}
	getJSON(t, url+"/api/v1/analysis", 200, &a)
	if a.Profile != "beijing-2020" || len(a.Units) != man.Counts.Districts+man.Counts.Streets+man.Counts.Communities+man.Counts.Grids {
		t.Fatalf("analysis: profile %q, %d units", a.Profile, len(a.Units))
	}
	var f struct {
		Zones []struct {
			Kind string `json:"kind"`
		} `json:"zones"`
		Units []struct{} `json:"units"`
	}
	getJSON(t, url+"/api/v1/findings?kind=orphan", 200, &f)
	orphans := 0 // the demo's orphan community and its orphan grids
	for _, inj := range append(man.Injected, man.GridProblems...) {
		if inj.Kind == "orphan" {
			orphans++
		}
	}
	if len(f.Zones) != orphans || f.Zones[0].Kind != "orphan" || len(f.Units) != 0 {
		t.Fatalf("findings?kind=orphan: %+v", f)
	}
	getJSON(t, url+"/api/v1/findings?status=nonsense", 400, nil)
	getJSON(t, url+"/api/v1/analysis?profile=nowhere", 400, nil)

	// Revalidation: the same run and data version answer 304; another
	// profile's run is another tag.
	for _, path := range []string{"/api/v1/analysis", "/api/v1/findings?kind=orphan"} {
		res, _ := tileGet(t, url+path)
		tag := res.Header.Get("ETag")
		if res.StatusCode != 200 || !strings.HasPrefix(tag, `W/"run`) {
			t.Fatalf("%s: %d, ETag %q", path, res.StatusCode, tag)
		}
		if res, b := tileGet(t, url+path, "If-None-Match", tag); res.StatusCode != 304 || len(b) != 0 {
			t.Errorf("%s with its ETag: %d, %d bytes, want 304 and none", path, res.StatusCode, len(b))
		}
	}
	res, _ := tileGet(t, url+"/api/v1/analysis")
	if other, _ := tileGet(t, url+"/api/v1/analysis?profile=national-1989", "If-None-Match", res.Header.Get("ETag")); other.StatusCode != 200 {
		t.Errorf("another profile with the default's ETag: %d, want 200", other.StatusCode)
	}
}

func getJSON(t *testing.T, url string, want int, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d", url, res.StatusCode, want)
	}
	if v != nil {
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
}

// /readyz answers 200 while every pooled connection is busy (it probes on
// its own connection) and says the pool is saturated.
func TestReadyUnderLoad(t *testing.T) {
	url, store := testServer(t, Config{})
	pool := store.Primary()
	// The data version listener holds one already.
	for pool.Stat().AcquiredConns() < pool.Stat().MaxConns() {
		c, err := pool.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
	}
	cl := &http.Client{Timeout: 3 * time.Second}
	res, err := cl.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Status string
		Pool   struct{ Saturated bool }
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 || body.Status != "ready" || !body.Pool.Saturated {
		t.Fatalf("readyz with a saturated pool: %d %+v %v", res.StatusCode, body, err)
	}
}

// HEAD is answered wherever GET is: same status and headers, no body.
func TestHeadLikeGet(t *testing.T) {
	url, _ := testServer(t, Config{})
	for _, path := range []string{"/healthz", "/api/v1/units?limit=2", "/ogc/collections", "/tiles/style.json", "/nowhere"} {
		get, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		get.Body.Close()
		head, err := http.Head(url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(head.Body)
		head.Body.Close()
		if head.StatusCode != get.StatusCode || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") || len(b) != 0 {
			t.Errorf("HEAD %s: %d %q %d bytes; GET %d %q", path, head.StatusCode, head.Header.Get("Content-Type"), len(b),
				get.StatusCode, get.Header.Get("Content-Type"))
		}
	}
}

// A NUL byte or invalid UTF-8 in any parameter or path segment is a 400
// naming it, never a 500.
func TestBadBytesAre400(t *testing.T) {
	url, _ := testServer(t, Config{})
	for _, c := range []struct{ path, name string }{
		{"/api/v1/units?q=%00", "q"},
		{"/ogc/collections/communities/items?name=%ff", "name"},
		{"/map/api/search?q=%00", "q"},
		{"/api/v1/units/%00", "code"},
		{"/api/v1/lookup?lon=116.4&lat=39.9&at=%ff", "at"},
		{"/tiles/communities/12/3368/1555.mvt?profile=%00", "profile"},
	} {
		res, err := http.Get(url + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || !strings.Contains(string(b), c.name) {
			t.Errorf("GET %s: %d %s; want 400 naming %s", c.path, res.StatusCode, b, c.name)
		}
	}
}

// Tiles, OGC API, downloads and the map's API are rate-limited per client
// like /api/v1 (tiles on their own, higher limit); a read for another day,
// which may need an analysis, costs more than a cached one.
func TestReadRateLimits(t *testing.T) {
	url, _ := testServer(t, Config{API: APIConfig{RateLimit: 5, TileRateLimit: 20}})
	status := func(path string) (int, string) {
		res, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Retry-After")
	}
	limited := 0
	for range 60 {
		if code, _ := status("/tiles/communities/5/26/12.mvt"); code == 429 {
			limited++
		}
	}
	if limited == 0 || limited > 30 {
		t.Fatalf("%d of 60 quick tile requests limited, want some but not most (burst 40)", limited)
	}
	// OGC: burst 10 = one read for another day.
	if code, _ := status("/ogc/collections?at=2020-01-01"); code != 200 {
		t.Fatalf("first other-day read: %d", code)
	}
	if code, retry := status("/ogc/collections"); code != 429 || retry == "" {
		t.Fatalf("after an other-day read: %d (Retry-After %q), want 429", code, retry)
	}
}

// With the database out of reach, cached tiles and the in-memory lookup
// keep answering (marked stale); what needs the database is 503 with
// Retry-After, not 500.
func TestReadsDuringOutage(t *testing.T) {
	url, store := testServer(t, Config{})
	_, man := demoCity(t)
	lon, lat := (man.BBox[0]+man.BBox[2])/2, (man.BBox[1]+man.BBox[3])/2
	x, y := lonLatTile(lon, lat, 12)
	tile := fmt.Sprintf("/tiles/communities/12/%d/%d.mvt", x, y)
	look := fmt.Sprintf("/api/v1/lookup?lon=%f&lat=%f", lon, lat)
	get := func(path string) (*http.Response, []byte) {
		res, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, b
	}
	before, tb := get(tile)
	_, lb := get(look)
	if before.StatusCode != 200 {
		t.Fatalf("tile before: %d", before.StatusCode)
	}
	store.Close()
	res, b := get(tile)
	if res.StatusCode != 200 || !bytes.Equal(b, tb) || res.Header.Get("X-Jiedao-Stale") != "true" {
		t.Errorf("cached tile during the outage: %d stale=%q same=%v", res.StatusCode, res.Header.Get("X-Jiedao-Stale"), bytes.Equal(b, tb))
	}
	res, b = get(look)
	if res.StatusCode != 200 || !bytes.Equal(b, lb) || res.Header.Get("X-Jiedao-Stale") != "true" {
		t.Errorf("lookup during the outage: %d %s", res.StatusCode, b)
	}
	res, b = get("/api/v1/units?limit=1")
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
		t.Errorf("units during the outage: %d %s, want 503 with Retry-After", res.StatusCode, b)
	}
}

// TestCompression: JSON of a kilobyte or more is gzipped when the client
// asks, smaller JSON and clients that do not ask get it plain; the map
// page links its files by content hash (immutable) and answers 304 to its
// ETag; tiles, which gzip themselves, are not compressed twice.
func TestCompression(t *testing.T) {
	base, _ := testServer(t, Config{})
	gunzip := func(b []byte) []byte {
		t.Helper()
		r, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("not gzip: %v", err)
		}
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// /map/api/places/streets is several kilobytes, /healthz a few bytes.
	res, b := tileGet(t, base+"/map/api/places/streets", "Accept-Encoding", "gzip")
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("places: Content-Encoding %q, Vary %q", res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	}
	var places []struct{ Code string }
	if plain := gunzip(b); len(plain) < compressMinBytes || json.Unmarshal(plain, &places) != nil || len(places) == 0 {
		t.Fatalf("places: %d bytes unzipped, %d places", len(plain), len(places))
	}
	if res, b := tileGet(t, base+"/map/api/places/streets"); res.Header.Get("Content-Encoding") != "" || !json.Valid(b) {
		t.Errorf("places without Accept-Encoding: Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
	if res, b := tileGet(t, base+"/healthz", "Accept-Encoding", "gzip"); res.Header.Get("Content-Encoding") != "" || len(b) >= compressMinBytes || !json.Valid(b) {
		t.Errorf("healthz (%d bytes): Content-Encoding %q", len(b), res.Header.Get("Content-Encoding"))
	}

	// The page: compressed, linking hashed files, 304 on its ETag.
	res, b = tileGet(t, base+"/", "Accept-Encoding", "gzip")
	etag := res.Header.Get("ETag")
	if res.Header.Get("Content-Encoding") != "gzip" || etag == "" || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("page: %v", res.Header)
	}
	page := string(gunzip(b))
	js := regexp.MustCompile(`/static/vendor/maplibre-gl\.[0-9a-f]{12}\.js`).FindString(page)
	if js == "" {
		t.Fatalf("page links no hashed maplibre-gl.js:\n%s", page)
	}
	for _, ae := range []string{"gzip", "br", ""} {
		if res, b := tileGet(t, base+"/", "If-None-Match", etag, "Accept-Encoding", ae); res.StatusCode != 304 || len(b) != 0 {
			t.Errorf("page with If-None-Match %s (Accept-Encoding %q): %d, %d bytes", etag, ae, res.StatusCode, len(b))
		}
	}
	if res, _ := tileGet(t, base+"/", "If-None-Match", `"other"`); res.StatusCode != 200 {
		t.Errorf("page with another ETag: %d", res.StatusCode)
	}
	res, b = tileGet(t, base+js, "Accept-Encoding", "br;q=0, gzip")
	if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" ||
		res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || !strings.Contains(string(gunzip(b)), "maplibregl") {
		t.Errorf("%s: %d %v", js, res.StatusCode, res.Header)
	}
	if res, b := tileGet(t, base+js, "Accept-Encoding", "gzip, br"); res.Header.Get("Content-Encoding") != "br" || len(b) > 400_000 {
		t.Errorf("%s with br: %q, %d bytes", js, res.Header.Get("Content-Encoding"), len(b))
	}
	if res, b := tileGet(t, base+js, "Accept-Encoding", "zstd"); res.Header.Get("Content-Encoding") != "" || !strings.Contains(string(b), "maplibregl") {
		t.Errorf("%s, zstd only: sent %q (stored bytes only, never compressed per request)", js, res.Header.Get("Content-Encoding"))
	}
	if res, _ := tileGet(t, base+"/static/vendor/maplibre-gl.000000000000.js"); res.StatusCode != 404 {
		t.Errorf("a stale hash: %d", res.StatusCode)
	}

	// Tiles are encoded by the tile handler only: raw when cold, then
	// gzipped once.
	_, man := demoCity(t)
	x, y := lonLatTile((man.BBox[0]+man.BBox[2])/2, (man.BBox[1]+man.BBox[3])/2, 12)
	tile := fmt.Sprintf("%s/tiles/communities/12/%d/%d.mvt", base, x, y)
	if res, _ := tileGet(t, tile, "Accept-Encoding", "gzip, zstd"); res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "" {
		t.Errorf("cold tile: %d, Content-Encoding %q", res.StatusCode, res.Header.Get("Content-Encoding"))
	}
	res, b = tileGet(t, tile, "Accept-Encoding", "gzip, zstd")
	if res.Header.Get("Content-Encoding") != "gzip" || bytes.HasPrefix(gunzip(b), []byte{0x1f, 0x8b}) {
		t.Errorf("cached tile: Content-Encoding %q, or gzipped twice", res.Header.Get("Content-Encoding"))
	}
}

// TestHeavyLimit: with a pool of 4, two heavy requests at a time and one
// bulk among them; light requests, and reads of today's default run, pass
// while every heavy slot is held.
func TestHeavyLimit(t *testing.T) {
	e := echo.New()
	release := make(chan struct{})
	var running atomic.Int32
	e.Use(heavyLimit(4))
	block := func(c echo.Context) error {
		running.Add(1)
		defer running.Add(-1)
		select {
		case <-release:
		case <-c.Request().Context().Done():
		}
		return c.NoContent(http.StatusOK)
	}
	e.GET("/ogc/collections/:c/items", block)
	e.GET("/download/:f", block)
	e.GET("/tiles/:l/:z/:x/:y", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	srv := httptest.NewServer(e)
	defer srv.Close()
	wait := func(n int32) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); running.Load() != n; {
			if time.Now().After(deadline) {
				t.Fatalf("%d heavy requests running, want %d", running.Load(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	start := func(path string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, err := http.Get(srv.URL + path); err == nil {
				res.Body.Close()
			}
		}()
	}
	start("/download/communities.gpkg")
	wait(1)
	start("/download/streets.gpkg") // bulk: waits for the first download
	time.Sleep(50 * time.Millisecond)
	wait(1)
	start("/ogc/collections/communities/items")
	wait(2)
	start("/ogc/collections/streets/items") // heavy: both slots held
	time.Sleep(50 * time.Millisecond)
	wait(2)
	today := boundaries.Today().Format("2006-01-02")
	for _, light := range []string{"/tiles/communities/12/3372/1552.mvt", "/tiles/communities/12/3372/1552.mvt?at=" + today + "&profile=beijing-2020"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+light, nil)
		res, err := http.DefaultClient.Do(req)
		cancel()
		if err != nil {
			t.Fatalf("light %s while heavy slots are full: %v", light, err)
		}
		res.Body.Close()
	}
	close(release)
	wg.Wait()

	for _, c := range []struct {
		method, target string
		bulk, heavy    bool
	}{
		{"GET", "/tiles/communities/12/1/1.mvt", false, false},
		{"GET", "/api/v1/lookup?lon=116.4&lat=39.9&at=" + today, false, false},
		{"GET", "/tiles/communities/12/1/1.mvt?at=2020-01-01", false, true},
		{"GET", "/tiles/communities/12/1/1.mvt?profile=national-1989", false, true},
		{"GET", "/tiles/communities/12/1/1.mvt?scenario=3", false, true},
		{"GET", "/ogc/collections/communities/items?datetime=2020-01-01", false, true},
		{"GET", "/ogc/collections/communities", false, false},
		{"GET", "/api/v1/findings", false, true},
		{"POST", "/api/v1/plans", true, true},
		{"POST", "/api/v1/imports", true, true},
		{"GET", "/api/v1/imports", false, false},
	} {
		r := httptest.NewRequest(c.method, c.target, nil)
		if b, h := requestWeight(r); b != c.bulk || h != c.heavy {
			t.Errorf("%s %s: bulk %v heavy %v, want %v %v", c.method, c.target, b, h, c.bulk, c.heavy)
		}
	}
}
