package web

import (
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/geo"
	"github.com/jiedao/jiedao/web/ogc"
)

// ogcGet fetches url and decodes the body; it returns the status.
func ogcGet(t *testing.T, u string, v any) (int, http.Header) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %d %v: %s", u, resp.StatusCode, err, body)
		}
	}
	return resp.StatusCode, resp.Header
}

type ogcFC struct {
	Type           string       `json:"type"`
	NumberMatched  int          `json:"numberMatched"`
	NumberReturned int          `json:"numberReturned"`
	Features       []ogcFeature `json:"features"`
	Links          []ogc.Link   `json:"links"`
}

type ogcFeature struct {
	ID         string         `json:"id"`
	Geometry   ogcGeometry    `json:"geometry"`
	Properties map[string]any `json:"properties"`
}

type ogcGeometry struct {
	Type        string          `json:"type"`
	Coordinates [][][][]float64 `json:"coordinates"`
}

func ogcHref(links []ogc.Link, rel string) string {
	for _, l := range links {
		if l.Rel == rel {
			return l.Href
		}
	}
	return ""
}

type ogcErrDoc struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

func TestOGCCore(t *testing.T) {
	base, _ := testServer(t, Config{})
	_, man := demoCity(t)
	var landing struct{ Links []ogc.Link }
	if code, _ := ogcGet(t, base+"/ogc", &landing); code != 200 {
		t.Fatalf("landing: %d", code)
	}
	for _, rel := range []string{"self", "alternate", "service-desc", "service-doc", "conformance", "data"} {
		if ogcHref(landing.Links, rel) == "" {
			t.Errorf("landing page lacks rel=%s", rel)
		}
	}
	if !strings.HasSuffix(ogcHref(landing.Links, "service-desc"), "/ogc/api") {
		t.Errorf("service-desc = %s", ogcHref(landing.Links, "service-desc"))
	}
	var conf struct{ ConformsTo []string }
	ogcGet(t, base+"/ogc/conformance", &conf)
	if len(conf.ConformsTo) < 5 {
		t.Errorf("conformance: %v", conf.ConformsTo)
	}
	var api struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	ogcGet(t, base+"/ogc/api", &api)
	if !strings.HasPrefix(api.OpenAPI, "3.0") || api.Paths["/collections/{collectionId}/items"] == nil {
		t.Errorf("api: %s %v", api.OpenAPI, api.Paths)
	}
	var cols struct {
		Collections []struct {
			ID         string
			CRS        []string `json:"crs"`
			StorageCRS string   `json:"storageCrs"`
			Extent     struct{ Spatial struct{ BBox [][]float64 } }
		}
	}
	ogcGet(t, base+"/ogc/collections", &cols)
	var ids []string
	for _, c := range cols.Collections {
		ids = append(ids, c.ID)
		if len(c.CRS) != len(geo.OGC) || c.StorageCRS != geo.CRS84.URI {
			t.Errorf("collection %s crs %v storage %s", c.ID, c.CRS, c.StorageCRS)
		}
	}
	if strings.Join(ids, ",") != "districts,streets,communities,grids,zones,barriers" {
		t.Errorf("collections = %v", ids)
	}
	if cols.Collections[2].Extent.Spatial.BBox == nil {
		t.Error("communities without extent")
	}

	// Paging: every feature once, next on every page but the last.
	seen := map[string]bool{}
	next := base + "/ogc/collections/communities/items?limit=120"
	pages := 0
	for next != "" {
		var fc ogcFC
		if code, h := ogcGet(t, next, &fc); code != 200 || h.Get("Content-Type") != "application/geo+json" {
			t.Fatalf("%s: %d %s", next, code, h.Get("Content-Type"))
		}
		if fc.NumberMatched != man.Counts.Communities || fc.NumberReturned != len(fc.Features) {
			t.Fatalf("numberMatched %d (want %d), numberReturned %d of %d", fc.NumberMatched, man.Counts.Communities,
				fc.NumberReturned, len(fc.Features))
		}
		for _, f := range fc.Features {
			if seen[f.ID] {
				t.Fatalf("feature %s twice", f.ID)
			}
			seen[f.ID] = true
			if f.Properties["code"] != f.ID || f.Properties["name"] == nil || f.Properties["status"] == nil {
				t.Fatalf("feature %s properties %v", f.ID, f.Properties)
			}
		}
		next = ogcHref(fc.Links, "next")
		pages++
	}
	if len(seen) != man.Counts.Communities || pages != (man.Counts.Communities+119)/120 {
		t.Errorf("paged %d features in %d pages, want %d", len(seen), pages, man.Counts.Communities)
	}

	// Default and clamped limits.
	var fc ogcFC
	ogcGet(t, base+"/ogc/collections/communities/items", &fc)
	if len(fc.Features) != 100 {
		t.Errorf("default limit returned %d", len(fc.Features))
	}
	ogcGet(t, base+"/ogc/collections/communities/items?limit=20000", &fc)
	if len(fc.Features) != man.Counts.Communities || ogcHref(fc.Links, "next") != "" {
		t.Errorf("limit 20000 returned %d, next %q", len(fc.Features), ogcHref(fc.Links, "next"))
	}

	// One feature, and its 404s.
	code := fc.Features[0].ID
	var one ogcFeature
	if st, _ := ogcGet(t, base+"/ogc/collections/communities/items/"+code, &one); st != 200 || one.ID != code {
		t.Errorf("item %s: %d %s", code, st, one.ID)
	}
	var e ogcErrDoc
	if st, _ := ogcGet(t, base+"/ogc/collections/communities/items/nope", &e); st != 404 || e.Code != "NotFound" {
		t.Errorf("missing item: %d %+v", st, e)
	}
	if st, _ := ogcGet(t, base+"/ogc/collections/nope/items", &e); st != 404 || e.Code != "NotFound" {
		t.Errorf("missing collection: %d %+v", st, e)
	}
	for _, q := range []string{"limit=0", "limit=x", "offset=-1", "bbox=1,2,3", "crs=EPSG:9999", "datetime=yesterday",
		"nonsense=1", "profile=nope", "households=many", "filter-lang=cql2-json"} {
		if st, _ := ogcGet(t, base+"/ogc/collections/communities/items?"+q, &e); st != 400 || e.Code != "InvalidParameterValue" || e.Description == "" {
			t.Errorf("%s: %d %+v", q, st, e)
		}
	}

	// Zones use their stable id.
	ogcGet(t, base+"/ogc/collections/zones/items", &fc)
	if len(fc.Features) == 0 || fc.Features[0].ID != fc.Features[0].Properties["id"] {
		t.Errorf("zones: %d features", len(fc.Features))
	} else {
		zid := fc.Features[0].ID
		if st, _ := ogcGet(t, base+"/ogc/collections/zones/items/"+url.PathEscape(zid), &one); st != 200 || one.ID != zid {
			t.Errorf("zone %s: %d", zid, st)
		}
	}

	var q struct{ Properties map[string]map[string]any }
	ogcGet(t, base+"/ogc/collections/communities/queryables", &q)
	if q.Properties["status"]["type"] != "string" || q.Properties["households"]["type"] != "integer" || q.Properties["geometry"] == nil {
		t.Errorf("queryables: %v", q.Properties)
	}
}

func TestOGCFilters(t *testing.T) {
	base, store := testServer(t, Config{})
	ctx := context.Background()
	items := base + "/ogc/collections/communities/items?limit=10000&"
	count := func(where string, args ...any) int {
		var n int
		l, _ := layers.ByName("communities")
		_, from, a, err := pgtest.Reader(store).Query(ctx, "communities", nil, boundaries.Today(), 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Primary().QueryRow(ctx, "SELECT count(*) FROM "+from+" AND "+where, append(a, args...)...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		_ = l
		return n
	}
	var parent string
	store.Primary().QueryRow(ctx, "SELECT parent_code FROM units WHERE level='community' AND parent_code IS NOT NULL LIMIT 1").Scan(&parent)
	cases := []struct {
		query, where string
		args         []any
	}{
		{"status=oversized", "coalesce(r.status,'unknown') = 'oversized'", nil},
		{"status=oversized&parent_code=" + parent, "coalesce(r.status,'unknown') = 'oversized' AND u.parent_code = $3", []any{parent}},
		{"households=0", "coalesce(r.households, u.households) = 0", nil},
		{"filter=" + url.QueryEscape("households > 3000 AND status <> 'oversized'"), "coalesce(r.households, u.households) > 3000 AND coalesce(r.status,'unknown') <> 'oversized'", nil},
		{"filter=" + url.QueryEscape("name LIKE '%社区' OR households IS NULL"), "(u.name LIKE '%社区' OR coalesce(r.households, u.households) IS NULL)", nil},
		{"filter=" + url.QueryEscape("parent_code IN ('"+parent+"') AND NOT (households BETWEEN 1000 AND 3000)"),
			"u.parent_code = $3 AND NOT coalesce(r.households, u.households) BETWEEN 1000 AND 3000", []any{parent}},
		{"filter=" + url.QueryEscape("name = 'x''; DROP TABLE units; --'"), "false", nil},
	}
	for _, c := range cases {
		var fc ogcFC
		if st, _ := ogcGet(t, items+c.query, &fc); st != 200 {
			t.Errorf("%s: status %d", c.query, st)
			continue
		}
		if want := count(c.where, c.args...); fc.NumberMatched != want || len(fc.Features) != want {
			t.Errorf("%s: matched %d returned %d, want %d", c.query, fc.NumberMatched, len(fc.Features), want)
		}
	}
	var n int
	if err := store.Primary().QueryRow(ctx, "SELECT count(*) FROM units").Scan(&n); err != nil || n == 0 {
		t.Errorf("units after injection attempt: %d %v", n, err)
	}

	// Spatial: a bbox and S_INTERSECTS with the same box agree with PostGIS.
	var box [4]float64
	store.Primary().QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMin(e) + (ST_XMax(e)-ST_XMin(e))/3, ST_YMin(e) + (ST_YMax(e)-ST_YMin(e))/3
		FROM (SELECT ST_Extent(geom)::box3d e FROM units WHERE level='community') x`).Scan(&box[0], &box[1], &box[2], &box[3])
	want := count(fmt.Sprintf("ST_Intersects(u.geom, ST_MakeEnvelope(%f,%f,%f,%f,4326))", box[0], box[1], box[2], box[3]))
	if want == 0 {
		t.Fatal("empty test box")
	}
	for _, q := range []string{
		fmt.Sprintf("bbox=%f,%f,%f,%f", box[0], box[1], box[2], box[3]),
		fmt.Sprintf("bbox=%f,%f,%f,%f&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326", box[1], box[0], box[3], box[2]),
		"filter=" + url.QueryEscape(fmt.Sprintf("S_INTERSECTS(geometry, BBOX(%f,%f,%f,%f))", box[0], box[1], box[2], box[3])),
		"filter=" + url.QueryEscape(fmt.Sprintf("S_INTERSECTS(geometry, POLYGON((%[1]f %[2]f, %[3]f %[2]f, %[3]f %[4]f, %[1]f %[4]f, %[1]f %[2]f)))", box[0], box[1], box[2], box[3])),
		"filter-crs=EPSG:4326&filter=" + url.QueryEscape(fmt.Sprintf("S_INTERSECTS(geometry, BBOX(%f,%f,%f,%f))", box[1], box[0], box[3], box[2])),
	} {
		var fc ogcFC
		if st, _ := ogcGet(t, items+q, &fc); st != 200 || fc.NumberMatched != want {
			t.Errorf("%s: status %d matched %d, want %d", q, st, fc.NumberMatched, want)
		}
	}

	// Invalid filters: 400 with the position.
	for _, f := range []string{"households >", "name = 'x", "foo = 1", "households = 'many'", "name LIKE 3", "S_INTERSECTS(geometry, POINT(1))", "households 3000"} {
		var e ogcErrDoc
		st, _ := ogcGet(t, items+"filter="+url.QueryEscape(f), &e)
		if st != 400 || !strings.Contains(e.Description, "filter: position ") {
			t.Errorf("filter %q: %d %+v", f, st, e)
		}
	}
}

func TestOGCCRS(t *testing.T) {
	base, store := testServer(t, Config{})
	ctx := context.Background()
	var code string
	store.Primary().QueryRow(ctx, "SELECT code FROM units WHERE level='street' ORDER BY code LIMIT 1").Scan(&code)
	// First vertex of the first polygon, directly from PostGIS.
	var lon, lat, e, n, mx, my float64
	err := store.Primary().QueryRow(ctx, `SELECT ST_X(p), ST_Y(p), ST_X(ST_Transform(p, 4548)), ST_Y(ST_Transform(p, 4548)),
		ST_X(ST_Transform(p, 3857)), ST_Y(ST_Transform(p, 3857))
		FROM (SELECT ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1) p FROM units WHERE code = $1 AND valid_to IS NULL) x`, code).
		Scan(&lon, &lat, &e, &n, &mx, &my)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		crs    string
		x, y   float64
		tol    float64
		header string
	}{
		{"", lon, lat, 1e-7, geo.CRS84.URI},
		{"http://www.opengis.net/def/crs/EPSG/0/4326", lat, lon, 1e-7, geo.EPSG4326.URI},
		{"EPSG:4490", lat, lon, 1e-7, geo.EPSG4490.URI},
		{"EPSG:4548", n, e, 0.001, geo.EPSG4548.URI}, // northing first, to the millimetre
		{"http://www.opengis.net/def/crs/EPSG/0/3857", mx, my, 0.001, geo.EPSG3857.URI},
	}
	for _, c := range cases {
		var f ogcFeature
		u := base + "/ogc/collections/streets/items/" + code
		if c.crs != "" {
			u += "?crs=" + url.QueryEscape(c.crs)
		}
		st, h := ogcGet(t, u, &f)
		if st != 200 || h.Get("Content-Crs") != "<"+c.header+">" {
			t.Errorf("%s: %d Content-Crs %q", c.crs, st, h.Get("Content-Crs"))
			continue
		}
		p := f.Geometry.Coordinates[0][0][0]
		if math.Abs(p[0]-c.x) > c.tol || math.Abs(p[1]-c.y) > c.tol {
			t.Errorf("%s: first vertex %v, want %v %v", c.crs, p, c.x, c.y)
		}
		var fc ogcFC
		st, h = ogcGet(t, base+"/ogc/collections/streets/items?code="+code+"&crs="+url.QueryEscape(c.header), &fc)
		if st != 200 || h.Get("Content-Crs") != "<"+c.header+">" || len(fc.Features) != 1 {
			t.Errorf("items %s: %d %q %d", c.crs, st, h.Get("Content-Crs"), len(fc.Features))
		}
	}
	// A bbox in EPSG:4548 finds the street.
	var fc ogcFC
	q := fmt.Sprintf("bbox=%f,%f,%f,%f&bbox-crs=%s", n-1, e-1, n+1, e+1, url.QueryEscape(geo.EPSG4548.URI))
	ogcGet(t, base+"/ogc/collections/streets/items?"+q, &fc)
	found := false
	for _, f := range fc.Features {
		found = found || f.ID == code
	}
	if !found {
		t.Errorf("bbox in EPSG:4548 around a vertex of %s missed it (%d features)", code, len(fc.Features))
	}
}

func TestOGCHTMLAndGzip(t *testing.T) {
	base, _ := testServer(t, Config{})
	for _, u := range []string{"/ogc", "/ogc/collections", "/ogc/collections/streets/items", "/ogc/conformance"} {
		req, _ := http.NewRequest("GET", base+u, nil)
		req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<html") {
			t.Errorf("%s as HTML: %d %s", u, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	req, _ := http.NewRequest("GET", base+"/ogc/collections/streets/items?f=json", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("not gzip'd: %v", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var fc ogcFC
	if err := json.NewDecoder(zr).Decode(&fc); err != nil || len(fc.Features) == 0 {
		t.Errorf("gzip'd items: %v, %d features", err, len(fc.Features))
	}
}

// ogcTool returns the path of a GDAL tool. The OGC tests are GDAL's
// view of the API, so a missing tool fails them rather than skipping.
func ogcTool(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not found: install GDAL (Debian package gdal-bin)", tool)
	}
	return p
}

func ogcRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ogcReadGPKG reads code → (households, name) of a GeoPackage layer.
func ogcReadGPKG(t *testing.T, path, table string) map[string][2]string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT code, coalesce(CAST(households AS TEXT), ''), name FROM "` + table + `"`)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	defer rows.Close()
	out := map[string][2]string{}
	for rows.Next() {
		var code, hh, name string
		if err := rows.Scan(&code, &hh, &name); err != nil {
			t.Fatal(err)
		}
		out[code] = [2]string{hh, name}
	}
	return out
}

// ogcDBCommunities is code → (households, name) as the API computes them.
func ogcDBCommunities(t *testing.T, store *store.Store) map[string][2]string {
	t.Helper()
	ctx := context.Background()
	_, from, args, err := pgtest.Reader(store).Query(ctx, "communities", nil, boundaries.Today(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := store.Primary().Query(ctx, "SELECT u.code, coalesce(coalesce(r.households, u.households)::text, ''), u.name FROM "+from, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]string{}
	for rows.Next() {
		var code, hh, name string
		if err := rows.Scan(&code, &hh, &name); err != nil {
			t.Fatal(err)
		}
		out[code] = [2]string{hh, name}
	}
	return out
}

func TestOGCGDAL(t *testing.T) {
	ogrinfo, ogr2ogr := ogcTool(t, "ogrinfo"), ogcTool(t, "ogr2ogr")
	base, store := testServer(t, Config{})
	_, man := demoCity(t)
	out := ogcRun(t, ogrinfo, "-ro", "-so", "OAPIF:"+base+"/ogc", "communities")
	if !strings.Contains(out, fmt.Sprintf("Feature Count: %d", man.Counts.Communities)) {
		t.Fatalf("ogrinfo: want Feature Count: %d\n%s", man.Counts.Communities, out)
	}
	dst := filepath.Join(t.TempDir(), "out.gpkg")
	ogcRun(t, ogr2ogr, "-f", "GPKG", dst, "OAPIF:"+base+"/ogc", "communities", "-oo", "PAGE_SIZE=50")
	got, want := ogcReadGPKG(t, dst, "communities"), ogcDBCommunities(t, store)
	if len(got) != man.Counts.Communities || len(want) != len(got) {
		t.Fatalf("ogr2ogr copied %d features, database has %d, manifest %d", len(got), len(want), man.Counts.Communities)
	}
	for code, w := range want {
		if got[code] != w {
			t.Errorf("%s: copied %v, database %v", code, got[code], w)
		}
	}
}

// TestOGCCursor: the next links (cursor) walk the same features as offsets,
// with and without filters; a bad cursor, or one with an offset, is a 400
// naming the parameter.
func TestOGCCursor(t *testing.T) {
	base, _ := testServer(t, Config{})
	for _, q := range []string{"limit=50", "limit=7&status=oversized", "limit=33&crs=http://www.opengis.net/def/crs/EPSG/0/3857",
		"limit=9&filter=households%20%3E%201000", "limit=3&collection=zones"} {
		coll := "communities"
		if strings.HasSuffix(q, "&collection=zones") {
			coll, q = "zones", strings.TrimSuffix(q, "&collection=zones")
		}
		items := base + "/ogc/collections/" + coll + "/items?" + q
		var byCursor, byOffset []string
		matched := 0
		for next := items; next != ""; {
			var fc ogcFC
			if st, _ := ogcGet(t, next, &fc); st != 200 {
				t.Fatalf("%s: %d", next, st)
			}
			if strings.Contains(next, "offset=") {
				t.Fatalf("next link %s carries an offset", next)
			}
			for _, f := range fc.Features {
				byCursor = append(byCursor, f.ID)
			}
			matched = fc.NumberMatched
			next = ogcHref(fc.Links, "next")
		}
		limit, _ := strconv.Atoi(strings.TrimPrefix(strings.Split(q, "&")[0], "limit="))
		for off := 0; ; off += limit {
			var fc ogcFC
			ogcGet(t, fmt.Sprintf("%s&offset=%d", items, off), &fc)
			for _, f := range fc.Features {
				byOffset = append(byOffset, f.ID)
			}
			if len(fc.Features) < limit {
				break
			}
		}
		if len(byCursor) == 0 || len(byCursor) != matched || strings.Join(byCursor, ",") != strings.Join(byOffset, ",") {
			t.Errorf("%s: cursor walk %d, offset walk %d, matched %d", q, len(byCursor), len(byOffset), matched)
		}
	}
	var fc ogcFC
	ogcGet(t, base+"/ogc/collections/communities/items?limit=5", &fc)
	cur := ogcHref(fc.Links, "next")
	for _, q := range []string{"cursor=nope", "cursor=WyJhIiwxXQ", "cursor=" + strings.Repeat("A", 3000),
		strings.SplitN(cur, "?", 2)[1] + "&offset=5"} {
		var e ogcErrDoc
		if st, _ := ogcGet(t, base+"/ogc/collections/communities/items?"+q, &e); st != 400 || e.Code != "InvalidParameterValue" ||
			!strings.Contains(e.Description, "parameter cursor") {
			t.Errorf("%.80s: %d %+v", q, st, e)
		}
	}
}

// BenchmarkOGCItemsPage: one page of 1000 at offset 0 and 6500, and the
// page after a cursor near the end; the pages should cost the same.
//
//	JIEDAO_BENCH_DB=$URL go test ./web -run '^$' -bench OGCItemsPage -benchtime 200x
func BenchmarkOGCItemsPage(b *testing.B) {
	base := benchServer(b)
	items := base + "/ogc/collections/communities/items?limit=1000"
	resp, err := http.Get(items + "&offset=5500")
	if err != nil {
		b.Fatal(err)
	}
	var fc struct {
		Links []ogc.Link `json:"links"`
	}
	err = json.NewDecoder(resp.Body).Decode(&fc)
	resp.Body.Close()
	if err != nil || ogcHref(fc.Links, "next") == "" {
		b.Fatalf("no next page after offset 5500: %v", err)
	}
	for _, bc := range []struct{ name, url string }{{"offset=0", items + "&offset=0"}, {"offset=6500", items + "&offset=6500"},
		{"cursor@6500", ogcHref(fc.Links, "next")}} {
		b.Run(bc.name, func(b *testing.B) {
			benchGet(b, bc.url) // fills the cache: not what is measured
			b.ResetTimer()
			var n int64
			for i := 0; i < b.N; i++ {
				n += benchGet(b, bc.url)
			}
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "items/s")
			b.ReportMetric(float64(n)/1e6/b.Elapsed().Seconds(), "MB/s")
		})
	}
}
