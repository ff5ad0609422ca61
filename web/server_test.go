package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
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
	if a.Profile != "beijing-2020" || len(a.Units) != man.Counts.Districts+man.Counts.Streets+man.Counts.Communities {
		t.Fatalf("analysis: profile %q, %d units", a.Profile, len(a.Units))
	}
	var f struct {
		Zones []struct {
			Kind string `json:"kind"`
		} `json:"zones"`
		Units []struct{} `json:"units"`
	}
	getJSON(t, url+"/api/v1/findings?kind=orphan", 200, &f)
	if len(f.Zones) != 1 || f.Zones[0].Kind != "orphan" || len(f.Units) != 0 {
		t.Fatalf("findings?kind=orphan: %+v", f)
	}
	getJSON(t, url+"/api/v1/findings?status=nonsense", 400, nil)
	getJSON(t, url+"/api/v1/analysis?profile=nowhere", 400, nil)
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
