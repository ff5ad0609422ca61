package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/store"
)

// addGrids cuts the largest community without grids into n strips of equal
// width, west to east, as grids coded community + 001…, valid from the
// community's first day, and returns the community's code. Written in SQL
// here so these tests do not depend on the grid generator.
func addGrids(t testing.TB, st *store.Store, n int) string {
	t.Helper()
	ctx := context.Background()
	var community *string
	if err := st.Primary().QueryRow(ctx, `WITH c AS (
			SELECT u.code, u.households, u.geom, u.valid_from, ST_XMin(u.geom) x0, ST_XMax(u.geom) x1 FROM units u
			WHERE u.level = 'community' AND u.valid_to IS NULL AND u.households > 0
				AND NOT EXISTS (SELECT 1 FROM units g WHERE g.level = 'grid' AND g.parent_code = u.code)
			ORDER BY u.area_m2 DESC, u.code LIMIT 1),
		s AS (SELECT c.*, i, ST_Multi(ST_CollectionExtract(ST_Intersection(c.geom, ST_MakeEnvelope(
				x0 + (x1 - x0) * (i - 1) / $1, ST_YMin(c.geom) - 1e-6, x0 + (x1 - x0) * i / $1, ST_YMax(c.geom) + 1e-6, 4326)), 3)) g
			FROM c, generate_series(1, $1::int) i),
		ins AS (INSERT INTO units (code, name, level, parent_code, households, geom, valid_from, approval, source)
			SELECT code || lpad(i::text, 3, '0'), '第' || i || '网格', 'grid', code, households / $1::int, g, valid_from, 'test grids', 'test'
			FROM s WHERE NOT ST_IsEmpty(g) RETURNING parent_code)
		SELECT min(parent_code) FROM ins`, n).Scan(&community); err != nil || community == nil {
		t.Fatalf("add grids: %v", err)
	}
	// What a unit write does: the lookup index, runs and caches follow.
	if _, err := st.Primary().Exec(ctx, `UPDATE meta SET data_version = data_version + 1, units_version = units_version + 1`); err != nil {
		t.Fatal(err)
	}
	return *community
}

// pointOutsideGrids is a point inside a community no grid covers.
func pointOutsideGrids(t testing.TB, st *store.Store) (lon, lat float64) {
	t.Helper()
	if err := st.Reader().QueryRow(context.Background(), `SELECT ST_X(p), ST_Y(p) FROM units u, ST_PointOnSurface(u.geom) p
		WHERE u.level = 'community' AND u.valid_to IS NULL
			AND NOT EXISTS (SELECT 1 FROM units g WHERE g.level = 'grid' AND g.valid_to IS NULL AND ST_Covers(g.geom, p))
		ORDER BY u.code LIMIT 1`).Scan(&lon, &lat); err != nil {
		t.Fatal(err)
	}
	return lon, lat
}

// mapGrids is the map's list of a community's grids.
func mapGrids(t *testing.T, base, community string) []layers.GridItem {
	t.Helper()
	var u struct {
		Unit  struct{ Level string }
		Grids []layers.GridItem
	}
	getJSON(t, base+"/map/api/unit/"+community, 200, &u)
	if u.Unit.Level != "community" {
		t.Fatalf("%s is a %s", community, u.Unit.Level)
	}
	return u.Grids
}

// TestGridsServed: a community's grids in the tiles (from their minzoom),
// the OGC collection and items, the downloads, the unit documents and
// stats, the map's list, and every lookup answer.
func TestGridsServed(t *testing.T) {
	base, st := testServer(t, Config{})
	community := addGrids(t, st, 4)
	want := []string{community + "001", community + "002", community + "003", community + "004"}

	grids := mapGrids(t, base, community)
	var codes []string
	for _, g := range grids {
		codes = append(codes, g.Code)
		if g.Households == nil || g.Status == "" {
			t.Errorf("map grid %+v lacks households or status", g)
		}
	}
	if !slices.Equal(codes, want) {
		t.Fatalf("map lists grids %v, want %v", codes, want)
	}

	t.Run("tiles from their minzoom", func(t *testing.T) {
		z := layers.TileMinZoom("grids")
		if z != 13 {
			t.Errorf("grids minzoom %d, want 13", z)
		}
		for _, g := range grids {
			x, y := lonLatTile(g.Lon, g.Lat, z)
			var found *tileFeature
			for _, f := range tileFeatures(t, base, "grids", z, x, y, "") {
				if f.str("code") == g.Code {
					found = f
				}
			}
			if found == nil {
				t.Fatalf("grid %s not in tile %d/%d/%d", g.Code, z, x, y)
			}
			if found.str("parent_code") != community || found.props["households"] != float64(*g.Households) || found.str("status") != g.Status {
				t.Errorf("grid %s in the tile: %v, map %+v", g.Code, found.props, g)
			}
			x, y = lonLatTile(g.Lon, g.Lat, z-1)
			if fs := tileFeatures(t, base, "grids", z-1, x, y, ""); len(fs) != 0 {
				t.Errorf("zoom %d (below the minzoom) has %d grid features", z-1, len(fs))
			}
		}
		var style struct {
			Sources map[string]struct{ MinZoom int }
			Layers  []struct{ ID, Source string }
		}
		getJSON(t, base+"/tiles/style.json", 200, &style)
		var ids []string
		for _, l := range style.Layers {
			if l.Source == "grids" {
				ids = append(ids, l.ID)
			}
		}
		if style.Sources["grids"].MinZoom != 13 || !slices.Contains(ids, "grids-line") || !slices.Contains(ids, "grids-selected-line") {
			t.Errorf("style: grids source minzoom %d, layers %v", style.Sources["grids"].MinZoom, ids)
		}
	})

	t.Run("OGC items and downloads", func(t *testing.T) {
		var fc ogcFC
		if code, _ := ogcGet(t, base+"/ogc/collections/grids/items?parent_code="+community, &fc); code != 200 || fc.NumberMatched != 4 {
			t.Fatalf("items: %d, %d matched", code, fc.NumberMatched)
		}
		for i, f := range fc.Features {
			if f.ID != want[i] || f.Properties["level"] != "grid" || f.Properties["parent_code"] != community {
				t.Errorf("item %d: %s %v", i, f.ID, f.Properties)
			}
		}
		res, err := http.Get(base + "/download/grids.csv?parent_code=" + community)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		rows, err := csv.NewReader(res.Body).ReadAll()
		if err != nil || res.StatusCode != 200 || len(rows) != 5 {
			t.Fatalf("grids.csv: %d, %d rows, %v", res.StatusCode, len(rows), err)
		}
		rows[0][0] = strings.TrimPrefix(rows[0][0], "\uFEFF")
		if i := slices.Index(rows[0], "code"); i < 0 || rows[1][i] != want[0] || rows[4][i] != want[3] {
			t.Errorf("grids.csv: %v", rows)
		}
		var gj ogcFC
		if code, _ := ogcGet(t, base+"/download/grids.geojson?parent_code="+community, &gj); code != 200 || len(gj.Features) != 4 {
			t.Errorf("grids.geojson: %d, %d features", code, len(gj.Features))
		}
	})

	t.Run("unit documents and stats", func(t *testing.T) {
		var page struct {
			Total int
			Items []struct {
				Code       string
				ParentCode string `json:"parent_code"`
			}
		}
		getJSON(t, base+"/api/v1/units?level=grid&parent="+community, 200, &page)
		if page.Total != 4 || page.Items[0].Code != want[0] || page.Items[0].ParentCode != community {
			t.Errorf("units?level=grid: %+v", page)
		}
		var children struct{ Total int }
		getJSON(t, base+"/api/v1/units/"+community+"/children", 200, &children)
		if children.Total != 4 {
			t.Errorf("children of %s: %d", community, children.Total)
		}
		var stats struct {
			Levels []struct {
				Level      string
				Units      int
				Households *int64
			}
		}
		getJSON(t, base+"/api/v1/stats?level=grid&parent="+community, 200, &stats)
		var hh int64
		for _, g := range grids {
			hh += *g.Households
		}
		if len(stats.Levels) != 1 || stats.Levels[0].Level != "grid" || stats.Levels[0].Units != 4 || *stats.Levels[0].Households != hh {
			t.Errorf("stats?level=grid&parent=%s: %+v, want 4 grids, %d households", community, stats.Levels, hh)
		}
		// Paging by cursor runs from the communities into the grids.
		var last struct {
			Next  *string
			Items []struct{ Code, Level string }
		}
		getJSON(t, base+"/api/v1/units?parent="+community+"&limit=3", 200, &last)
		if last.Next == nil {
			t.Fatal("no next page")
		}
		getJSON(t, base+"/api/v1/units?parent="+community+"&limit=3&cursor="+*last.Next, 200, &last)
		if len(last.Items) != 1 || last.Items[0].Code != want[3] || last.Next != nil {
			t.Errorf("second page: %+v", last)
		}
	})

	t.Run("lookup answers the grid", func(t *testing.T) {
		for _, g := range grids {
			var r lookup.Result
			getJSON(t, fmt.Sprintf("%s/api/v1/lookup?lon=%v&lat=%v", base, g.Lon, g.Lat), 200, &r)
			if r.Grid == nil || r.Grid.Code != g.Code || r.Community == nil || r.Community.Code != community {
				t.Errorf("lookup at %s's label point: %+v", g.Code, r)
			}
		}
		lon, lat := pointOutsideGrids(t, st)
		body := fmt.Sprintf("id,lon,lat\nin,%v,%v\nout,%v,%v\n", grids[1].Lon, grids[1].Lat, lon, lat)
		res := call(t, "POST", base+"/api/v1/lookup", "", strings.NewReader(body), map[string]string{"Content-Type": "text/csv"}, nil)
		wantStatus(t, res, 200)
		rows, err := csv.NewReader(res.Body).ReadAll()
		if err != nil || len(rows) != 3 || rows[0][7] != "grid_code" || rows[0][8] != "grid_name" {
			t.Fatalf("CSV: %v %v", rows, err)
		}
		if rows[1][7] != want[1] || rows[1][8] != grids[1].Name || rows[2][5] == "" || rows[2][7] != "" {
			t.Errorf("CSV rows: %v", rows[1:])
		}
		var raw struct{ Results []map[string]json.RawMessage }
		b := fmt.Sprintf(`{"points":[{"id":"in","lon":%v,"lat":%v},{"id":"out","lon":%v,"lat":%v}]}`, grids[1].Lon, grids[1].Lat, lon, lat)
		call(t, "POST", base+"/api/v1/lookup", "", strings.NewReader(b), map[string]string{"Content-Type": "application/json"}, &raw)
		if len(raw.Results) != 2 || !strings.Contains(string(raw.Results[0]["grid"]), want[1]) || string(raw.Results[1]["grid"]) != "null" {
			t.Errorf("JSON results: %v", raw.Results)
		}
	})
}

// TestMapGridsBrowser: selecting a community with grids lists them in the
// panel (code, households, status) and outlines them on the map, where
// queryRenderedFeatures finds them; a link selects a grid.
func TestMapGridsBrowser(t *testing.T) {
	needChromium(t)
	base, st := testServer(t, Config{})
	community := addGrids(t, st, 4)
	bctx := browser(t)
	listed := `(() => { const t = document.getElementById('panel-grid-list');
		return t !== null && t.dataset.community === '` + community + `' && t.querySelectorAll('tr[data-code]').length === 4 &&
			document.querySelectorAll('.grid-num').length === 4; })()`
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/#unit="+community),
		void(chromedp.Poll[any](listed, chromedp.WithPollingTimeout(25*time.Second)))); err != nil {
		panel, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('panel') ? document.getElementById('panel').innerText : ''`))
		t.Fatalf("panel of %s does not list 4 grids: %q: %v", community, panel, err)
	}
	status := map[string]string{}
	for _, g := range mapGrids(t, base, community) {
		status[g.Code] = strconv.FormatInt(*g.Households, 10) + " " + g.Status
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#panel-grid-list tr[data-code]')].map(r => r.innerText.replace(/\s+/g, ' ').replace(/,/g, '').trim())`))
	if err != nil || len(rows) != 4 {
		t.Fatalf("grid rows %v %v", rows, err)
	}
	for i, r := range rows {
		code := community + fmt.Sprintf("%03d", i+1)
		if !strings.HasPrefix(r, code[12:]+" "+code+" ") || !strings.HasSuffix(r, " "+status[code]) {
			t.Errorf("panel row %d %q: want the sequence, code %s, households and status %s", i, r, code, status[code])
		}
	}
	// The selection zooms to the community: past the grids' minzoom, the
	// outlined grids are rendered.
	rendered := `(() => { const m = window.jiedaoMap; if (!window.jiedaoIdle || m.getZoom() < ` + strconv.Itoa(layers.TileMinZoom("grids")) + `) return null;
		const fs = m.queryRenderedFeatures({layers: ['grids-selected-line']});
		return [...new Set(fs.map(f => f.properties.code))].sort(); })()`
	var codes []string
	if err := chromedp.Do(bctx, void(chromedp.Poll[any](`(() => { const c = `+rendered+`; return c !== null && c.length === 4; })()`,
		chromedp.WithPollingTimeout(25*time.Second)))); err != nil {
		got, _ := chromedp.Run(bctx, chromedp.Evaluate[any](`[window.jiedaoMap.getZoom(), `+rendered+`]`))
		t.Fatalf("grids-selected-line renders %v, want the 4 grids of %s: %v", got, community, err)
	}
	codes, _ = chromedp.Run(bctx, chromedp.Evaluate[[]string](rendered))
	legend, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('legend').innerText`))
	if !strings.Contains(legend, "grids 网格 (from zoom 13)") || !strings.Contains(legend, "grids of the selected community") {
		t.Errorf("legend lacks the grids:\n%s", legend)
	}
	chromedp.Run(bctx, chromedp.Evaluate[any](`document.getElementById('panel-grids').scrollIntoView(); true`)) //nolint:errcheck
	screenshot(t, bctx, "grids.png")
	t.Logf("grids rendered: %v", codes)

	// A link selects the grid: its panel, its parent link and its outline.
	second := community + "002"
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#panel-grid-list a.unit-link[data-code="`+second+`"]`)),
		void(chromedp.Poll[any](`document.getElementById('panel-code').textContent === '`+second+`' &&
			document.querySelector('#panel-parent a[data-code="`+community+`"]') !== null &&
			document.querySelector('#panel-grid-list tr.current[data-code="`+second+`"]') !== null &&
			JSON.stringify(window.jiedaoMap.getFilter('selected-grid-line')).includes('`+second+`')`, chromedp.WithPollingTimeout(15*time.Second)))); err != nil {
		panel, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('panel').innerText`))
		t.Fatalf("grid link did not select %s: %q: %v", second, panel, err)
	}
	if err := chromedp.Do(bctx, void(chromedp.Poll[any](`window.jiedaoIdle === true`, chromedp.WithPollingTimeout(10*time.Second)))); err == nil {
		screenshot(t, bctx, "grid-selected.png")
	}
	// At the grids' minzoom: every community's grids dashed, the selected one's outlined.
	if err := chromedp.Do(bctx, void(chromedp.Evaluate[any](`window.jiedaoIdle = false; window.jiedaoMap.setZoom(`+strconv.Itoa(layers.TileMinZoom("grids"))+` + 0.2); true`)),
		void(chromedp.Poll[any](`window.jiedaoIdle === true`, chromedp.WithPollingTimeout(10*time.Second)))); err == nil {
		n, _ := chromedp.Run(bctx, chromedp.Evaluate[int](`new Set(window.jiedaoMap.queryRenderedFeatures({layers: ['grids-line']}).map(f => f.properties.code)).size`))
		t.Logf("zoom %.1f: %d grids drawn", float64(layers.TileMinZoom("grids"))+0.2, n)
		screenshot(t, bctx, "grids-minzoom.png")
	}
}

// oasGrids: the grid level in the unit documents, stats and lookups (JSON
// and CSV), against the document.
func oasGrids(t *testing.T, c *oasChecker, st *store.Store) {
	community := addGrids(t, st, 3)
	c.want(t, 200, "", "GET", "/api/v1/units?level=grid", "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/units/"+community+"002?geometry=true", "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/stats?level=grid", "", nil, nil)
	var lon, lat float64
	if err := st.Reader().QueryRow(context.Background(), `SELECT ST_X(p), ST_Y(p) FROM units u, ST_PointOnSurface(u.geom) p
		WHERE u.code = $1`, community+"002").Scan(&lon, &lat); err != nil {
		t.Fatal(err)
	}
	var r lookup.Result
	json.Unmarshal(c.want(t, 200, "", "GET", fmt.Sprintf("/api/v1/lookup?lon=%v&lat=%v", lon, lat), "", nil, nil), &r) //nolint:errcheck
	if r.Grid == nil || r.Grid.Code != community+"002" {
		t.Errorf("lookup in grid %s002: %+v", community, r)
	}
	pts := fmt.Sprintf(`{"points":[{"id":"g","lon":%v,"lat":%v},{"id":"none","lon":0,"lat":0}]}`, lon, lat)
	c.want(t, 200, "", "POST", "/api/v1/lookup", "", []byte(pts), map[string]string{"Content-Type": "application/json"})
	c.want(t, 200, "", "POST", "/api/v1/lookup", "", []byte(fmt.Sprintf("g,%v,%v\n", lon, lat)), map[string]string{"Content-Type": "text/csv"})
}
