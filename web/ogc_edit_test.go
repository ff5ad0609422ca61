package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// The request sequence QGIS (3.32+) sends to edit an OGC API Features
// layer, replayed against a draft scenario: OPTIONS, POST, PUT, PATCH and
// DELETE with and without If-Match, in CRS84, EPSG:4326 and EPSG:4548,
// bad geometry, a viewer key; then the draft is read back by GDAL,
// diffed, and adopted.

type ogcEdit struct {
	t    *testing.T
	base string // /ogc/scenarios/{id}
}

// do sends one request; key goes as X-API-Key, as QGIS's "API Header"
// authentication sends it (bearer=true: as Authorization: Bearer).
func (e ogcEdit) do(method, path, key string, bearer bool, hdr map[string]string, body any) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			b, _ = json.Marshal(body)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/geo+json")
	}
	switch {
	case key != "" && bearer:
		req.Header.Set("Authorization", "Bearer "+key)
	case key != "":
		req.Header.Set("X-API-Key", key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	return res, got
}

func (e ogcEdit) want(status int, method, path, key string, hdr map[string]string, body any) http.Header {
	e.t.Helper()
	res, got := e.do(method, path, key, false, hdr, body)
	if res.StatusCode != status {
		e.t.Fatalf("%s %s: %d, want %d: %.500s", method, path, res.StatusCode, status, got)
	}
	return res.Header
}

// halves are the parts of a community's geometry west and east of its
// middle, the east one cut again north and south, as GeoJSON in CRS84.
func halves(t *testing.T, st *store.Store, code string) (west, northEast, southEast string) {
	t.Helper()
	err := st.Primary().QueryRow(context.Background(), `WITH u AS (SELECT geom, (ST_XMin(geom) + ST_XMax(geom)) / 2 AS mx,
			(ST_YMin(geom) + ST_YMax(geom)) / 2 AS my FROM units WHERE code = $1 AND valid_to IS NULL)
		SELECT ST_AsGeoJSON(ST_CollectionExtract(ST_Intersection(geom, ST_MakeEnvelope(-180, -90, mx, 90, 4326)), 3), 9),
			ST_AsGeoJSON(ST_CollectionExtract(ST_Intersection(geom, ST_MakeEnvelope(mx, my, 180, 90, 4326)), 3), 9),
			ST_AsGeoJSON(ST_CollectionExtract(ST_Intersection(geom, ST_MakeEnvelope(mx, -90, 180, my, 4326)), 3), 9) FROM u`, code).
		Scan(&west, &northEast, &southEast)
	if err != nil {
		t.Fatal(err)
	}
	return west, northEast, southEast
}

// inCRS is a CRS84 GeoJSON geometry in EPSG:n, in that CRS's axis order
// (northing/latitude first for 4326 and 4548), as QGIS writes it.
func inCRS(t *testing.T, st *store.Store, g string, srid int) json.RawMessage {
	t.Helper()
	var out string
	if err := st.Primary().QueryRow(context.Background(),
		`SELECT ST_AsGeoJSON(ST_FlipCoordinates(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON($1), 4326), $2::int)), 9)`, g, srid).Scan(&out); err != nil {
		t.Fatal(err)
	}
	return json.RawMessage(out)
}

func feature(props map[string]any, g json.RawMessage) map[string]any {
	return map[string]any{"type": "Feature", "properties": props, "geometry": g}
}

type draftRow struct {
	Name       string
	Parent     *string
	Households *int64
	X, Y       float64
}

func draftUnit(t *testing.T, st *store.Store, id int64, code string) (draftRow, bool) {
	t.Helper()
	var r draftRow
	err := st.Primary().QueryRow(context.Background(), `SELECT name, parent_code, households, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom))
		FROM scenario_units WHERE scenario_id = $1 AND code = $2`, id, code).Scan(&r.Name, &r.Parent, &r.Households, &r.X, &r.Y)
	if err != nil {
		return r, false
	}
	return r, true
}

func count(t *testing.T, st *store.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := st.Primary().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOGCEditDraftLikeQGIS(t *testing.T) {
	url, st := testServer(t, Config{})
	keys := newKeys(t, st)
	editor, viewer := keys["editor"], keys["viewer"]
	ctx := context.Background()

	var sc struct{ ID int64 }
	wantStatus(t, call(t, "POST", url+"/api/v1/scenarios", editor, strings.NewReader(`{"name":"QGIS draft"}`), nil, &sc), http.StatusCreated)
	e := ogcEdit{t: t, base: fmt.Sprintf("%s/ogc/scenarios/%d", url, sc.ID)}

	// Two live communities of one street: c1 is cut in three, c2 removed.
	var c1, c2, street string
	if err := st.Primary().QueryRow(ctx, `SELECT min(code), max(code), parent_code FROM units
		WHERE level = 'community' AND valid_to IS NULL GROUP BY parent_code HAVING count(*) >= 3 ORDER BY parent_code LIMIT 1`).Scan(&c1, &c2, &street); err != nil {
		t.Fatal(err)
	}
	west, ne, se := halves(t, st, c1)
	items := "/collections/communities/items"

	// OPTIONS: editing on for an editor key (either header), off for a
	// viewer key and without a key.
	for _, c := range []struct {
		key    string
		bearer bool
		post   bool
	}{{editor, false, true}, {editor, true, true}, {viewer, false, false}, {viewer, true, false}, {"", false, false}} {
		res, _ := e.do("OPTIONS", items, c.key, c.bearer, nil, nil)
		if allow := res.Header.Get("Allow"); res.StatusCode != 200 || strings.Contains(allow, "POST") != c.post || !strings.Contains(allow, "GET") {
			t.Errorf("OPTIONS items (key %v, bearer %v): %d Allow %q, want POST %v", c.key != "", c.bearer, res.StatusCode, allow, c.post)
		}
		res, _ = e.do("OPTIONS", items+"/"+c1, c.key, c.bearer, nil, nil)
		if allow := res.Header.Get("Allow"); strings.Contains(allow, "PUT") != c.post || strings.Contains(allow, "DELETE") != c.post ||
			strings.Contains(allow, "PATCH") != c.post {
			t.Errorf("OPTIONS item (key %v): Allow %q", c.key != "", allow)
		}
	}
	live := ogcEdit{t: t, base: url + "/ogc"}
	if allow := live.want(200, "OPTIONS", items, editor, nil, nil).Get("Allow"); strings.Contains(allow, "POST") {
		t.Errorf("live items: Allow %q: live collections are read-only", allow)
	}

	// POST in EPSG:4326 (lat/lon) and EPSG:4548 (northing first).
	n1, n2 := c1[:9]+"901", c1[:9]+"902"
	h := e.want(201, "POST", items, editor, map[string]string{"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/4326>"},
		feature(map[string]any{"code": n1, "name": "新东北社区", "households": 800, "population": 2000}, inCRS(t, st, ne, 4326)))
	if loc := h.Get("Location"); loc != e.base+items+"/"+n1 || h.Get("ETag") == "" || !strings.Contains(h.Get("Content-Crs"), "4326") {
		t.Errorf("POST: Location %q ETag %q Content-Crs %q", loc, h.Get("ETag"), h.Get("Content-Crs"))
	}
	e.want(201, "POST", items, editor, map[string]string{"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/4548>"},
		feature(map[string]any{"code": n2, "name": "新东南社区", "households": 700}, inCRS(t, st, se, 4548)))
	var nx, ny, sx, sy float64
	if err := st.Primary().QueryRow(ctx, `SELECT ST_X(ST_Centroid(ST_GeomFromGeoJSON($1))), ST_Y(ST_Centroid(ST_GeomFromGeoJSON($1))),
		ST_X(ST_Centroid(ST_GeomFromGeoJSON($2))), ST_Y(ST_Centroid(ST_GeomFromGeoJSON($2)))`, ne, se).Scan(&nx, &ny, &sx, &sy); err != nil {
		t.Fatal(err)
	}
	for code, w := range map[string][2]float64{n1: {nx, ny}, n2: {sx, sy}} {
		r, ok := draftUnit(t, st, sc.ID, code)
		if !ok || r.Parent == nil || *r.Parent != street || abs(r.X-w[0]) > 1e-6 || abs(r.Y-w[1]) > 1e-6 {
			t.Errorf("stored %s: %+v (found %v), want parent %s centroid %v", code, r, ok, street, w)
		}
	}
	e.want(409, "POST", items, editor, nil, feature(map[string]any{"code": n1, "name": "again"}, json.RawMessage(ne)))
	e.want(401, "POST", items, "", nil, feature(map[string]any{"code": n1 + "x", "name": "匿名"}, json.RawMessage(ne)))

	// PUT without If-Match (QGIS's way): last writer wins; the ETag moves.
	_, got := e.do("GET", items+"/"+c1, "", false, nil, nil)
	res, _ := e.do("GET", items+"/"+c1, "", false, nil, nil)
	tag0 := res.Header.Get("ETag")
	if tag0 == "" || !bytes.Contains(got, []byte(c1)) {
		t.Fatalf("GET draft item: ETag %q, %.200s", tag0, got)
	}
	tag1 := e.want(204, "PUT", items+"/"+c1, editor, nil,
		feature(map[string]any{"name": "西半社区", "households": 900}, json.RawMessage(west))).Get("ETag")
	if r, _ := draftUnit(t, st, sc.ID, c1); r.Name != "西半社区" || tag1 == "" || tag1 == tag0 {
		t.Errorf("PUT: stored %+v, ETag %q (was %q)", r, tag1, tag0)
	}
	// With If-Match: the stale tag is refused, the current one taken.
	e.want(412, "PUT", items+"/"+c1, editor, map[string]string{"If-Match": tag0},
		feature(map[string]any{"name": "过期"}, json.RawMessage(west)))
	tag2 := e.want(204, "PATCH", items+"/"+c1, editor, map[string]string{"If-Match": tag1, "Content-Type": "application/merge-patch+json"},
		map[string]any{"properties": map[string]any{"households": 950}}).Get("ETag")
	if r, _ := draftUnit(t, st, sc.ID, c1); r.Name != "西半社区" || r.Households == nil || *r.Households != 950 {
		t.Errorf("PATCH kept the name and changed households: %+v", r)
	}
	e.want(204, "PATCH", items+"/"+c1, editor, nil, map[string]any{"properties": map[string]any{"name": "西半社区二"}})

	// Two editors with the same tag: the second gets 412 on that feature;
	// edits to different features both land.
	res, _ = e.do("GET", items+"/"+n1, "", false, nil, nil)
	tagN1 := res.Header.Get("ETag")
	res, _ = e.do("GET", items+"/"+n2, "", false, nil, nil)
	tagN2 := res.Header.Get("ETag")
	e.want(204, "PATCH", items+"/"+n1, editor, map[string]string{"If-Match": tagN1}, map[string]any{"properties": map[string]any{"name": "甲改"}})
	e.want(412, "PATCH", items+"/"+n1, keys["admin"], map[string]string{"If-Match": tagN1}, map[string]any{"properties": map[string]any{"name": "乙改"}})
	e.want(204, "PATCH", items+"/"+n2, keys["admin"], map[string]string{"If-Match": tagN2}, map[string]any{"properties": map[string]any{"name": "乙改"}})
	if r, _ := draftUnit(t, st, sc.ID, n1); r.Name != "甲改" {
		t.Errorf("n1 after the race: %q", r.Name)
	}
	if r, _ := draftUnit(t, st, sc.ID, n2); r.Name != "乙改" {
		t.Errorf("n2: %q", r.Name)
	}
	_ = tag2

	// Refusals write nothing: bad geometry, a bad count, an unknown parent,
	// a viewer key, an unknown CRS.
	before := count(t, st, `SELECT count(*) FROM scenario_edits WHERE scenario_id = $1`, sc.ID)
	for _, c := range []struct {
		status int
		key    string
		hdr    map[string]string
		body   any
		reason string
	}{
		{422, editor, nil, feature(map[string]any{"code": c1[:9] + "903", "name": "坏"},
			json.RawMessage(`{"type":"Polygon","coordinates":[[[116.3,39.9],[116.31,39.9],[116.3,39.9]]]}`)), "ring"},
		{422, editor, nil, feature(map[string]any{"code": c1[:9] + "904", "name": "坏", "households": "many"}, json.RawMessage(ne)), "households"},
		{422, editor, nil, feature(map[string]any{"code": "999999999904", "name": "孤"}, json.RawMessage(ne)), "parent"},
		{422, editor, nil, feature(map[string]any{"code": c1[:9] + "905", "name": "线"}, json.RawMessage(`{"type":"Point","coordinates":[116.3,39.9]}`)), "polygon"},
		{403, viewer, nil, feature(map[string]any{"code": c1[:9] + "906", "name": "看"}, json.RawMessage(ne)), ""},
		{400, editor, map[string]string{"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/2000>"},
			feature(map[string]any{"code": c1[:9] + "907", "name": "错"}, json.RawMessage(ne)), "Content-Crs"},
	} {
		res, got := e.do("POST", items, c.key, false, c.hdr, c.body)
		if res.StatusCode != c.status || !strings.Contains(string(got), c.reason) {
			t.Errorf("POST %s: %d, want %d naming %q: %s", c.reason, res.StatusCode, c.status, c.reason, got)
		}
	}
	if after := count(t, st, `SELECT count(*) FROM scenario_edits WHERE scenario_id = $1`, sc.ID); after != before {
		t.Errorf("refused writes recorded %d edits", after-before)
	}

	// DELETE: stale If-Match refused, then a removal in the scenario.
	e.want(412, "DELETE", items+"/"+c2, editor, map[string]string{"If-Match": `"stale"`}, nil)
	e.want(204, "DELETE", items+"/"+c2, editor, nil, nil)
	e.want(404, "DELETE", items+"/"+c2, editor, nil, nil)
	if n := count(t, st, `SELECT count(*) FROM scenario_removed WHERE scenario_id = $1 AND code = $2`, sc.ID, c2); n != 1 {
		t.Errorf("removed %s: %d rows", c2, n)
	}
	if n := count(t, st, `SELECT count(*) FROM scenario_edits WHERE scenario_id = $1`, sc.ID); n != 8 {
		t.Errorf("history: %d edits, want 8", n)
	}

	ogcEditReadBack(t, url, e, sc.ID, c1, c2, n1)
	ogcEditDiffAndAdopt(t, url, st, editor, e, sc.ID, c1, c2, n1, n2)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// ogcEditReadBack reads the draft as QGIS's engine does (GDAL's OAPIF
// driver), through the draft's landing page and through ?scenario=.
func ogcEditReadBack(t *testing.T, url string, e ogcEdit, id int64, c1, c2, n1 string) {
	ogr2ogr := ogcTool(t, "ogr2ogr")
	dir := t.TempDir()
	for i, src := range []string{"OAPIF:" + e.base, fmt.Sprintf("OAPIF:%s/ogc?scenario=%d", url, id)} {
		out := filepath.Join(dir, fmt.Sprintf("r%d.gpkg", i))
		ogcRun(t, ogr2ogr, "-f", "GPKG", out, src, "communities")
		got := ogcReadGPKG(t, out, "communities")
		if got[n1][1] != "甲改" || got[c1][1] != "西半社区二" {
			t.Errorf("%s: %s = %v, %s = %v", src, n1, got[n1], c1, got[c1])
		}
		if _, ok := got[c2]; ok {
			t.Errorf("%s: removed %s still there", src, c2)
		}
	}
}

// ogcEditDiffAndAdopt checks that the diff follows the edits (the
// scenario's run is remade), then adopts the draft and reads the live
// versions.
func ogcEditDiffAndAdopt(t *testing.T, url string, st *store.Store, key string, e ogcEdit, id int64, c1, c2, n1, n2 string) {
	var diff struct {
		Rows []struct {
			Code    string `json:"code"`
			Change  string `json:"change"`
			HHAfter *int64 `json:"households_after"`
		} `json:"rows"`
	}
	diffURL := fmt.Sprintf("%s/api/v1/scenarios/%d/diff", url, id)
	getJSONKey(t, diffURL, "", 200, &diff)
	changes := map[string]string{}
	for _, r := range diff.Rows {
		changes[r.Code] = r.Change
	}
	if changes[c1] != "changed" || changes[n1] != "new" || changes[n2] != "new" || changes[c2] != "removed" {
		t.Fatalf("diff: %v", changes)
	}
	// An edit invalidates the run: the diff shows the new households.
	e.want(204, "PATCH", "/collections/communities/items/"+n1, key, nil, map[string]any{"properties": map[string]any{"households": 1234}})
	getJSONKey(t, diffURL, "", 200, &diff)
	for _, r := range diff.Rows {
		if r.Code == n1 && (r.HHAfter == nil || *r.HHAfter != 1234) {
			t.Errorf("diff after the edit: %s households %v, want 1234", n1, r.HHAfter)
		}
	}
	// The adjustment report documents the draft's edits.
	res, body := tileGet(t, fmt.Sprintf("%s/reports/scenarios/%d.html", url, id))
	if res.StatusCode != 200 || !strings.Contains(string(body), `data-testid="edits"`) || !strings.Contains(string(body), n1) ||
		!strings.Contains(string(body), "update") {
		t.Errorf("report of the draft: %d, edits table %v, %s in it %v", res.StatusCode, strings.Contains(string(body), `data-testid="edits"`), n1, strings.Contains(string(body), n1))
	}
	day := boundaries.Today().AddDate(0, 0, 1).Format("2006-01-02")
	wantStatus(t, call(t, "POST", fmt.Sprintf("%s/api/v1/scenarios/%d/adopt", url, id), key,
		strings.NewReader(`{"approval":"京政函〔2026〕20号","valid_from":"`+day+`"}`), nil, nil), http.StatusOK)
	var u unitJSON
	getJSONKey(t, url+"/api/v1/units/"+n1+"?at="+day, "", 200, &u)
	if u.Name != "甲改" || u.Households == nil || *u.Households != 1234 || u.Approval == nil || *u.Approval != "京政函〔2026〕20号" {
		t.Errorf("adopted %s: %+v", n1, u)
	}
	getJSONKey(t, url+"/api/v1/units/"+c1+"?at="+day, "", 200, &u)
	if u.Name != "西半社区二" || u.ValidFrom != day {
		t.Errorf("adopted %s: %+v", c1, u)
	}
	if n := count(t, st, `SELECT count(*) FROM units WHERE code = $1 AND valid_to IS NULL`, c2); n != 0 {
		t.Errorf("%s not retired", c2)
	}
	// An adopted draft is read-only.
	if allow := e.want(200, "OPTIONS", "/collections/communities/items", key, nil, nil).Get("Allow"); strings.Contains(allow, "POST") {
		t.Errorf("adopted: Allow %q", allow)
	}
}

// TestOGCEditOpenAPIAndLive validates the draft's write answers against
// its /api document, edits a grid, and writes a live unit with an
// approval.
func TestOGCEditOpenAPIAndLive(t *testing.T) {
	url, st := testServer(t, Config{})
	keys := newKeys(t, st)
	editor := keys["editor"]
	ctx := context.Background()
	var sc struct{ ID int64 }
	wantStatus(t, call(t, "POST", url+"/api/v1/scenarios", editor, strings.NewReader(`{"name":"OpenAPI draft"}`), nil, &sc), http.StatusCreated)
	prefix := fmt.Sprintf("/ogc/scenarios/%d", sc.ID)
	c, err := newChecker(url, prefix+"/api", prefix)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct{ ConformsTo []string }
	getJSONKey(t, url+prefix+"/conformance", "", 200, &conf)
	if !strings.Contains(strings.Join(conf.ConformsTo, " "), "ogcapi-features-4/1.0/conf/create-replace-delete") {
		t.Errorf("conformance: %v", conf.ConformsTo)
	}
	var com, grid string
	var g string
	if err := st.Primary().QueryRow(ctx, `SELECT u.code, ST_AsGeoJSON(ST_Buffer(ST_PointOnSurface(u.geom), 0.0005, 2), 9),
			(SELECT min(code) FROM units WHERE parent_code = u.code AND level = 'grid' AND valid_to IS NULL)
		FROM units u WHERE u.level = 'community' AND u.valid_to IS NULL
		  AND EXISTS (SELECT 1 FROM units x WHERE x.parent_code = u.code AND x.level = 'grid') ORDER BY u.code LIMIT 1`).Scan(&com, &g, &grid); err != nil {
		t.Fatal(err)
	}
	geo := json.RawMessage(g)
	body := func(v any) []byte { b, _ := json.Marshal(v); return b }
	gj := map[string]string{"Content-Type": "application/geo+json"}
	newGrid := com + "901"
	c.want(t, 200, "", "OPTIONS", "/collections/grids/items", editor, nil, nil)
	c.want(t, 200, "", "OPTIONS", "/collections/communities/items", editor, nil, nil)
	c.want(t, 200, "", "OPTIONS", "/collections/grids/items/"+grid, editor, nil, nil)
	res, _ := c.do(t, "POST", "/collections/grids/items", editor, body(feature(map[string]any{"code": newGrid, "name": "新网格"}, geo)), gj)
	if res.StatusCode != 201 {
		t.Fatalf("POST grid: %d", res.StatusCode)
	}
	c.want(t, 422, "", "POST", "/collections/communities/items", editor, body(feature(map[string]any{"code": com[:9] + "999"}, geo)), gj)
	c.want(t, 204, "", "PUT", "/collections/grids/items/"+grid, editor, body(feature(map[string]any{"name": "改网格"}, geo)), gj)
	c.want(t, 412, "", "PATCH", "/collections/grids/items/"+grid, editor, body(map[string]any{"properties": map[string]any{"name": "x"}}),
		map[string]string{"If-Match": `"nope"`, "Content-Type": "application/merge-patch+json"})
	c.want(t, 204, "", "PATCH", "/collections/grids/items/"+newGrid, editor, body(map[string]any{"properties": map[string]any{"households": 50}}),
		map[string]string{"Content-Type": "application/merge-patch+json"})
	c.want(t, 204, "", "DELETE", "/collections/grids/items/"+newGrid, editor, nil, nil)
	c.want(t, 404, "", "DELETE", "/collections/grids/items/"+newGrid, editor, nil, nil)
	c.want(t, 403, "", "DELETE", "/collections/grids/items/"+grid, keys["viewer"], nil, nil)
	var miss []string
	for _, m := range c.uncovered() {
		if !strings.HasPrefix(m, "GET ") {
			miss = append(miss, m)
		}
	}
	if len(miss) > 0 {
		t.Errorf("write operations of %s/api not called: %v", prefix, miss)
	}
	if r, ok := draftUnit(t, st, sc.ID, grid); !ok || r.Name != "改网格" || r.Parent == nil || *r.Parent != com {
		t.Errorf("draft grid %s: %+v %v", grid, r, ok)
	}

	// Live: read-only without an approval; with one, a new version at
	// once, If-Match required.
	live := ogcEdit{t: t, base: url + "/ogc"}
	item := "/collections/communities/items/" + com
	if allow := live.want(200, "OPTIONS", item, editor, nil, nil).Get("Allow"); strings.Contains(allow, "PUT") {
		t.Errorf("live without approval: Allow %q", allow)
	}
	day := boundaries.Today().AddDate(0, 0, 1).Format("2006-01-02")
	appr := map[string]string{"X-Approval": "京政函〔2026〕21号", "X-Valid-From": day}
	if allow := live.want(200, "OPTIONS", item, editor, appr, nil).Get("Allow"); !strings.Contains(allow, "PUT") {
		t.Errorf("live with approval: Allow %q", allow)
	}
	live.want(403, "PATCH", item, editor, nil, map[string]any{"type": "Feature", "properties": map[string]any{"name": "改名"}})
	live.want(428, "PATCH", item, editor, appr, map[string]any{"type": "Feature", "properties": map[string]any{"name": "改名"}})
	tag := live.want(200, "GET", item, "", nil, nil).Get("ETag")
	appr["If-Match"] = tag
	newTag := live.want(204, "PATCH", item, editor, appr, map[string]any{"type": "Feature", "properties": map[string]any{"name": "改名社区"}}).Get("ETag")
	var u unitJSON
	getJSONKey(t, url+"/api/v1/units/"+com+"?at="+day, "", 200, &u)
	if u.Name != "改名社区" || u.ValidFrom != day || u.Approval == nil || etag(u.VersionID) != newTag {
		t.Errorf("live version: %+v, ETag %s", u, newTag)
	}
	live.want(412, "PATCH", item, editor, appr, map[string]any{"type": "Feature", "properties": map[string]any{"name": "又改"}})
}
