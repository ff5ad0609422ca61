package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/web/ogc"
	"github.com/jiedao/jiedao/web/tiles"
)

// TestPlansScenarioAPI: plan a street with an oversized community, make a
// scenario of it, diff and adopt it over HTTP; writes need an editor key.
func TestPlansScenarioAPI(t *testing.T) {
	ctx := context.Background()
	url, store := testServer(t, Config{})
	key, err := units.CreateKey(ctx, store, "test-editor", units.Editor)
	if err != nil {
		t.Fatal(err)
	}
	var street, big string
	if err := store.Primary().QueryRow(ctx, `SELECT parent_code, code FROM units WHERE level = 'community' AND valid_to IS NULL
		AND households > 3000 AND parent_code IS NOT NULL ORDER BY households DESC, code LIMIT 1`).Scan(&street, &big); err != nil {
		t.Fatal(err)
	}
	body := `{"street":"` + street + `","seed":1}`
	wantStatus(t, call(t, "POST", url+"/api/v1/plans", "", strings.NewReader(body), nil, nil), http.StatusUnauthorized)
	var pr struct {
		ID   int64      `json:"id"`
		Plan *plan.Plan `json:"plan"`
	}
	wantStatus(t, call(t, "POST", url+"/api/v1/plans", key, strings.NewReader(body), nil, &pr), http.StatusCreated)
	if pr.ID == 0 || len(pr.Plan.Units) == 0 {
		t.Fatalf("plan %d with %d units", pr.ID, len(pr.Plan.Units))
	}
	var got struct {
		ID   int64     `json:"id"`
		Plan plan.Plan `json:"plan"`
	}
	wantStatus(t, call(t, "GET", url+"/api/v1/plans/"+idStr(pr.ID), "", nil, nil, &got), http.StatusOK)
	if got.ID != pr.ID || got.Plan.Scope != "street "+street {
		t.Fatalf("GET plan: %+v", got)
	}
	wantStatus(t, call(t, "GET", url+"/api/v1/plans/999999", "", nil, nil, nil), http.StatusNotFound)
	sbody := `{"name":"api-split","plan_id":` + idStr(pr.ID) + `}`
	wantStatus(t, call(t, "POST", url+"/api/v1/scenarios", "", strings.NewReader(sbody), nil, nil), http.StatusUnauthorized)
	var sc scenario.Scenario
	wantStatus(t, call(t, "POST", url+"/api/v1/scenarios", key, strings.NewReader(sbody), nil, &sc), http.StatusCreated)
	wantStatus(t, call(t, "POST", url+"/api/v1/scenarios", key, strings.NewReader(sbody), nil, nil), http.StatusConflict)
	var d struct {
		Rows []scenario.DiffRow `json:"rows"`
	}
	wantStatus(t, call(t, "GET", url+"/api/v1/scenarios/"+idStr(sc.ID)+"/diff", "", nil, nil, &d), http.StatusOK)
	news := 0
	for _, r := range d.Rows {
		if r.Change == "new" {
			news++
		}
	}
	if news == 0 {
		t.Fatalf("diff lists no new part: %+v", d.Rows)
	}
	scenarioLayers(t, url, store, sc, big, news)
	adopt := `{"approval":"京政函〔2026〕8号","valid_from":"` + boundaries.Today().AddDate(0, 0, 1).Format("2006-01-02") + `"}`
	adoptURL := url + "/api/v1/scenarios/" + idStr(sc.ID) + "/adopt"
	wantStatus(t, call(t, "POST", adoptURL, "", strings.NewReader(adopt), nil, nil), http.StatusUnauthorized)
	var res scenario.AdoptResult
	wantStatus(t, call(t, "POST", adoptURL, key, strings.NewReader(adopt), nil, &res), http.StatusOK)
	if len(res.Created) != news {
		t.Errorf("created %v, %d new in the diff", res.Created, news)
	}
	h, err := units.History(ctx, store, big)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[1].Approval == nil || *h[1].Approval != "京政函〔2026〕8号" {
		t.Errorf("history of %s: %+v", big, h)
	}
	wantStatus(t, call(t, "POST", adoptURL, key, strings.NewReader(adopt), nil, nil), http.StatusConflict)
}

func idStr(n int64) string { return strconv.FormatInt(n, 10) }

// scenarioLayers checks a scenario over HTTP before it is adopted: listed
// and read with its links, served as tiles, OGC API items (also to GDAL)
// and downloads with ?scenario=, while the same requests without it still
// show the live boundaries.
func scenarioLayers(t *testing.T, url string, store *store.Store, sc scenario.Scenario, big string, news int) {
	t.Helper()
	var list struct {
		Scenarios []struct {
			scenario.Summary
			Links map[string]string `json:"links"`
		} `json:"scenarios"`
	}
	wantStatus(t, call(t, "GET", url+"/api/v1/scenarios", "", nil, nil, &list), http.StatusOK)
	if len(list.Scenarios) != 1 || list.Scenarios[0].ID != sc.ID || list.Scenarios[0].Units != len(sc.Codes) ||
		list.Scenarios[0].Links["map"] != "/?scenario="+idStr(sc.ID) {
		t.Fatalf("scenario list: %+v", list)
	}
	var one scenario.Scenario
	wantStatus(t, call(t, "GET", url+"/api/v1/scenarios/"+idStr(sc.ID), "", nil, nil, &one), http.StatusOK)
	if one.Name != sc.Name || len(one.Codes) != len(sc.Codes) {
		t.Fatalf("GET scenario: %+v", one)
	}
	wantStatus(t, call(t, "GET", url+"/api/v1/scenarios/999999", "", nil, nil, nil), http.StatusNotFound)

	// The split community's items: live it is one oversized unit; in the
	// scenario it is gone or smaller and its parts are proposed.
	q := "?scenario=" + idStr(sc.ID)
	type fc struct {
		NumberMatched int `json:"numberMatched"`
		Features      []struct {
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	var live, scen fc
	if code, _ := ogcGet(t, url+"/ogc/collections/communities/items?limit=1000", &live); code != 200 {
		t.Fatalf("live items: %d", code)
	}
	if code, _ := ogcGet(t, url+"/ogc/collections/communities/items"+q+"&limit=1000", &scen); code != 200 {
		t.Fatalf("scenario items: %d", code)
	}
	proposed := map[string]bool{}
	for _, f := range scen.Features {
		if f.Properties["proposed"] == true {
			proposed[f.Properties["code"].(string)] = true
		}
		if f.Properties["status"] == "oversized" && f.Properties["code"] == big {
			t.Errorf("%s is still oversized in the scenario", big)
		}
	}
	for _, f := range live.Features {
		if f.Properties["proposed"] == true {
			t.Errorf("live item %v is proposed", f.Properties["code"])
		}
	}
	if len(proposed) != len(sc.Codes) || scen.NumberMatched != live.NumberMatched-len(sc.Removed)+news {
		t.Errorf("scenario items: %d matched (%d proposed), live %d, scenario adds %d and removes %d",
			scen.NumberMatched, len(proposed), live.NumberMatched, news, len(sc.Removed))
	}
	var col struct {
		Links []ogc.Link `json:"links"`
	}
	ogcGet(t, url+"/ogc/collections/communities"+q, &col)
	if h := ogcHref(col.Links, "items"); !strings.Contains(h, "scenario="+idStr(sc.ID)) {
		t.Errorf("collection items link %q does not carry the scenario", h)
	}
	if code, _ := ogcGet(t, url+"/ogc/collections/communities/items?scenario=999999", nil); code != http.StatusNotFound {
		t.Errorf("unknown scenario: %d, want 404", code)
	}
	if code, _ := ogcGet(t, url+"/ogc/collections/communities/items?scenario=abc", nil); code != http.StatusBadRequest {
		t.Errorf("scenario=abc: %d, want 400", code)
	}

	// Analysis and findings of the scenario: the split community is no
	// longer flagged, its parts are listed with names and parents.
	var fl, fs Findings
	wantStatus(t, call(t, "GET", url+"/api/v1/findings?status=oversized", "", nil, nil, &fl), http.StatusOK)
	wantStatus(t, call(t, "GET", url+"/api/v1/findings?status=oversized&scenario="+idStr(sc.ID), "", nil, nil, &fs), http.StatusOK)
	flagged := func(f Findings) bool {
		for _, u := range f.Units {
			if u.Code == big {
				return true
			}
		}
		return false
	}
	if !flagged(fl) || flagged(fs) || len(fs.Units) >= len(fl.Units) {
		t.Errorf("oversized findings: live %d (with %s: %v), scenario %d (with it: %v)", len(fl.Units), big, flagged(fl), len(fs.Units), flagged(fs))
	}
	var an analysis.Analysis
	wantStatus(t, call(t, "GET", url+"/api/v1/analysis?scenario="+idStr(sc.ID), "", nil, nil, &an), http.StatusOK)
	nParts := 0
	for _, u := range an.Units {
		if proposed[u.Code] && u.Name != "" && u.ParentCode != nil {
			nParts++
		}
	}
	if an.Scenario != sc.ID || nParts != len(sc.Codes) {
		t.Errorf("scenario analysis: scenario %d, %d of %d proposed units with name and parent", an.Scenario, nParts, len(sc.Codes))
	}
	wantStatus(t, call(t, "GET", url+"/api/v1/analysis?scenario=999999", "", nil, nil, nil), http.StatusNotFound)

	// Tiles: the tile over the split community shows its parts.
	var lon, lat float64
	if err := store.Primary().QueryRow(context.Background(), `SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM units
		WHERE code = $1 AND valid_to IS NULL) x`, big).Scan(&lon, &lat); err != nil {
		t.Fatal(err)
	}
	x, y := lonLatTile(lon, lat, 14)
	codes := func(fs []*tileFeature) map[string]bool {
		m := map[string]bool{}
		for _, f := range fs {
			m[f.str("code")] = true
		}
		return m
	}
	lt, st := codes(tileFeatures(t, url, "communities", 14, x, y, "")), codes(tileFeatures(t, url, "communities", 14, x, y, q))
	if !lt[big] {
		t.Errorf("live tile 14/%d/%d lacks %s", x, y, big)
	}
	parts := 0
	for c := range st {
		if proposed[c] {
			parts++
		}
	}
	if parts == 0 {
		t.Errorf("scenario tile 14/%d/%d shows no proposed unit: %v", x, y, st)
	}
	if res, _ := tileGet(t, fmt.Sprintf("%s/tiles/communities/14/%d/%d.mvt?scenario=999999", url, x, y)); res.StatusCode != http.StatusNotFound {
		t.Errorf("tile of an unknown scenario: %d, want 404", res.StatusCode)
	}
	var tj tiles.TileJSON
	if code, _ := ogcGet(t, url+"/tiles/communities.json"+q, &tj); code != 200 || !strings.HasSuffix(tj.Tiles[0], q) {
		t.Errorf("TileJSON of the scenario: %d %v", code, tj.Tiles)
	}

	// Download and GDAL: the scenario's communities, with the proposed units.
	res, b := tileGet(t, url+"/download/communities.geojson"+q)
	var dl fc
	if err := json.Unmarshal(b, &dl); err != nil {
		t.Fatalf("download: %v", err)
	}
	np := 0
	for _, f := range dl.Features {
		if f.Properties["proposed"] == true {
			np++
		}
	}
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Disposition"), "scenario-"+idStr(sc.ID)) ||
		np != len(sc.Codes) || len(dl.Features) != scen.NumberMatched {
		t.Errorf("download: %d %q, %d features, %d proposed", res.StatusCode, res.Header.Get("Content-Disposition"), len(dl.Features), np)
	}
	// GDAL keeps the connection URL's query on every request it makes.
	if scen.NumberMatched == live.NumberMatched {
		t.Fatalf("scenario and live have the same count (%d): the GDAL check would prove nothing", live.NumberMatched)
	}
	ogrinfo := ogcTool(t, "ogrinfo")
	out := ogcRun(t, ogrinfo, "-ro", "-so", "OAPIF:"+url+"/ogc"+q, "communities")
	if !strings.Contains(out, fmt.Sprintf("Feature Count: %d", scen.NumberMatched)) {
		t.Errorf("ogrinfo on the scenario: want Feature Count: %d\n%s", scen.NumberMatched, out)
	}
}
