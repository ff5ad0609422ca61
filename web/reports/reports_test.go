package reports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/web"
)

// TestReportRoutes serves both reports of the real Beixinqiao street
// through the application, and the errors: 404 for an unknown scenario,
// 400 naming a bad parameter.
func TestReportRoutes(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	pgtest.ImportBeixinqiao(t, s)
	// Building points in proportion to households, as the plan tests place
	// them, so 民安 can be split.
	pgtest.BuildingPoints(t, s)
	pl := pgtest.Plan(t, s, plan.Options{Street: "110101005", Seed: 1})
	sc, err := scenario.Create(ctx, s, `民安<b>拆分</b>`, pl.Profile, pl.Summary(0), pgtest.ScenarioUnits(t, pl), pgtest.ScenarioRemoved(t, pl))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(s, web.Config{}))
	defer srv.Close()

	base := fmt.Sprintf("%s/reports/scenarios/%d", srv.URL, sc.ID)
	body, h := get(t, base+".html?street=110101005", 200)
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("content type %q", ct)
	}
	for _, want := range []string{"民安社区", "110101005006", "北新桥街道社区规模调整方案（草案）", "民安&lt;b&gt;拆分&lt;/b&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("scenario report lacks %q", want)
		}
	}
	if strings.Contains(body, "<b>拆分") {
		t.Error("the scenario's name got into the markup")
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("CSP %q", h.Get("Content-Security-Policy"))
	}
	status, _ := get(t, srv.URL+"/reports/status.html?street=110101005", 200)
	if !strings.Contains(status, "北新桥街道社区规模现状评估") || !strings.Contains(status, "households 3523 &gt; 3000") {
		t.Errorf("status report: %.300s", status)
	}

	for _, c := range []struct {
		path  string
		code  int
		param string
	}{
		{"/reports/scenarios/999999.html", 404, ""},
		{"/reports/scenarios/abc.html", 404, ""},
		{fmt.Sprintf("/reports/scenarios/%d.docx", sc.ID), 404, ""},
		{fmt.Sprintf("/reports/scenarios/%d.html?street=110101001", sc.ID), 400, "street"},
		{fmt.Sprintf("/reports/scenarios/%d.html?profile=nope", sc.ID), 400, "profile"},
		{"/reports/status.html?at=2025-02-30", 400, "at"},
		{"/reports/status.html?district=110101&street=110101005", 400, "street"},
		{"/reports/status.html?district=999999", 400, "district"},
		{"/reports/status.html?street=110101999", 400, "street"},
	} {
		body, _ := get(t, srv.URL+c.path, c.code)
		if c.param != "" {
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Error.Message, "parameter "+c.param) {
				t.Errorf("%s: %s, want a message naming parameter %s", c.path, body, c.param)
			}
		}
	}

	if _, err := exec.LookPath("chromium"); err != nil {
		if os.Getenv("JIEDAO_REQUIRE_TOOLS") != "" {
			t.Fatal("chromium is missing: install the Debian package chromium")
		}
		t.Skip("chromium not installed: skipping the PDFs")
	}
	for _, path := range []string{fmt.Sprintf("/reports/scenarios/%d.pdf", sc.ID), "/reports/status.pdf?street=110101005"} {
		body, h := get(t, srv.URL+path, 200)
		if h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(body, "%PDF-") {
			t.Errorf("%s: %s, %.10q", path, h.Get("Content-Type"), body)
		}
	}
}

func get(t *testing.T, url string, want int) (string, http.Header) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Errorf("GET %s: %d, want %d: %.300s", url, res.StatusCode, want, bytes.TrimSpace(b))
	}
	return string(b), res.Header
}
