package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
)

// TestPlansScenarioAPI: plan a street with an oversized community, make a
// scenario of it, diff and adopt it over HTTP; writes need an editor key.
func TestPlansScenarioAPI(t *testing.T) {
	ctx := context.Background()
	url, store := testServer(t, Config{})
	key, err := store.CreateKey(ctx, "test-editor", boundaries.Editor)
	if err != nil {
		t.Fatal(err)
	}
	var street, big string
	if err := store.Pool.QueryRow(ctx, `SELECT parent_code, code FROM units WHERE level = 'community' AND valid_to IS NULL
		AND households > 3000 AND parent_code IS NOT NULL ORDER BY households DESC, code LIMIT 1`).Scan(&street, &big); err != nil {
		t.Fatal(err)
	}
	body := `{"street":"` + street + `","seed":1}`
	wantStatus(t, call(t, "POST", url+"/api/v1/plans", "", strings.NewReader(body), nil, nil), http.StatusUnauthorized)
	var pr struct {
		ID   int64            `json:"id"`
		Plan *boundaries.Plan `json:"plan"`
	}
	wantStatus(t, call(t, "POST", url+"/api/v1/plans", key, strings.NewReader(body), nil, &pr), http.StatusCreated)
	if pr.ID == 0 || len(pr.Plan.Units) == 0 {
		t.Fatalf("plan %d with %d units", pr.ID, len(pr.Plan.Units))
	}
	var got struct {
		ID   int64           `json:"id"`
		Plan boundaries.Plan `json:"plan"`
	}
	wantStatus(t, call(t, "GET", url+"/api/v1/plans/"+idStr(pr.ID), "", nil, nil, &got), http.StatusOK)
	if got.ID != pr.ID || got.Plan.Scope != "street "+street {
		t.Fatalf("GET plan: %+v", got)
	}
	wantStatus(t, call(t, "GET", url+"/api/v1/plans/999999", "", nil, nil, nil), http.StatusNotFound)
	sbody := `{"name":"api-split","plan_id":` + idStr(pr.ID) + `}`
	wantStatus(t, call(t, "POST", url+"/api/v1/scenarios", "", strings.NewReader(sbody), nil, nil), http.StatusUnauthorized)
	var sc boundaries.Scenario
	wantStatus(t, call(t, "POST", url+"/api/v1/scenarios", key, strings.NewReader(sbody), nil, &sc), http.StatusCreated)
	wantStatus(t, call(t, "POST", url+"/api/v1/scenarios", key, strings.NewReader(sbody), nil, nil), http.StatusConflict)
	var d struct {
		Rows []boundaries.ScenarioDiffRow `json:"rows"`
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
	adopt := `{"approval":"京政函〔2026〕8号","valid_from":"` + boundaries.Today().AddDate(0, 0, 1).Format("2006-01-02") + `"}`
	adoptURL := url + "/api/v1/scenarios/" + idStr(sc.ID) + "/adopt"
	wantStatus(t, call(t, "POST", adoptURL, "", strings.NewReader(adopt), nil, nil), http.StatusUnauthorized)
	var res boundaries.AdoptResult
	wantStatus(t, call(t, "POST", adoptURL, key, strings.NewReader(adopt), nil, &res), http.StatusOK)
	if len(res.Created) != news {
		t.Errorf("created %v, %d new in the diff", res.Created, news)
	}
	h, err := store.History(ctx, big)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[1].Approval == nil || *h[1].Approval != "京政函〔2026〕8号" {
		t.Errorf("history of %s: %+v", big, h)
	}
	wantStatus(t, call(t, "POST", adoptURL, key, strings.NewReader(adopt), nil, nil), http.StatusConflict)
}

func idStr(n int64) string { return strconv.FormatInt(n, 10) }
