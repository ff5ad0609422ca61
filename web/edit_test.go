package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
)

// TestAPIEditSemantics: preconditions before the body, the ETag a GET
// gives is the one a PUT needs (a pending version is shown with its own),
// write responses carry fresh measures, and a geometry outside its parent
// is refused unless forced.
func TestAPIEditSemantics(t *testing.T) {
	url, store := testServer(t, Config{})
	ed := newKeys(t, store)["editor"]
	today := boundaries.Today()
	tomorrow := today.AddDate(0, 0, 1).Format("2006-01-02")

	var list struct {
		Items []unitJSON `json:"items"`
	}
	getJSON(t, url+"/api/v1/units?level=community&limit=1", 200, &list)
	code := list.Items[0].Code
	street := *list.Items[0].ParentCode
	res := call(t, "GET", url+"/api/v1/units/"+code, "", nil, nil, nil)
	e1 := res.Header.Get("ETag")
	put := func(props map[string]any, ifMatch string, query string) *http.Response {
		return call(t, "PUT", url+"/api/v1/units/"+code+query, ed, featureBody(props, "null"), map[string]string{"If-Match": ifMatch}, nil)
	}
	errCode := func(res *http.Response) (string, string) {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		b, _ := io.ReadAll(res.Body)
		_ = json.Unmarshal(b, &e)
		return e.Error.Code, e.Error.Message
	}

	// A stale ETag is 412 even when the body lacks its approval.
	res = put(map[string]any{"households": 1}, `"1"`, "")
	if c, _ := errCode(res); res.StatusCode != 412 || c != "stale_etag" {
		t.Fatalf("stale If-Match, no approval: %d %s, want 412 stale_etag", res.StatusCode, c)
	}
	wantStatus(t, call(t, "DELETE", url+"/api/v1/units/"+code+"?approval=x&valid_to="+tomorrow, ed, nil, nil, nil), 428)

	// The write's response is measured: 5000 households is oversized now.
	var w struct {
		Unit struct {
			Status  string   `json:"status"`
			Density *float64 `json:"density"`
		} `json:"unit"`
		Analysis *struct {
			RunID int64  `json:"run_id"`
			At    string `json:"at"`
		} `json:"analysis"`
	}
	res = call(t, "PUT", url+"/api/v1/units/"+code, ed, featureBody(map[string]any{"households": 5000, "approval": "京民发〔2026〕1号",
		"valid_from": today.Format("2006-01-02")}, "null"), map[string]string{"If-Match": e1}, &w)
	wantStatus(t, res, 200)
	e2 := res.Header.Get("ETag")
	if w.Unit.Status != "oversized" || w.Unit.Density == nil || w.Analysis == nil || w.Analysis.RunID == 0 || w.Analysis.At != today.Format("2006-01-02") {
		t.Fatalf("write response: status %q, density %v, analysis %+v; want oversized, a density and today's run", w.Unit.Status, w.Unit.Density, w.Analysis)
	}
	var got unitJSON
	getJSON(t, url+"/api/v1/units/"+code, 200, &got)
	if got.Status != w.Unit.Status {
		t.Errorf("GET after the write: status %q, the write said %q", got.Status, w.Unit.Status)
	}

	// A change dated tomorrow: today's GET shows today's version (its
	// ETag) and names the pending one, whose ETag edits the history.
	res = call(t, "PUT", url+"/api/v1/units/"+code, ed, featureBody(map[string]any{"households": 2000, "approval": "京民发〔2026〕2号",
		"valid_from": tomorrow}, "null"), map[string]string{"If-Match": e2}, nil)
	wantStatus(t, res, 200)
	e3 := res.Header.Get("ETag")
	res = call(t, "GET", url+"/api/v1/units/"+code, "", nil, nil, nil)
	var pend struct {
		Pending *struct {
			VersionID int64  `json:"version_id"`
			ValidFrom string `json:"valid_from"`
			ETag      string `json:"etag"`
		} `json:"pending"`
	}
	if err := json.NewDecoder(res.Body).Decode(&pend); err != nil {
		t.Fatal(err)
	}
	if res.Header.Get("ETag") != e2 || pend.Pending == nil || pend.Pending.ETag != e3 || pend.Pending.ValidFrom != tomorrow {
		t.Fatalf("GET with a pending version: ETag %s (want %s), pending %+v (want ETag %s from %s)", res.Header.Get("ETag"), e2, pend.Pending, e3, tomorrow)
	}
	res = put(map[string]any{"households": 2100, "approval": "x", "valid_from": tomorrow}, e2, "")
	if c, msg := errCode(res); res.StatusCode != 412 || c != "stale_etag" || !strings.Contains(msg, e3) {
		t.Fatalf("PUT with today's ETag while a version is pending: %d %s %q; want 412 naming %s", res.StatusCode, c, msg, e3)
	}
	wantStatus(t, put(map[string]any{"households": 2100, "approval": "x", "valid_from": tomorrow}, e3, ""), 200)

	// A community far outside its street: refused, or written with warnings.
	var bbox struct {
		Extent struct {
			Spatial struct {
				BBox [][]float64 `json:"bbox"`
			} `json:"spatial"`
		} `json:"extent"`
	}
	getJSON(t, url+"/ogc/collections/communities?f=json", 200, &bbox)
	b := bbox.Extent.Spatial.BBox[0]
	x, y := b[2]+0.05, b[3]+0.05
	sq := fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%[1]f,%[2]f],[%[3]f,%[2]f],[%[3]f,%[4]f],[%[1]f,%[4]f],[%[1]f,%[2]f]]]}`, x, y, x+0.005, y+0.005)
	props := map[string]any{"code": street + "951", "level": "community", "name": "外", "parent_code": street,
		"approval": "京民发〔2026〕3号", "valid_from": today.Format("2006-01-02")}
	res = call(t, "POST", url+"/api/v1/units", ed, featureBody(props, sq), nil, nil)
	if c, msg := errCode(res); res.StatusCode != 422 || c != "validation_failed" || !strings.Contains(msg, "outside its parent") {
		t.Fatalf("POST outside the street: %d %s %q; want 422 naming the parent", res.StatusCode, c, msg)
	}
	var forced struct {
		Warnings []string `json:"warnings"`
	}
	res = call(t, "POST", url+"/api/v1/units?force=true", ed, featureBody(props, sq), nil, &forced)
	wantStatus(t, res, 201)
	if len(forced.Warnings) != 1 || !strings.Contains(forced.Warnings[0], "100.0% of the geometry") {
		t.Fatalf("forced write warnings %q, want the one misfit", forced.Warnings)
	}
}
