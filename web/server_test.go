package web

import (
	"encoding/json"
	"net/http"
	"testing"
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
