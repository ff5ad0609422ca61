package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/dispatch"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/web/mapui"
	"github.com/jiedao/jiedao/web/tiles"
)

func TestMapAPI(t *testing.T) {
	base, _ := testServer(t, Config{})
	_, man := demoCity(t)

	t.Run("page and embedded files", func(t *testing.T) {
		for _, c := range []struct{ path, ctype, contains string }{
			{"/", "text/html", "/static/vendor/maplibre-gl."},
			{"/static/map.js", "javascript", "jiedaoIdle"},
			{"/static/map.css", "text/css", "WenQuanYi Micro Hei"},
			{"/static/vendor/maplibre-gl.js", "javascript", "maplibregl"},
			{"/static/vendor/maplibre-gl.css", "text/css", "maplibregl"},
		} {
			res, b := tileGet(t, base+c.path)
			if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), c.ctype) || !strings.Contains(string(b), c.contains) {
				t.Errorf("GET %s: %d %q, contains %q: %v", c.path, res.StatusCode, res.Header.Get("Content-Type"), c.contains, strings.Contains(string(b), c.contains))
			}
		}
		if res, _ := tileGet(t, base+"/static/nope.js"); res.StatusCode != 404 {
			t.Errorf("missing static file: %d", res.StatusCode)
		}
	})

	t.Run("profile thresholds", func(t *testing.T) {
		for _, c := range []struct {
			profile  string
			min, max float64
		}{{"", 500, 3000}, {"beijing-2020", 500, 3000}, {"national-1989", 100, 700}} {
			var p struct {
				Name      string
				Community struct {
					MinHouseholds struct{ Value float64 } `json:"min_households"`
					MaxHouseholds struct{ Value float64 } `json:"max_households"`
				}
			}
			getJSON(t, base+"/map/api/profile?profile="+c.profile, 200, &p)
			if p.Community.MinHouseholds.Value != c.min || p.Community.MaxHouseholds.Value != c.max {
				t.Errorf("profile %q: %+v", c.profile, p)
			}
		}
		getJSON(t, base+"/map/api/profile?profile=nope", 400, nil)
	})

	var community string
	for _, inj := range man.Injected {
		if inj.Level == "community" {
			community = inj.Codes[0]
			break
		}
	}

	t.Run("history", func(t *testing.T) {
		var h []struct {
			Code, Name string
			ValidFrom  string `json:"valid_from"`
		}
		getJSON(t, base+"/map/api/history/"+community, 200, &h)
		if len(h) != 1 || h[0].Code != community || h[0].Name == "" {
			t.Fatalf("history of %s: %+v", community, h)
		}
		getJSON(t, base+"/map/api/history/nope", 404, nil)
	})

	t.Run("search, places and extent", func(t *testing.T) {
		var hits []struct {
			Code, Name, Level string
			Lon, Lat          float64
			BBox              [4]float64
		}
		getJSON(t, base+"/map/api/search?q="+community, 200, &hits)
		if len(hits) == 0 || hits[0].Code != community || hits[0].Lon < hits[0].BBox[0] || hits[0].Lon > hits[0].BBox[2] {
			t.Fatalf("search %s: %+v", community, hits)
		}
		name := hits[0].Name
		getJSON(t, base+"/map/api/search?q="+url.QueryEscape(name), 200, &hits)
		found := false
		for _, h := range hits {
			found = found || h.Code == community
		}
		if !found {
			t.Fatalf("search by name %s: %+v", name, hits)
		}
		var streets []struct{ Code, Name string }
		getJSON(t, base+"/map/api/places/streets", 200, &streets)
		if len(streets) != man.Counts.Streets {
			t.Fatalf("%d street places, manifest %d", len(streets), man.Counts.Streets)
		}
		getJSON(t, base+"/map/api/places/parks", 404, nil)
		var e struct{ BBox [4]float64 }
		getJSON(t, base+"/map/api/extent?codes="+community+","+hits[0].Code, 200, &e)
		if e.BBox[0] < man.BBox[0]-0.01 || e.BBox[2] > man.BBox[2]+0.01 || e.BBox[0] >= e.BBox[2] {
			t.Fatalf("extent %v", e.BBox)
		}
		getJSON(t, base+"/map/api/extent?codes=nope", 404, nil)
		getJSON(t, base+"/map/api/extent", 400, nil)
	})
}

// browserFlags are exactly the flags the map test runs Chromium with.
var browserFlags = []string{"headless", "no-sandbox", "disable-gpu", "enable-unsafe-swiftshader",
	"disable-background-networking", "disable-component-update", "disable-sync", "no-first-run"}

const chromiumPath = "/usr/bin/chromium"

// TestMapBrowser opens the page in headless Chromium, waits for the map to
// render communities, clicks one and reads the panel.
func TestMapBrowser(t *testing.T) {
	needChromium(t)
	base, _ := testServer(t, Config{})
	_, man := demoCity(t)
	injected := map[string]bool{}
	for _, inj := range man.Injected {
		for _, c := range append(inj.Codes, inj.Near...) {
			injected[c] = true
		}
	}
	bctx := browser(t)

	// The page is ready when MapLibre is idle with communities drawn and
	// the findings list is filled.
	ready := `window.jiedaoIdle === true && window.jiedaoMap.queryRenderedFeatures({layers: ['communities-fill']}).length > 0 &&
		document.querySelectorAll('#findings li.finding').length > 0`
	load := func() error {
		return chromedp.Do(bctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/"),
			void(chromedp.Poll[any](ready, chromedp.WithPollingTimeout(25*time.Second))))
	}
	start := time.Now()
	if err := load(); err != nil {
		t.Logf("first load: %v; retrying once", err)
		if err := load(); err != nil {
			t.Fatalf("map did not render: %v", err)
		}
	}
	t.Logf("map idle with communities after %v", time.Since(start).Round(time.Millisecond))

	findings, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#findings li.finding').length`))
	if err != nil || findings == 0 {
		t.Fatalf("findings list: %d items, %v", findings, err)
	}
	wantFindings := len(man.Injected)
	if findings < wantFindings {
		t.Errorf("findings list has %d items, want at least the %d injected problems", findings, wantFindings)
	}

	// Pick a rendered community that is in no injected problem (so no
	// overlap makes the click ambiguous) and click its label point.
	type candidate struct {
		Code, Name string
		X, Y       float64
	}
	var pick *candidate
	codes, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...new Set(window.jiedaoMap.queryRenderedFeatures({layers: ['communities-fill']}).map(f => f.properties.code))].sort()`))
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range codes {
		if injected[code] {
			continue
		}
		var hits []struct {
			Code, Name string
			Lon, Lat   float64
		}
		getJSON(t, base+"/map/api/search?q="+code, 200, &hits)
		if len(hits) == 0 || hits[0].Code != code {
			continue
		}
		xy, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](fmt.Sprintf(`(() => {
			const m = window.jiedaoMap, p = m.project([%f, %f]), r = m.getContainer().getBoundingClientRect();
			return [p.x + r.left, p.y + r.top, r.left + 20 < p.x + r.left && p.x < r.width - 60 && 20 < p.y && p.y < r.height - 40 ? 1 : 0];
		})()`, hits[0].Lon, hits[0].Lat)))
		if err != nil {
			t.Fatal(err)
		}
		if xy[2] == 1 {
			pick = &candidate{Code: code, Name: hits[0].Name, X: xy[0], Y: xy[1]}
			break
		}
	}
	if pick == nil {
		t.Fatalf("no clickable community among %d rendered", len(codes))
	}
	if err := chromedp.Do(bctx, chromedp.MouseClickXY(pick.X, pick.Y),
		void(chromedp.Poll[any](fmt.Sprintf(`document.getElementById('panel-code') && document.getElementById('panel-code').textContent === %q &&
			!document.getElementById('panel-history').textContent.includes('loading')`, pick.Code),
			chromedp.WithPollingTimeout(10*time.Second)))); err != nil {
		t.Fatalf("click on %s at (%.0f, %.0f): panel did not show it: %v", pick.Code, pick.X, pick.Y, err)
	}
	panel, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('panel').innerText`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{pick.Name, pick.Code, "households", "staff", "→ now"} {
		if !strings.Contains(panel, want) {
			t.Errorf("panel lacks %q:\n%s", want, panel)
		}
	}
	thresholds, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('histogram').dataset.thresholds`))
	if err != nil || thresholds != "500,3000" {
		t.Errorf("histogram thresholds %q, %v", thresholds, err)
	}

	// Switching the profile re-colours from the national tiles.
	if err := chromedp.Do(bctx,
		void(chromedp.Evaluate[any](`window.jiedaoIdle = false; const s = document.getElementById('profile'); s.value = 'national-1989'; s.dispatchEvent(new Event('change'));`)),
		void(chromedp.Poll[any](`window.jiedaoIdle === true && document.getElementById('histogram').dataset.thresholds === '100,700'`,
			chromedp.WithPollingTimeout(15*time.Second)))); err != nil {
		t.Errorf("profile switch: %v", err)
	}
	national, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.jiedaoMap.queryRenderedFeatures({layers: ['communities-fill'], filter: ['==', ['get', 'status'], 'oversized']}).length`))
	if err != nil || national == 0 {
		t.Errorf("national-1989: %d oversized communities rendered, %v", national, err)
	}

	screenshot(t, bctx, "map.png")
	t.Logf("clicked %s %s", pick.Code, pick.Name)
	mapLabels(t, bctx, base, pick.Code)
}

// mapLabels checks the symbol labels: at street zoom communities are named
// (their glyphs drawn from local fonts), and the glyph route answers
// without any request leaving the machine.
func mapLabels(t *testing.T, bctx context.Context, base, code string) {
	t.Helper()
	var hits []struct{ Lon, Lat float64 }
	getJSON(t, base+"/map/api/search?q="+code, 200, &hits)
	if len(hits) == 0 {
		t.Fatalf("search %s: no hit", code)
	}
	if err := chromedp.Do(bctx,
		void(chromedp.Evaluate[any](fmt.Sprintf(`window.jiedaoIdle = false; window.jiedaoMap.jumpTo({center: [%f, %f], zoom: 14.5}); 0`, hits[0].Lon, hits[0].Lat))),
		void(chromedp.Poll[any](`window.jiedaoIdle === true && window.jiedaoMap.queryRenderedFeatures({layers: ['communities-label']}).length > 0`,
			chromedp.WithPollingTimeout(15*time.Second)))); err != nil {
		t.Errorf("no community labels at zoom 14.5: %v", err)
	}
	names, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`window.jiedaoMap.queryRenderedFeatures({layers: ['communities-label']}).map(f => f.properties.name).filter(Boolean)`))
	if err != nil || len(names) == 0 {
		t.Errorf("communities-label: %d named features, %v", len(names), err)
	}
	markers, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('.maplibregl-marker').length`))
	if err != nil || markers != 0 {
		t.Errorf("%d HTML markers left, want 0 (labels are symbol layers), %v", markers, err)
	}
	screenshot(t, bctx, "labels-street.png")
	if err := chromedp.Do(bctx,
		void(chromedp.Evaluate[any](`window.jiedaoIdle = false; window.jiedaoMap.zoomTo(11, {duration: 0}); 0`)),
		void(chromedp.Poll[any](`window.jiedaoIdle === true && window.jiedaoMap.queryRenderedFeatures({layers: ['streets-label']}).length > 0`,
			chromedp.WithPollingTimeout(15*time.Second)))); err != nil {
		t.Errorf("no street labels at zoom 11: %v", err)
	}
	screenshot(t, bctx, "labels-district.png")
	t.Logf("%d community labels at zoom 14.5, e.g. %v", len(names), names[:min(3, len(names))])

	res, b := tileGet(t, base+"/tiles/glyphs/Noto%20Sans%20Regular/0-255.pbf")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-protobuf" || len(b) == 0 {
		t.Errorf("glyphs 0-255: %d %q, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(b))
	}
	if res, _ := tileGet(t, base+"/tiles/glyphs/Noto%20Sans%20Regular/1-256.pbf"); res.StatusCode != 400 {
		t.Errorf("glyphs 1-256: %d, want 400", res.StatusCode)
	}
}

// needChromium skips without Chromium, except under make test or CI,
// where it must be there.
func needChromium(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("JIEDAO_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s is missing: install the Debian package chromium (make test runs scripts/testdeps.sh)", chromiumPath)
		}
		t.Skipf("%s not found: skipping the browser test of the map page (install chromium to run it)", chromiumPath)
	}
}

// browser starts headless Chromium with browserFlags for one test.
func browser(t testing.TB) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(chromiumPath)}
	for _, f := range browserFlags {
		opts = append(opts, chromedp.Flag(f, true))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	return bctx
}

// screenshot saves the page as testdata/screenshots/name.
func screenshot(t *testing.T, bctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", filepath.Join(dir, name), len(png))
}

// TestMapScenarioBrowser opens /?scenario=ID: the live map and the
// scenario's side by side, one camera, the split community's parts drawn
// only on the right, and the status counts before and after.
func TestMapScenarioBrowser(t *testing.T) {
	needChromium(t)
	base, store := testServer(t, Config{})
	ctx := context.Background()
	var street, big string
	if err := store.Primary().QueryRow(ctx, `SELECT parent_code, code FROM units WHERE level = 'community' AND valid_to IS NULL
		AND households > 3000 AND parent_code IS NOT NULL ORDER BY households DESC, code LIMIT 1`).Scan(&street, &big); err != nil {
		t.Fatal(err)
	}
	p, err := analysis.LoadProfile(analysis.DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := plan.Propose(ctx, store, p, plan.Options{Street: street, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Create(ctx, store, "map-split", p.Name, pl.Summary(0),
		pgtest.ScenarioUnits(t, pl), pgtest.ScenarioRemoved(t, pl))
	if err != nil {
		t.Fatal(err)
	}
	scenarioInfoAPI(t, base, sc, street)
	bctx := browser(t)
	// Zoomed on the split community, where both maps draw communities.
	var lon, lat float64
	if err := store.Primary().QueryRow(ctx, `SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM units
		WHERE code = $1 AND valid_to IS NULL) x`, big).Scan(&lon, &lat); err != nil {
		t.Fatal(err)
	}
	ready := `window.jiedaoIdle === true && window.jiedaoIdle2 === true &&
		window.jiedaoMap.queryRenderedFeatures({layers: ['communities-fill']}).length > 0 &&
		window.jiedaoMap2.queryRenderedFeatures({layers: ['communities-fill']}).length > 0 &&
		document.querySelector('[data-testid=scenario-table]') !== null`
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1400, 800), chromedp.Navigate(fmt.Sprintf("%s/?scenario=%d", base, sc.ID)),
		void(chromedp.Poll[any](ready, chromedp.WithPollingTimeout(25*time.Second))),
		void(chromedp.Evaluate[any](fmt.Sprintf(`window.jiedaoIdle = false; window.jiedaoIdle2 = false; window.jiedaoMap.jumpTo({center: [%f, %f], zoom: 14}); true`, lon, lat))),
		void(chromedp.Poll[any](ready, chromedp.WithPollingTimeout(25*time.Second)))); err != nil {
		t.Fatalf("before/after view did not render: %v", err)
	}
	// One camera: moving the left map moved the right one.
	cams, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](`[window.jiedaoMap.getCenter().lng, window.jiedaoMap.getCenter().lat, window.jiedaoMap.getZoom(),
		window.jiedaoMap2.getCenter().lng, window.jiedaoMap2.getCenter().lat, window.jiedaoMap2.getZoom()]`))
	if err != nil || len(cams) != 6 || cams[0] != cams[3] || cams[1] != cams[4] || cams[2] != cams[5] || cams[2] != 14 {
		t.Fatalf("cameras not in sync: %v %v", cams, err)
	}
	live, after, parts := scenarioFeatures(t, bctx, sc, big)
	// The summary: fewer oversized communities in the scenario.
	over, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=scenario-table] tr[data-key=oversized] td')].map(td => td.textContent)`))
	if err != nil || len(over) != 3 {
		t.Fatalf("summary oversized row %v, %v", over, err)
	}
	if b, a := atoi(t, over[1]), atoi(t, over[2]); a >= b {
		t.Errorf("summary: oversized live %d, scenario %d", b, a)
	}
	// Clicking a part on the right shows it as proposed: find a pixel of
	// the right map whose community is a proposed part.
	hit, err := chromedp.Run(bctx, chromedp.Evaluate[[]any](`(() => {
		const m = window.jiedaoMap2, r = m.getContainer().getBoundingClientRect();
		for (let y = 60; y < r.height - 60; y += 15) for (let x = 30; x < r.width - 30; x += 15) {
			const f = m.queryRenderedFeatures([x, y], {layers: ['communities-fill']})[0];
			if (f && f.properties.proposed === true && f.properties.code.startsWith('P')) return [x + r.left, y + r.top, f.properties.code];
		}
		return [];
	})()`))
	if err != nil || len(hit) != 3 {
		t.Fatalf("no proposed part to click on the scenario map: %v %v", hit, err)
	}
	xy, part := []float64{hit[0].(float64), hit[1].(float64)}, hit[2].(string)
	if err := chromedp.Do(bctx, chromedp.MouseClickXY(xy[0], xy[1]),
		void(chromedp.Poll[any](`document.getElementById('panel-history') && document.getElementById('panel-history').textContent.includes('proposed')`,
			chromedp.WithPollingTimeout(10*time.Second)))); err != nil {
		panel, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('panel').innerText`))
		t.Errorf("click on part %s: panel %q: %v", part, panel, err)
	}
	if code, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('panel-code').textContent`)); err != nil || code != part {
		t.Errorf("panel shows %q after clicking %s (%v)", code, part, err)
	}
	t.Logf("live %d communities drawn, scenario %d (%d split parts in view); summary oversized %v", live, after, parts, over)
	scenarioOutlines(t, bctx)
	screenshot(t, bctx, "scenario.png")
	scenarioStreets(t, bctx, street)
}

// scenarioFeatures: the live map draws the split community oversized and
// nothing proposed, the scenario's map its parts (every unit of the
// scenario proposed); it returns the counts drawn and of parts in view.
func scenarioFeatures(t *testing.T, bctx context.Context, sc *scenario.Scenario, big string) (int, int, int) {
	t.Helper()
	type rendered struct {
		Code     string
		Status   string
		Proposed bool
	}
	read := func(m string) []rendered {
		t.Helper()
		out, err := chromedp.Run(bctx, chromedp.Evaluate[[]rendered](`window.`+m+`.queryRenderedFeatures({layers: ['communities-fill']}).map(f =>
			({code: f.properties.code, status: f.properties.status, proposed: f.properties.proposed === true}))`))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	live, after := read("jiedaoMap"), read("jiedaoMap2")
	inScenario := map[string]bool{}
	for _, c := range sc.Codes {
		inScenario[c] = true
	}
	bigLive, parts := false, map[string]bool{}
	for _, f := range live {
		if f.Proposed {
			t.Errorf("live map draws proposed unit %s", f.Code)
		}
		bigLive = bigLive || f.Code == big && f.Status == "oversized"
	}
	for _, f := range after {
		if f.Proposed != inScenario[f.Code] {
			t.Errorf("scenario map: %s proposed=%v, in scenario %v", f.Code, f.Proposed, inScenario[f.Code])
		}
		if f.Proposed && strings.HasPrefix(f.Code, "P") {
			parts[f.Code] = true
		}
		if f.Code == big && f.Status == "oversized" {
			t.Errorf("scenario map: %s still oversized", big)
		}
	}
	if !bigLive || len(parts) == 0 {
		t.Errorf("live map shows %s oversized: %v; scenario map shows parts %v", big, bigLive, parts)
	}
	return len(live), len(after), len(parts)
}

// scenarioInfoAPI: what the page draws beside the tiles, the street the
// plan changed and the communities it removes.
func scenarioInfoAPI(t *testing.T, base string, sc *scenario.Scenario, street string) {
	t.Helper()
	var info struct {
		Removed []string
		Streets []struct {
			Code     string
			Name     string
			Proposed int
		}
	}
	getJSON(t, fmt.Sprintf("%s/map/api/scenario/%d", base, sc.ID), 200, &info)
	if len(info.Streets) != 1 || info.Streets[0].Code != street || info.Streets[0].Name == "" || info.Streets[0].Proposed != len(sc.Codes) ||
		len(info.Removed) != len(sc.Removed) {
		t.Errorf("/map/api/scenario: %+v, want street %s with %d units, removed %v", info, street, len(sc.Codes), sc.Removed)
	}
	getJSON(t, base+"/map/api/scenario/999999", 404, nil)
}

// scenarioOutlines: the proposed parts are outlined on the scenario's map
// only, and the live map's removed-communities outline follows the
// scenario (this one removes none).
func scenarioOutlines(t *testing.T, bctx context.Context) {
	t.Helper()
	n, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[window.jiedaoMap2.queryRenderedFeatures({layers: ['proposed-line']}).length,
		window.jiedaoMap.queryRenderedFeatures({layers: ['proposed-line']}).length]`))
	if err != nil || len(n) != 2 || n[0] == 0 || n[1] != 0 {
		t.Errorf("proposed-line features rendered (scenario, live): %v, %v", n, err)
	}
	// The demo has roads: the split's new boundaries follow them (drawn
	// green on the scenario's map, none dashed red), over the barriers.
	nb, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[window.jiedaoMap2.queryRenderedFeatures({layers: ['new-boundary-on']}).length,
		window.jiedaoMap2.queryRenderedFeatures({layers: ['new-boundary-off']}).length,
		window.jiedaoMap.queryRenderedFeatures({layers: ['barriers-line']}).length]`))
	if err != nil || len(nb) != 3 || nb[0] == 0 || nb[1] != 0 || nb[2] == 0 {
		t.Errorf("new boundaries rendered (on, off barriers), barriers: %v, %v", nb, err)
	}
	removed, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.jiedaoMap.getFilter('removed-line'))`))
	if err != nil || removed != `["in",["get","code"],["literal",[]]]` {
		t.Errorf("removed-line filter %s, %v", removed, err)
	}
	legend, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('legend').innerText`))
	if !strings.Contains(legend, "proposed 拟调整") || !strings.Contains(legend, "removed 撤销") {
		t.Errorf("legend lacks the scenario's outlines:\n%s", legend)
	}
}

// scenarioStreets: the summary lists the street the plan split, and its
// link selects it.
func scenarioStreets(t *testing.T, bctx context.Context, street string) {
	t.Helper()
	sel := fmt.Sprintf(`[data-testid=scenario-streets] a[data-code=%q]`, street)
	if err := chromedp.Do(bctx, void(chromedp.Poll[any](`document.querySelector('`+sel+`') !== null`, chromedp.WithPollingTimeout(10*time.Second))),
		void(chromedp.Evaluate[any](`document.querySelector('`+sel+`').click(); true`)),
		void(chromedp.Poll[any](fmt.Sprintf(`document.getElementById('panel-code') && document.getElementById('panel-code').textContent === %q`, street),
			chromedp.WithPollingTimeout(10*time.Second)))); err != nil {
		list, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.querySelector('[data-testid=scenario-streets]') || {}).innerText || ''`))
		t.Errorf("changed street %s not listed or not selected: %q: %v", street, list, err)
	}
	// With the street selected, the report links name it.
	links, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid^=report-]')].map(a => a.href)`))
	if err != nil || len(links) != 2 || !strings.Contains(links[0], "/reports/scenarios/") || !strings.Contains(links[0], "street="+street) ||
		!strings.Contains(links[1], "/reports/status.html?street="+street) {
		t.Errorf("report links %v, %v", links, err)
	}
	for _, l := range links {
		if res, body := tileGet(t, l); res.StatusCode != 200 || !strings.Contains(string(body), "<svg") {
			t.Errorf("%s: %d, %d bytes", l, res.StatusCode, len(body))
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// void drops an action's value so it can run in chromedp.Do.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// pageLoad is what one load of the map page took from the network: bytes
// as sent (headers and compressed bodies; 0 for a response the browser's
// cache answered without asking) per URL path.
type pageLoad struct {
	mu       sync.Mutex
	urls     map[network.RequestID]string
	encoding map[string]string // path → Content-Encoding
	bytes    map[string]float64
	total    float64
}

func newPageLoad() *pageLoad {
	return &pageLoad{urls: map[network.RequestID]string{}, encoding: map[string]string{}, bytes: map[string]float64{}}
}

func (p *pageLoad) event(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventResponseReceived:
		u, _ := url.Parse(ev.Response.URL)
		if u == nil {
			return
		}
		p.urls[ev.RequestID] = u.Path
		for k, v := range ev.Response.Headers {
			if strings.EqualFold(k, "Content-Encoding") {
				p.encoding[u.Path] = fmt.Sprint(v)
			}
		}
	case *network.EventLoadingFinished:
		p.bytes[p.urls[ev.RequestID]] += ev.EncodedDataLength
		p.total += ev.EncodedDataLength
	}
}

// TestMapTransfer loads the map page twice in headless Chromium and counts
// the bytes each load took: the first must be compressed, the second (the
// vendored files immutable in the cache, the page and tiles answered 304)
// under 50 KB.
func TestMapTransfer(t *testing.T) {
	needChromium(t)
	base, _ := testServer(t, Config{})
	bctx := browser(t)
	ready := `window.jiedaoIdle === true && window.jiedaoMap.queryRenderedFeatures({layers: ['communities-fill']}).length > 0 &&
		document.querySelectorAll('#findings li.finding').length > 0`
	var cur atomic.Pointer[pageLoad]
	if err := chromedp.Listen(bctx, func(ev any) { cur.Load().event(ev) }); err != nil {
		t.Fatal(err)
	}
	load := func(n int) *pageLoad {
		t.Helper()
		p := newPageLoad()
		cur.Store(p)
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/"),
			void(chromedp.Poll[any](ready, chromedp.WithPollingTimeout(25*time.Second)))); err != nil {
			t.Fatalf("load %d: map did not render: %v", n, err)
		}
		// Requests the page makes once idle (none expected) finish too.
		time.Sleep(500 * time.Millisecond)
		p.mu.Lock()
		defer p.mu.Unlock()
		var top []string
		for path, b := range p.bytes {
			if b > 2000 {
				top = append(top, fmt.Sprintf("%s %.0f", path, b))
			}
		}
		t.Logf("load %d: %.0f bytes over %d responses; over 2 kB: %v", n, p.total, len(p.urls), top)
		return p
	}
	first := load(1)
	for _, path := range []string{"/", "/static/vendor/maplibre-gl.js"} {
		found := false
		for got, enc := range first.encoding {
			if got == path || strings.HasPrefix(got, strings.TrimSuffix(path, ".js")+".") {
				found = true
				if enc != "br" && enc != "gzip" {
					t.Errorf("first load: %s sent with Content-Encoding %q", got, enc)
				}
			}
		}
		if !found {
			t.Errorf("first load: no compressed response for %s among %v", path, first.encoding)
		}
	}
	// The page loads counts and a page of findings, never the analysis.
	for path := range first.bytes {
		if strings.HasPrefix(path, "/api/v1/analysis") || strings.HasPrefix(path, "/api/v1/findings") {
			t.Errorf("first load fetched %s (%.0f bytes)", path, first.bytes[path])
		}
	}
	if first.total > 1_000_000 {
		t.Errorf("first load took %.0f bytes: MapLibre alone is 1 MB uncompressed", first.total)
	}
	second := load(2)
	if second.total >= 50_000 {
		t.Errorf("second load took %.0f bytes, want < 50 kB: %v", second.total, second.bytes)
	}
}

// TestMapSummary: what the page loads is counted and binned by the server,
// so its size does not follow the number of units.
func TestMapSummary(t *testing.T) {
	base, store := testServer(t, Config{})
	type summary struct {
		Top  float64
		Live struct {
			Status     map[string]map[string]int
			Zones      map[string]int
			Households int
			Bins       []int
		}
		Scenario *json.RawMessage
	}
	get := func(q string) (summary, []byte, *http.Response) {
		t.Helper()
		res, b := tileGet(t, base+"/map/api/summary"+q)
		var s summary
		if res.StatusCode != 200 || json.Unmarshal(b, &s) != nil {
			t.Fatalf("GET /map/api/summary%s: %d %s", q, res.StatusCode, b)
		}
		return s, b, res
	}
	city, cityBytes, res := get("")
	var communities int
	var street string
	if err := store.Primary().QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE level = 'community'),
		(SELECT parent_code FROM units WHERE level = 'community' AND valid_to IS NULL GROUP BY 1 ORDER BY count(*), 1 LIMIT 1)
		FROM units WHERE valid_to IS NULL`).Scan(&communities, &street); err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, n := range city.Live.Bins {
		sum += n
	}
	if len(city.Live.Bins) != mapui.HistogramBins || sum != city.Live.Households || city.Live.Households == 0 || city.Top < 6000 ||
		city.Live.Status["community"]["normal"] == 0 || city.Scenario != nil {
		t.Errorf("summary %+v", city)
	}
	// A street of a few communities and the city of hundreds: same size.
	one, oneBytes, _ := get("?street=" + street)
	if one.Live.Households >= city.Live.Households/10 || len(cityBytes) > 2000 || len(cityBytes)-len(oneBytes) > 100 {
		t.Errorf("summary of %d communities %d bytes, of a street's %d: %d bytes", city.Live.Households, len(cityBytes), one.Live.Households, len(oneBytes))
	}
	_, full := tileGet(t, base+"/api/v1/analysis")
	t.Logf("summary %d bytes (%d communities in the city), street %d bytes; /api/v1/analysis %d bytes", len(cityBytes), communities, len(oneBytes), len(full))
	if r, _ := tileGet(t, base+"/map/api/summary", "If-None-Match", res.Header.Get("ETag")); r.StatusCode != 304 || !strings.HasPrefix(res.Header.Get("ETag"), `W/"run`) {
		t.Errorf("revalidation with %q: %d", res.Header.Get("ETag"), r.StatusCode)
	}
	getJSON(t, base+"/map/api/summary?scenario=999999", 404, nil)

	// Findings a page at a time, the pages adding up to the totals.
	var page struct {
		Zones, Units int
		Items        []struct{ Kind, Code string }
	}
	seen := map[string]bool{}
	for off := 0; ; off += 7 {
		getJSON(t, fmt.Sprintf("%s/map/api/findings?limit=7&offset=%d", base, off), 200, &page)
		for _, it := range page.Items {
			seen[it.Kind+it.Code+strconv.Itoa(len(seen))] = true
		}
		if len(page.Items) < 7 {
			break
		}
	}
	if len(seen) != page.Zones+page.Units || page.Zones == 0 || page.Units == 0 {
		t.Errorf("findings pages: %d items, totals %d zones %d units", len(seen), page.Zones, page.Units)
	}
	getJSON(t, base+"/map/api/findings?limit=x", 400, nil)
	mapFindingsFilters(t, base, city.Live.Zones)
	mapFindingsView(t, base)

	res, b := tileGet(t, base+"/favicon.ico")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/x-icon" || len(b) == 0 || len(b) > 4096 {
		t.Errorf("/favicon.ico: %d %q %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(b))
	}
}

// findingPage is a page of /map/api/findings.
type findingPage struct {
	Zones, Units int
	Items        []struct{ Kind, Code, Status, Street string }
}

// allFindings pages through /map/api/findings?q, 7 at a time.
func allFindings(t *testing.T, base, q string) findingPage {
	t.Helper()
	var all findingPage
	for off := 0; ; off += 7 {
		var page findingPage
		getJSON(t, fmt.Sprintf("%s/map/api/findings?limit=7&offset=%d&%s", base, off, q), 200, &page)
		all.Zones, all.Units, all.Items = page.Zones, page.Units, append(all.Items, page.Items...)
		if len(page.Items) < 7 {
			return all
		}
	}
}

// mapFindingsFilters: ?kind=, ?status= and ?street= split the totals of
// the unfiltered list, pages of a filtered list add up to its totals, the
// list comes street by street, and a bad value is a 400 naming it.
func mapFindingsFilters(t *testing.T, base string, zones map[string]int) {
	all := allFindings(t, base, "")
	// Street by street: a street's lines are together.
	done, units := map[string]bool{}, map[string]int{}
	for i, it := range all.Items {
		if i > 0 && all.Items[i-1].Street != it.Street {
			if done[it.Street] {
				t.Errorf("findings of street %q are not together (line %d)", it.Street, i)
			}
			done[all.Items[i-1].Street] = true
		}
		if it.Kind == "" {
			units[it.Street]++
		}
	}
	byStatus := 0
	for _, st := range []string{"undersized", "oversized"} {
		f := allFindings(t, base, "status="+st)
		for _, it := range f.Items {
			if it.Kind != "" || it.Status != st {
				t.Errorf("status=%s lists %+v", st, it)
			}
		}
		if f.Zones != 0 || f.Units != len(f.Items) {
			t.Errorf("status=%s: %d zones, %d units, %d listed", st, f.Zones, f.Units, len(f.Items))
		}
		byStatus += f.Units
	}
	if byStatus != all.Units {
		t.Errorf("units by status %d, unfiltered %d", byStatus, all.Units)
	}
	byKind := 0
	for kind, n := range zones {
		var f findingPage
		getJSON(t, base+"/map/api/findings?limit=1000&kind="+kind, 200, &f)
		if f.Zones != n || f.Units != 0 || len(f.Items) != n {
			t.Errorf("kind=%s: %d zones (summary %d), %d units, %d listed", kind, f.Zones, n, f.Units, len(f.Items))
		}
		getJSON(t, base+"/map/api/findings?limit=1&kind="+kind+"&status=undersized", 200, &f)
		if f.Zones != n || f.Units == 0 && all.Units > 0 && byStatus == 0 {
			t.Errorf("kind=%s&status=undersized: %d zones, %d units", kind, f.Zones, f.Units)
		}
		byKind += n
	}
	if byKind != all.Zones || all.Zones == 0 {
		t.Errorf("zones by kind %d, unfiltered %d", byKind, all.Zones)
	}
	// A street's own units are the unfiltered lines listed under it.
	tested := 0
	for street, n := range units {
		if street == "" || tested == 3 {
			continue
		}
		tested++
		f := allFindings(t, base, "street="+street)
		if f.Units != n || f.Zones > all.Zones || f.Units+f.Zones != len(f.Items) {
			t.Errorf("street=%s: %d units (unfiltered under it %d), %d zones, %d listed", street, f.Units, n, f.Zones, len(f.Items))
		}
		for _, it := range f.Items {
			if it.Kind == "" && it.Street != street {
				t.Errorf("street=%s lists %+v", street, it)
			}
		}
	}
	if tested == 0 {
		t.Error("no unit finding is listed under a street")
	}
	for q, name := range map[string]string{"kind=nosuch": "kind", "status=normal": "status", "street=nosuch": "street", "status=x&limit=2": "status"} {
		res, b := tileGet(t, base+"/map/api/findings?"+q)
		if res.StatusCode != 400 || !strings.Contains(string(b), "parameter "+name) {
			t.Errorf("findings?%s: %d %s", q, res.StatusCode, b)
		}
	}
}

// mapFindingsView: ?bbox= keeps what meets the view: the whole world is
// the unfiltered list, an empty sea none, the two halves of the city each
// less and together at least all; a bad box is a 400 naming it.
func mapFindingsView(t *testing.T, base string) {
	all := allFindings(t, base, "")
	var tj struct{ Bounds [4]float64 }
	getJSON(t, base+"/tiles/communities.json", 200, &tj)
	b := tj.Bounds
	mid := (b[0] + b[2]) / 2
	count := func(box string) int {
		var f findingPage
		getJSON(t, base+"/map/api/findings?limit=1&bbox="+box, 200, &f)
		return f.Zones + f.Units
	}
	world, sea := count("-180,-90,180,90"), count("-30,-40,-20,-30")
	west := count(fmt.Sprintf("%f,%f,%f,%f", b[0], b[1], mid, b[3]))
	east := count(fmt.Sprintf("%f,%f,%f,%f", mid, b[1], b[2], b[3]))
	total := all.Zones + all.Units
	if world != total || sea != 0 || west >= total || east >= total || west+east < total || west == 0 || east == 0 {
		t.Errorf("findings by bbox: world %d, sea %d, west %d, east %d; all %d", world, sea, west, east, total)
	}
	for _, q := range []string{"1,2,3", "10,0,5,1", "a,b,c,d", "0,0,190,1", "NaN,0,1,1"} {
		res, body := tileGet(t, base+"/map/api/findings?bbox="+q)
		if res.StatusCode != 400 || !strings.Contains(string(body), "parameter bbox") {
			t.Errorf("findings?bbox=%s: %d %s", q, res.StatusCode, body)
		}
	}
}

// TestMapLandingBrowser: below the communities' minzoom streets show their
// own status and a note says communities are hidden; a finding selects its
// unit into the panel and the address, and /#unit=CODE selects it again.
func TestMapLandingBrowser(t *testing.T) {
	needChromium(t)
	base, store := testServer(t, Config{})
	// The small demo has no oversized street: give one a population over
	// the profile's maximum before the first analysis runs (at the first tile).
	var street string
	if err := store.Primary().QueryRow(context.Background(), `WITH s AS (SELECT code FROM units WHERE level = 'street' AND valid_to IS NULL ORDER BY code LIMIT 1),
		c AS (UPDATE units SET population = 30000 WHERE level = 'community' AND valid_to IS NULL AND parent_code = (SELECT code FROM s))
		UPDATE units SET population = 400000 WHERE code = (SELECT code FROM s) AND valid_to IS NULL RETURNING code`).Scan(&street); err != nil {
		t.Fatal(err)
	}
	bctx := browser(t)
	checkLanding(t, bctx, base)

	// A unit finding: name, street and reason in the list; a click selects it.
	item, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`(() => { const li = document.querySelector('#findings li.finding[data-kind=unit]');
		return [li.dataset.code, li.innerText]; })()`))
	if err != nil || len(item) != 2 {
		t.Fatalf("no unit finding: %v %v", item, err)
	}
	code := item[0]
	if !strings.Contains(item[1], " > ") && !strings.Contains(item[1], " < ") || !strings.Contains(item[1], code) {
		t.Errorf("finding %s lacks its reason: %q", code, item[1])
	}
	panelShows := func(code string) string {
		return fmt.Sprintf(`document.getElementById('panel-code') && document.getElementById('panel-code').textContent === %q &&
			location.hash === '#unit=%s' && document.querySelector('#panel-parent a') !== null`, code, code)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#findings li.finding[data-kind=unit]`)),
		void(chromedp.Poll[any](panelShows(code), chromedp.WithPollingTimeout(10*time.Second)))); err != nil {
		panel, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('panel').innerText + ' ' + location.hash`))
		t.Fatalf("click on finding %s: panel %q: %v", code, panel, err)
	}
	selected, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify([window.jiedaoMap.getFilter('selected-line'), window.jiedaoMap.getFilter('selected-street-line')])`))
	if !strings.Contains(selected, code) {
		t.Errorf("selected-line filters %s lack %s", selected, code)
	}
	// An overlap finding outlines both its units.
	zone, _ := chromedp.Run(bctx, chromedp.Evaluate[[]string](`(() => { const li = document.querySelector('#findings li.finding[data-kind=overlap]');
		if (!li) return []; window.jiedaoIdle = false; li.click(); return [li.dataset.code]; })()`))
	if len(zone) == 1 {
		if err := chromedp.Do(bctx, void(chromedp.Poll[any](`(() => { const f = JSON.stringify([window.jiedaoMap.getFilter('selected-line'), window.jiedaoMap.getFilter('selected-street-line')]);
			return location.hash === '#unit=`+zone[0]+`' && (f.match(/"[0-9P][0-9A-Za-z-]+"/g) || []).length >= 2; })()`, chromedp.WithPollingTimeout(10*time.Second)))); err != nil {
			f, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.jiedaoMap.getFilter('selected-line'))`))
			t.Errorf("overlap finding %s: highlight %s: %v", zone[0], f, err)
		}
	}
	if err := chromedp.Do(bctx, void(chromedp.Poll[any](`window.jiedaoIdle === true && document.querySelector('#panel-parent a') !== null &&
		!document.getElementById('panel-history').textContent.includes('loading')`, chromedp.WithPollingTimeout(10*time.Second)))); err == nil {
		screenshot(t, bctx, "finding.png")
	}

	// A search hit names its street and district, and a status filter that
	// would hide it is turned off, with a note.
	comm, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#findings li.finding[data-kind=unit][data-level=community]').dataset.code`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, void(chromedp.Evaluate[any](`const f = document.getElementById('status-filter'); f.value = 'normal'; f.dispatchEvent(new Event('change'));
			const q = document.getElementById('search'); q.value = '`+comm+`'; q.dispatchEvent(new Event('input')); true`)),
		void(chromedp.Poll[any](`document.querySelector('#search-results li .note') !== null`, chromedp.WithPollingTimeout(10*time.Second))),
		chromedp.Click(chromedp.CSS(`#search-results li`)),
		void(chromedp.Poll[any](`document.getElementById('status-filter').value === '' && !document.getElementById('filter-note').hidden &&
			document.getElementById('panel-code').textContent === '`+comm+`'`, chromedp.WithPollingTimeout(10*time.Second)))); err != nil {
		hit, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('search-results').innerText + ' | ' + document.getElementById('filter-note').textContent`))
		t.Errorf("search %s with the normal filter: %q: %v", comm, hit, err)
	}

	// The findings' status filter lists only units of that status, street
	// by street; "this street" is offered while a community is selected.
	onlyOversized := `(() => { const lis = [...document.querySelectorAll('#findings li.finding')];
		return lis.length > 0 && lis.every(li => li.dataset.kind === 'unit' && li.dataset.status === 'oversized') &&
			document.querySelector('#findings li.street-head[data-street="` + street + `"]') !== null &&
			document.getElementById('findings-count').textContent.startsWith('(0 zones') &&
			!document.getElementById('findings-street-label').hidden; })()`
	if err := chromedp.Do(bctx, void(chromedp.Evaluate[any](`const s = document.getElementById('findings-status'); s.value = 'oversized'; s.dispatchEvent(new Event('change')); true`)),
		void(chromedp.Poll[any](onlyOversized, chromedp.WithPollingTimeout(10*time.Second)))); err != nil {
		list, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('findings').innerText`))
		t.Errorf("findings with status oversized:\n%s\n%v", list, err)
	}

	// Loading /#unit=CODE selects it the same way.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/#unit="+code),
		void(chromedp.Poll[any](panelShows(code), chromedp.WithPollingTimeout(20*time.Second)))); err != nil {
		t.Errorf("/#unit=%s did not select it: %v", code, err)
	}

	// A day before any boundary: the map says which days have data.
	if err := chromedp.Do(bctx, void(chromedp.Evaluate[any](`const a = document.getElementById('at'); a.value = '1990-01-01'; a.dispatchEvent(new Event('change')); true`)),
		void(chromedp.Poll[any](`!document.getElementById('date-note').hidden && document.getElementById('date-note').textContent.includes('data from')`,
			chromedp.WithPollingTimeout(15*time.Second)))); err != nil {
		t.Errorf("no date note for 1990-01-01: %v", err)
	}
	screenshot(t, bctx, "nodata.png")
}

// checkLanding: below the communities' minzoom the note shows, the legend
// names the street fill, and the screenshot has the oversized colour.
func checkLanding(t *testing.T, bctx context.Context, base string) {
	t.Helper()
	var ext struct{ Bounds [4]float64 }
	getJSON(t, base+"/tiles/communities.json", 200, &ext)
	// Below the communities' minzoom, where the street fill is at full opacity.
	zoom := float64(layers.TileMinZoom("communities")) - 0.5
	ready := `window.jiedaoIdle === true && document.querySelectorAll('#findings li.finding').length > 0`
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/"),
		void(chromedp.Poll[any](ready, chromedp.WithPollingTimeout(25*time.Second))),
		void(chromedp.Evaluate[any](fmt.Sprintf(`window.jiedaoIdle = false; window.jiedaoMap.jumpTo({center: [%f, %f], zoom: %f}); true`,
			(ext.Bounds[0]+ext.Bounds[2])/2, (ext.Bounds[1]+ext.Bounds[3])/2, zoom))),
		void(chromedp.Poll[any](`window.jiedaoIdle === true && window.jiedaoMap.queryRenderedFeatures({layers: ['streets-status']}).length > 0`,
			chromedp.WithPollingTimeout(25*time.Second)))); err != nil {
		t.Fatalf("landing view did not render: %v", err)
	}
	note, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('zoom-note').hidden ? '' : document.getElementById('zoom-note').textContent`))
	if err != nil || !strings.Contains(note, "zoom in to see communities") {
		t.Errorf("zoom note %q at zoom %.1f, %v", note, zoom, err)
	}
	legend, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('legend').innerText`))
	if !strings.Contains(legend, "streets: own status (below zoom 10)") || !strings.Contains(legend, "> 3000 households") {
		t.Errorf("legend:\n%s", legend)
	}
	statuses, _ := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...new Set(window.jiedaoMap.queryRenderedFeatures({layers: ['streets-status']}).map(f => f.properties.status))].sort()`))
	png := screenshotBytes(t, bctx, "landing.png")
	over := ""
	for _, sc := range tiles.StatusColors {
		if sc[0] == "oversized" {
			over = sc[1]
		}
	}
	n := countBlended(t, png, over, "#f4f3ef", tiles.StreetStatusOpacity, 330)
	t.Logf("landing at zoom %.1f: streets drawn with statuses %v; %d pixels of oversized %s at opacity %.2f", zoom, statuses, n, over, tiles.StreetStatusOpacity)
	if n < 100 {
		t.Errorf("landing screenshot has %d pixels of the oversized street colour, want > 100", n)
	}
}

// screenshotBytes saves a screenshot (see screenshot) and returns it.
func screenshotBytes(t *testing.T, bctx context.Context, name string) []byte {
	t.Helper()
	screenshot(t, bctx, name)
	b, err := os.ReadFile(filepath.Join("testdata", "screenshots", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// countBlended counts the pixels right of x0 within a small tolerance of
// colour fg drawn at opacity alpha over bg.
func countBlended(t testing.TB, b []byte, fg, bg string, alpha float64, x0 int) int {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	hex := func(s string) [3]float64 {
		var c [3]float64
		for i := range c {
			v, _ := strconv.ParseUint(s[1+2*i:3+2*i], 16, 8)
			c[i] = float64(v)
		}
		return c
	}
	f, g := hex(fg), hex(bg)
	var want [3]float64
	for i := range want {
		want[i] = alpha*f[i] + (1-alpha)*g[i]
	}
	n, r := 0, img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X + x0; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			got := [3]float64{float64(cr >> 8), float64(cg >> 8), float64(cb >> 8)}
			ok := true
			for i := range got {
				ok = ok && math.Abs(got[i]-want[i]) <= 8
			}
			if ok {
				n++
			}
		}
	}
	return n
}

// disputesServer is the test server with the small demo's tickets and
// reassignments loaded.
func disputesServer(t *testing.T) (string, *demo.Manifest) {
	t.Helper()
	base, st := testServer(t, Config{})
	dir, man := demoCity(t)
	ctx := context.Background()
	if _, err := dispatch.ImportFile(ctx, st, lookup.New(st), filepath.Join(dir, demo.TicketsFile), dispatch.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dispatch.ImportReassignments(ctx, st, units.Actor{KeyName: "demo"}, filepath.Join(dir, demo.ReassignmentsFile)); err != nil {
		t.Fatal(err)
	}
	return base, man
}

// TestMapDisputes: with the demo's tickets loaded the findings (map and
// API) list the disputed boundaries first, ranked by tickets; the public
// disputes layer is aggregates only and bounded; the workload map is code
// → value; both revalidate with their ETag; bad parameters are 400s.
func TestMapDisputes(t *testing.T) {
	base, man := disputesServer(t)
	var page struct {
		Disputed, Zones, Units int
		Items                  []layers.Finding
	}
	getJSON(t, base+"/map/api/findings?limit=10", 200, &page)
	if page.Disputed < len(man.DisputeSpots) || page.Zones == 0 || len(page.Items) != 10 || page.Items[0].Kind != layers.DisputedBoundary {
		t.Fatalf("findings: %d disputed, %d zones, first %+v", page.Disputed, page.Zones, page.Items[0])
	}
	for i, it := range page.Items[:len(man.DisputeSpots)] {
		if it.Kind != layers.DisputedBoundary || it.Tickets == 0 || it.Period == "" || len(it.StreetNames) == 0 || (i > 0 && it.Tickets > page.Items[i-1].Tickets) {
			t.Errorf("line %d: %+v", i, it)
		}
	}
	var api Findings
	getJSON(t, base+"/api/v1/findings?kind=disputed_boundary", 200, &api)
	if len(api.Disputed) != page.Disputed || len(api.Zones) != 0 || len(api.Units) != 0 || api.Disputed[0].Spot != page.Items[0].Spot {
		t.Errorf("/api/v1/findings?kind=disputed_boundary: %d disputed (map %d), %d zones, %d units", len(api.Disputed), page.Disputed, len(api.Zones), len(api.Units))
	}
	getJSON(t, base+"/api/v1/findings?status=oversized", 200, &api)
	if len(api.Disputed) != 0 {
		t.Errorf("a status filter lists %d disputed", len(api.Disputed))
	}
	getJSON(t, base+"/api/v1/findings?kind=disputed", 400, nil)

	res, body := tileGet(t, base+"/map/api/disputes")
	var fc struct {
		Type     string `json:"type"`
		Total    int    `json:"total"`
		Features []struct {
			ID         string                `json:"id"`
			Geometry   struct{ Type string } `json:"geometry"`
			Properties map[string]any        `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(body, &fc); err != nil || res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/geo+json" {
		t.Fatalf("/map/api/disputes: %d %q %v", res.StatusCode, res.Header.Get("Content-Type"), err)
	}
	if fc.Total != page.Disputed || len(fc.Features) != min(fc.Total, layers.MaxMapSpots) || len(body) > 1<<20 {
		t.Errorf("disputes layer: %d of %d features, %d bytes", len(fc.Features), fc.Total, len(body))
	}
	// Aggregates only: no ticket's point (a MultiPoint) or id.
	allowed := map[string]bool{"key": true, "kind": true, "level": true, "codes": true, "streets": true, "tickets": true, "disputes": true, "categories": true}
	for _, f := range fc.Features {
		if f.Geometry.Type == "MultiPoint" || f.Properties["tickets"] == nil {
			t.Errorf("feature %s: %+v", f.ID, f)
		}
		for k := range f.Properties {
			if !allowed[k] {
				t.Errorf("feature %s has property %q", f.ID, k)
			}
		}
	}
	if r, _ := tileGet(t, base+"/map/api/disputes", "If-None-Match", res.Header.Get("ETag")); r.StatusCode != 304 {
		t.Errorf("disputes revalidation: %d", r.StatusCode)
	}
	getJSON(t, base+"/map/api/disputes?limit=501", 400, nil)
	getJSON(t, base+"/map/api/disputes?bbox=1,2,3", 400, nil)
	var few struct{ Total, N int }
	_, body = tileGet(t, base+"/map/api/disputes?limit=2")
	if err := json.Unmarshal(body, &few); err != nil || few.Total != fc.Total || strings.Count(string(body), `"Feature"`) != 2 {
		t.Errorf("limit=2: %s", body)
	}
	var w layers.MapWorkload
	getJSON(t, base+"/map/api/workload", 200, &w)
	if len(w.Values) == 0 || w.Max <= 0 || len(w.Ratios) == 0 {
		t.Errorf("workload: %d values, max %v", len(w.Values), w.Max)
	}
}

// TestMapDisputesBrowser: the disputes layer draws the hot spots, its
// checkbox hides them, the findings list shows the disputed lines with
// their tickets, and the workload colour mode draws the communities.
func TestMapDisputesBrowser(t *testing.T) {
	needChromium(t)
	base, man := disputesServer(t)
	bctx := browser(t)
	spot := man.DisputeSpots[0]
	ready := `window.jiedaoIdle === true && window.jiedaoMap.getSource('disputes') !== undefined &&
		document.querySelectorAll('#findings li.finding[data-kind="disputed_boundary"]').length > 0`
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/"),
		void(chromedp.Poll[any](ready, chromedp.WithPollingTimeout(25*time.Second)))); err != nil {
		t.Fatalf("map did not load the disputes: %v", err)
	}
	line, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#findings li.finding[data-kind="disputed_boundary"]').innerText`))
	if err != nil || !strings.Contains(line, "tickets reassigned (") {
		t.Errorf("first disputed line %q: %v", line, err)
	}
	rendered := `window.jiedaoMap.queryRenderedFeatures({layers: ['disputes-fill', 'disputes-line', 'disputes-point']}).length`
	jump := fmt.Sprintf(`window.jiedaoIdle = false; window.jiedaoMap.jumpTo({center: [%f, %f], zoom: 15}); true`, spot.Lon, spot.Lat)
	if err := chromedp.Do(bctx, void(chromedp.Evaluate[any](jump)),
		void(chromedp.Poll[any](`window.jiedaoIdle === true && `+rendered+` > 0`, chromedp.WithPollingTimeout(15*time.Second)))); err != nil {
		n, _ := chromedp.Run(bctx, chromedp.Evaluate[int](rendered))
		t.Errorf("no dispute drawn at %+v: %d features, %v", spot, n, err)
	}
	screenshot(t, bctx, "disputes.png")
	off := `window.jiedaoIdle = false; const b = document.getElementById('disputes'); b.checked = false; b.dispatchEvent(new Event('change')); true`
	if err := chromedp.Do(bctx, void(chromedp.Evaluate[any](off)),
		void(chromedp.Poll[any](`window.jiedaoIdle === true && `+rendered+` === 0`, chromedp.WithPollingTimeout(10*time.Second)))); err != nil {
		t.Errorf("the checkbox does not hide the disputes: %v", err)
	}
	workload := `window.jiedaoIdle = false; const s = document.getElementById('colour'); s.value = 'workload'; s.dispatchEvent(new Event('change')); true`
	drawn := `window.jiedaoIdle === true && window.jiedaoMap.getLayer('communities-workload') !== undefined &&
		window.jiedaoMap.queryRenderedFeatures({layers: ['communities-workload']}).length > 0 &&
		document.getElementById('legend').textContent.includes('workload')`
	if err := chromedp.Do(bctx, void(chromedp.Evaluate[any](workload)),
		void(chromedp.Poll[any](drawn, chromedp.WithPollingTimeout(15*time.Second)))); err != nil {
		t.Errorf("the workload colour mode draws nothing: %v", err)
	}
	screenshot(t, bctx, "workload.png")
}
