package web

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/paulmach/orb"
	orbjson "github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/geo"
)

// call makes a request and decodes a JSON answer into v (when not nil).
func call(t *testing.T, method, url, key string, body io.Reader, hdr map[string]string, v any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, val := range hdr {
		req.Header.Set(k, val)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if v != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v in %.300s", method, url, err, b)
		}
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	return res
}

func wantStatus(t *testing.T, res *http.Response, want int) {
	t.Helper()
	if res.StatusCode != want {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("%s %s: %d, want %d: %.400s", res.Request.Method, res.Request.URL, res.StatusCode, want, b)
	}
}

type unitJSON struct {
	Code       string   `json:"code"`
	Name       string   `json:"name"`
	Level      string   `json:"level"`
	ParentCode *string  `json:"parent_code"`
	Status     string   `json:"status"`
	Reasons    []string `json:"reasons"`
	VersionID  int64    `json:"version_id"`
	Households *int64   `json:"households"`
	Density    *float64 `json:"density"`
	ValidFrom  string   `json:"valid_from"`
	ValidTo    *string  `json:"valid_to"`
	Approval   *string  `json:"approval"`
}

func TestAPIReads(t *testing.T) {
	url, _ := testServer(t, Config{})
	_, man := demoCity(t)

	var page struct {
		Total int        `json:"total"`
		Items []unitJSON `json:"items"`
	}
	getJSON(t, url+"/api/v1/units?level=street&limit=5&offset=2", 200, &page)
	if page.Total != man.Counts.Streets || len(page.Items) != 5 || page.Items[0].Level != "street" {
		t.Fatalf("streets page: total %d, %d items", page.Total, len(page.Items))
	}
	street := page.Items[0]
	getJSON(t, url+"/api/v1/units?parent="+street.Code+"&limit=10000", 200, &page)
	nChildren := page.Total
	if nChildren == 0 || *page.Items[0].ParentCode != street.Code {
		t.Fatalf("children of %s: %+v", street.Code, page)
	}
	getJSON(t, url+"/api/v1/units?q="+strings.TrimSuffix(street.Code, street.Code[6:]), 200, &page)
	if page.Total < man.Counts.Streets {
		t.Fatalf("q by code prefix: %d", page.Total)
	}
	name := []rune(street.Name)
	getJSON(t, url+"/api/v1/units?q="+string(name[:2])+"&level=street", 200, &page)
	if page.Total == 0 {
		t.Fatalf("q by name %q: nothing", string(name[:2]))
	}
	getJSON(t, url+"/api/v1/units?status=undersized&level=community", 200, &page)
	for _, u := range page.Items {
		if u.Status != "undersized" {
			t.Fatalf("status filter: %+v", u)
		}
	}
	under := page.Total

	// One unit: analysis fields and ETag.
	res := call(t, "GET", url+"/api/v1/units/"+street.Code, "", nil, nil, nil)
	wantStatus(t, res, 200)
	var u unitJSON
	json.NewDecoder(res.Body).Decode(&u)
	if res.Header.Get("ETag") != fmt.Sprintf(`"%d"`, u.VersionID) || u.Status == "" || u.Reasons == nil || u.Density == nil || u.Approval == nil {
		t.Fatalf("unit %s: ETag %q, %+v", street.Code, res.Header.Get("ETag"), u)
	}
	wantStatus(t, call(t, "GET", url+"/api/v1/units/"+street.Code, "", nil, map[string]string{"If-None-Match": res.Header.Get("ETag")}, nil), 304)
	wantStatus(t, call(t, "GET", url+"/api/v1/units/nowhere", "", nil, nil, nil), 404)
	wantStatus(t, call(t, "GET", url+"/api/v1/units/"+street.Code+"?at=1999-01-01", "", nil, nil, nil), 404)

	var ch struct {
		Total int        `json:"total"`
		Items []unitJSON `json:"items"`
	}
	getJSON(t, url+"/api/v1/units/"+street.Code+"/children", 200, &ch)
	if ch.Total != nChildren {
		t.Fatalf("children: %d, want %d", ch.Total, nChildren)
	}
	var h struct {
		Versions []unitJSON `json:"versions"`
	}
	getJSON(t, url+"/api/v1/units/"+street.Code+"/history", 200, &h)
	if len(h.Versions) != 1 || h.Versions[0].VersionID != u.VersionID || h.Versions[0].ValidFrom == "" {
		t.Fatalf("history: %+v", h)
	}
	getJSON(t, url+"/api/v1/units/nowhere/history", 404, nil)

	var st struct {
		Levels []struct {
			Level      string         `json:"level"`
			Units      int            `json:"units"`
			Households int64          `json:"households"`
			AreaKM2    float64        `json:"area_km2"`
			Status     map[string]int `json:"status"`
		} `json:"levels"`
	}
	getJSON(t, url+"/api/v1/stats", 200, &st)
	if len(st.Levels) != 3+min(man.Counts.Grids, 1) || st.Levels[2].Units != man.Counts.Communities || st.Levels[2].Status["undersized"] != under ||
		st.Levels[2].Households == 0 || st.Levels[2].AreaKM2 <= 0 {
		t.Fatalf("stats: %+v", st)
	}
	getJSON(t, url+"/api/v1/stats?level=community&parent="+street.Code, 200, &st)
	if len(st.Levels) != 1 || st.Levels[0].Units != nChildren {
		t.Fatalf("stats of %s: %+v", street.Code, st)
	}

	// Bad parameters are 400s naming the parameter.
	for _, c := range []struct{ path, param string }{
		{"/api/v1/units?level=planet", "level"}, {"/api/v1/units?status=huge", "status"}, {"/api/v1/units?limit=-1", "limit"},
		{"/api/v1/units?at=yesterday", "at"}, {"/api/v1/lookup?lon=abc&lat=39.9", "lon"}, {"/api/v1/lookup?lon=116.4&lat=95", "lat"},
		{"/api/v1/lookup?lon=116.4", "lat"}, {"/api/v1/lookup?lon=116.4&lat=39.9&crs=mars", "crs"}, {"/api/v1/lookup?lon=116.4&lat=39.9&crs=EPSG:4548", "crs"},
		{"/api/v1/changes?since=soon", "since"}, {"/api/v1/units?cursor=nope", "cursor"}, {"/api/v1/units?cursor=WyJhIl0", "cursor"},
	} {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		res := call(t, "GET", url+c.path, "", nil, nil, nil)
		wantStatus(t, res, 400)
		json.NewDecoder(res.Body).Decode(&e)
		if !strings.Contains(e.Error.Message, "parameter "+c.param) {
			t.Errorf("%s: message %q does not name %s", c.path, e.Error.Message, c.param)
		}
	}
}

// lookupAnswer is a lookup result reduced to what is compared.
func lookupAnswer(r lookup.Result) string {
	code := func(u *lookup.Unit) string {
		if u == nil {
			return "-"
		}
		return u.Code
	}
	var z []string
	for _, x := range r.Zones {
		z = append(z, x.ID)
	}
	sort.Strings(z)
	return fmt.Sprintf("%s/%s/%s/%s edge=%v zones=%s", code(r.District), code(r.Street), code(r.Community), code(r.Grid), r.OnBoundary, strings.Join(z, ","))
}

// coords collects every [lon, lat] of a GeoJSON coordinates array.
func coords(v any, out *[][2]float64) {
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return
	}
	if x, ok := a[0].(float64); ok && len(a) >= 2 {
		*out = append(*out, [2]float64{x, a[1].(float64)})
		return
	}
	for _, e := range a {
		coords(e, out)
	}
}

// testPoints makes n points over the demo city: vertices of community
// boundaries (shared edges), points inside gap zones and random points.
func testPoints(t *testing.T, store *store.Store, n int) []lookup.Point {
	t.Helper()
	dir, man := demoCity(t)
	rng := rand.New(rand.NewPCG(6, 6))
	var fcoll struct {
		Features []struct {
			Geometry struct {
				Coordinates any `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	b, err := os.ReadFile(filepath.Join(dir, demo.CommunitiesFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fcoll); err != nil {
		t.Fatal(err)
	}
	var verts [][2]float64
	for _, f := range fcoll.Features {
		coords(f.Geometry.Coordinates, &verts)
	}
	var pts []lookup.Point
	add := func(kind string, lon, lat float64) {
		pts = append(pts, lookup.Point{ID: fmt.Sprintf("%s-%d", kind, len(pts)), Lon: lon, Lat: lat})
	}
	for range 3 * n / 10 {
		v := verts[rng.IntN(len(verts))]
		add("vertex", v[0], v[1])
	}
	// Gap zones, from the analysis the lookups use.
	p, _ := analysis.LoadProfile("")
	run, err := pgtest.Reader(store).Run(context.Background(), p, boundaries.Today(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	if _, err := pgtest.Reader(store).ZonesGeoJSON(context.Background(), run, &zb); err != nil {
		t.Fatal(err)
	}
	zones, err := orbjson.UnmarshalFeatureCollection(zb.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var gaps []orb.MultiPolygon
	for _, f := range zones.Features {
		if f.Properties["kind"] == "gap" {
			if mp, ok := f.Geometry.(orb.MultiPolygon); ok {
				gaps = append(gaps, mp)
			}
		}
	}
	wantGaps := 0
	for _, inj := range man.Injected {
		if inj.Kind == "gap" {
			wantGaps++
		}
	}
	if len(gaps) < wantGaps || wantGaps == 0 {
		t.Fatalf("%d gap zones, manifest has %d", len(gaps), wantGaps)
	}
	for i := 0; i < n/10; i++ {
		g := gaps[i%len(gaps)]
		bd := g.Bound()
		for try := 0; try < 1000; try++ {
			pt := orb.Point{bd.Min[0] + rng.Float64()*(bd.Max[0]-bd.Min[0]), bd.Min[1] + rng.Float64()*(bd.Max[1]-bd.Min[1])}
			if planar.MultiPolygonContains(g, pt) {
				add("gap", pt[0], pt[1])
				break
			}
		}
	}
	bb := man.BBox
	for len(pts) < n {
		add("random", bb[0]-0.01+rng.Float64()*(bb[2]-bb[0]+0.02), bb[1]-0.01+rng.Float64()*(bb[3]-bb[1]+0.02))
	}
	return pts
}

type batchResponse struct {
	Count   int             `json:"count"`
	Results []lookup.Result `json:"results"`
}

func postPoints(t *testing.T, url, crs string, pts []lookup.Point) []lookup.Result {
	t.Helper()
	type jp struct {
		ID  string  `json:"id"`
		Lon float64 `json:"lon"`
		Lat float64 `json:"lat"`
	}
	req := struct {
		CRS    string `json:"crs"`
		Points []jp   `json:"points"`
	}{CRS: crs}
	for _, p := range pts {
		req.Points = append(req.Points, jp{p.ID, p.Lon, p.Lat})
	}
	body, _ := json.Marshal(req)
	var out batchResponse
	res := call(t, "POST", url+"/api/v1/lookup", "", bytes.NewReader(body), map[string]string{"Content-Type": "application/json"}, &out)
	wantStatus(t, res, 200)
	if out.Count != len(pts) || len(out.Results) != len(pts) {
		t.Fatalf("batch: %d results for %d points", len(out.Results), len(pts))
	}
	return out.Results
}

// TestLookupMatchesPostGIS compares lookups over HTTP with PostGIS
// ST_Covers (smallest code per level) on 10,000 points, in WGS84 and in
// GCJ-02, and the CSV form with the JSON one.
func TestLookupMatchesPostGIS(t *testing.T) {
	url, store := testServer(t, Config{})
	const n = 10000
	pts := testPoints(t, store, n)
	p, _ := analysis.LoadProfile("")
	run, err := pgtest.Reader(store).Run(context.Background(), p, boundaries.Today(), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]string, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				r, err := lookup.SQL(context.Background(), store, boundaries.Today(), run, pts[i])
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
				want[i] = lookupAnswer(r)
			}
		})
	}
	for i := range pts {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}

	got := postPoints(t, url, "wgs84", pts)
	counts := map[string]int{}
	bad := 0
	for i, r := range got {
		kind := strings.Split(pts[i].ID, "-")[0]
		if r.ID != pts[i].ID {
			t.Fatalf("result %d has id %q, want %q", i, r.ID, pts[i].ID)
		}
		if g := lookupAnswer(r); g != want[i] {
			if bad++; bad <= 10 {
				t.Errorf("%s (%.9f, %.9f): got %s, PostGIS %s", pts[i].ID, pts[i].Lon, pts[i].Lat, g, want[i])
			}
		}
		if r.OnBoundary {
			counts[kind+" on boundary"]++
		}
		if r.Community == nil && r.Street != nil {
			counts[kind+" without community"]++
		}
		for _, z := range r.Zones {
			if z.Kind == "gap" {
				counts[kind+" in gap"]++
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d points differ from PostGIS", bad, n)
	}
	t.Logf("10,000 points agree with PostGIS: %v", counts)
	if counts["vertex on boundary"] < 2000 || counts["gap in gap"] < 500 || counts["gap without community"] < 500 {
		t.Fatalf("the sample does not exercise edges and gaps: %v", counts)
	}

	// GCJ-02 input gives the WGS84 answer.
	shifted := make([]lookup.Point, n)
	for i, p := range pts {
		lon, lat := geo.ToGCJ02(p.Lon, p.Lat)
		shifted[i] = lookup.Point{ID: p.ID, Lon: lon, Lat: lat}
	}
	gcj := postPoints(t, url, "gcj02", shifted)
	bad = 0
	for i := range gcj {
		if a, b := lookupAnswer(gcj[i]), lookupAnswer(got[i]); a != b {
			if bad++; bad <= 10 {
				t.Errorf("%s in GCJ-02: %s, in WGS84: %s", pts[i].ID, a, b)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d GCJ-02 points differ", bad, n)
	}

	// CSV in, CSV out: the same answers.
	var csvIn bytes.Buffer
	csvIn.WriteString("id,lon,lat\n")
	for _, p := range pts[:2000] {
		fmt.Fprintf(&csvIn, "%s,%s,%s\n", p.ID, strconv.FormatFloat(p.Lon, 'g', -1, 64), strconv.FormatFloat(p.Lat, 'g', -1, 64))
	}
	res := call(t, "POST", url+"/api/v1/lookup", "", &csvIn, map[string]string{"Content-Type": "text/csv"}, nil)
	wantStatus(t, res, 200)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("CSV answered as %s", ct)
	}
	rows, err := csv.NewReader(res.Body).ReadAll()
	if err != nil || len(rows) != 2001 || strings.Join(rows[0], ",") != "\uFEFFid,district_code,district_name,street_code,street_name,community_code,community_name,grid_code,grid_name,on_boundary,zones" {
		t.Fatalf("CSV: %d rows, %v", len(rows), err)
	}
	for i, row := range rows[1:] {
		r := got[i]
		comm := ""
		if r.Community != nil {
			comm = r.Community.Code
		}
		if row[0] != pts[i].ID || row[5] != comm || row[9] != strconv.FormatBool(r.OnBoundary) {
			t.Fatalf("CSV row %d: %v, JSON %s", i+1, row, lookupAnswer(r))
		}
	}

	// The single GET agrees too, for a gap point and a vertex.
	for _, i := range []int{0, 3 * n / 10} {
		var r lookup.Result
		getJSON(t, fmt.Sprintf("%s/api/v1/lookup?lon=%s&lat=%s", url, strconv.FormatFloat(pts[i].Lon, 'g', -1, 64), strconv.FormatFloat(pts[i].Lat, 'g', -1, 64)), 200, &r)
		r.ID = pts[i].ID
		if lookupAnswer(r) != want[i] {
			t.Fatalf("GET lookup %s: %s, want %s", pts[i].ID, lookupAnswer(r), want[i])
		}
	}
}

// newKeys creates one key per role plus a revoked editor key.
func newKeys(t *testing.T, store *store.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys := map[string]string{"none": ""}
	for _, r := range []units.Role{units.Viewer, units.Editor, units.Admin} {
		k, err := units.CreateKey(ctx, store, "test-"+string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		keys[string(r)] = k
	}
	k, err := units.CreateKey(ctx, store, "test-revoked", units.Editor)
	if err != nil {
		t.Fatal(err)
	}
	if err := units.RevokeKey(ctx, store, "test-revoked"); err != nil {
		t.Fatal(err)
	}
	keys["revoked"] = k
	return keys
}

// TestAPIAuthMatrix tries every write and admin route with no key and
// each kind of key. Allowed requests carry no valid body, so they end in
// a 4xx of the handler — but never 401 or 403.
func TestAPIAuthMatrix(t *testing.T) {
	url, store := testServer(t, Config{})
	keys := newKeys(t, store)
	routes := []struct {
		method, path string
		need         string // editor or admin
	}{
		{"POST", "/api/v1/units", "editor"},
		{"PUT", "/api/v1/units/990101001", "editor"},
		{"DELETE", "/api/v1/units/990101001001", "editor"},
		{"POST", "/api/v1/imports", "editor"},
		{"GET", "/api/v1/audit", "admin"},
	}
	allowed := map[string][]string{"editor": {"editor", "admin"}, "admin": {"admin"}}
	for _, r := range routes {
		for _, who := range []string{"none", "viewer", "editor", "admin", "revoked"} {
			t.Run(r.method+" "+r.path+" as "+who, func(t *testing.T) {
				res := call(t, r.method, url+r.path, keys[who], strings.NewReader("{}"), map[string]string{"Content-Type": "application/json"}, nil)
				switch {
				case who == "none" || who == "revoked":
					wantStatus(t, res, 401)
					if res.Header.Get("WWW-Authenticate") == "" {
						t.Fatal("401 without WWW-Authenticate")
					}
				case containsStr(allowed[r.need], who):
					if res.StatusCode == 401 || res.StatusCode == 403 || res.StatusCode >= 500 {
						t.Fatalf("%s: %d", who, res.StatusCode)
					}
				default:
					wantStatus(t, res, 403)
				}
			})
		}
	}
	// Reads are public; a dead key is still refused.
	wantStatus(t, call(t, "GET", url+"/api/v1/units?limit=1", "", nil, nil, nil), 200)
	wantStatus(t, call(t, "GET", url+"/api/v1/units?limit=1", keys["revoked"], nil, nil, nil), 401)
	wantStatus(t, call(t, "GET", url+"/api/v1/units?limit=1", "not-a-key", nil, nil, nil), 401)
}

func TestAPIAuthPrivateRead(t *testing.T) {
	url, store := testServer(t, Config{API: APIConfig{PrivateRead: true}})
	keys := newKeys(t, store)
	for who, want := range map[string]int{"none": 401, "revoked": 401, "viewer": 200, "editor": 200, "admin": 200} {
		wantStatus(t, call(t, "GET", url+"/api/v1/units?limit=1", keys[who], nil, nil, nil), want)
		wantStatus(t, call(t, "POST", url+"/api/v1/lookup", keys[who], strings.NewReader(`{"points":[{"lon":116.4,"lat":39.9}]}`), nil, nil), want)
	}
	// The API description stays public; other parts are not touched.
	wantStatus(t, call(t, "GET", url+"/api/v1/openapi.json", "", nil, nil, nil), 200)
	wantStatus(t, call(t, "GET", url+"/healthz", "", nil, nil, nil), 200)
}

func featureBody(props map[string]any, geometry string) io.Reader {
	p, _ := json.Marshal(props)
	return strings.NewReader(`{"type":"Feature","properties":` + string(p) + `,"geometry":` + geometry + `}`)
}

// TestAPIWritesETagFeed creates, changes and retires a unit over HTTP and
// follows it in the ETag, history, ?at=, the change feed and the audit log.
func TestAPIWritesETagFeed(t *testing.T) {
	url, store := testServer(t, Config{})
	keys := newKeys(t, store)
	ed, admin := keys["editor"], keys["admin"]

	var feed struct {
		Changes []units.Change `json:"changes"`
		Next    int64          `json:"next"`
	}
	getJSON(t, url+"/api/v1/changes?limit=10000", 200, &feed)
	_, man := demoCity(t)
	if len(feed.Changes) != man.Counts.Districts+man.Counts.Streets+man.Counts.Communities+man.Counts.Grids {
		t.Fatalf("feed after the demo load: %d entries", len(feed.Changes))
	}
	since := feed.Next

	var streets struct {
		Items []unitJSON `json:"items"`
	}
	getJSON(t, url+"/api/v1/units?level=street&limit=1", 200, &streets)
	parent := streets.Items[0].Code
	code := parent + "901"
	sq := func(x0, y0, d float64) string {
		return fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%[1]f,%[2]f],[%[3]f,%[2]f],[%[3]f,%[4]f],[%[1]f,%[4]f],[%[1]f,%[2]f]]]}`, x0, y0, x0+d, y0+d)
	}
	lon, lat := man.BBox[0]+0.01, man.BBox[1]+0.01

	var created units.WriteResult
	res := call(t, "POST", url+"/api/v1/units", ed, featureBody(map[string]any{"code": code, "level": "community", "name": "新建社区",
		"households": 800, "approval": "京民发〔2021〕1号", "valid_from": "2021-01-01"}, sq(lon, lat, 0.002)), nil, &created)
	wantStatus(t, res, 201)
	etag1 := res.Header.Get("ETag")
	if etag1 != fmt.Sprintf(`"%d"`, created.VersionID) {
		t.Fatalf("create ETag %q for version %d", etag1, created.VersionID)
	}
	// Validation is the importer's: a point is no boundary.
	wantStatus(t, call(t, "POST", url+"/api/v1/units", ed, featureBody(map[string]any{"code": parent + "902", "level": "community", "name": "点",
		"approval": "x", "valid_from": "2021-01-01"}, `{"type":"Point","coordinates":[116.4,39.9]}`), nil, nil), 422)
	wantStatus(t, call(t, "POST", url+"/api/v1/units", ed, featureBody(map[string]any{"code": code, "level": "community", "name": "重",
		"approval": "x", "valid_from": "2021-01-01"}, sq(lon, lat, 0.001)), nil, nil), 409)

	// PUT: If-Match is required and must be current.
	change := func() io.Reader {
		return featureBody(map[string]any{"name": "新建社区（调整）", "approval": "京民发〔2022〕2号"}, sq(lon, lat, 0.003))
	}
	wantStatus(t, call(t, "PUT", url+"/api/v1/units/"+code+"?valid_from=2022-01-01", ed, change(), nil, nil), 428)
	wantStatus(t, call(t, "PUT", url+"/api/v1/units/"+code+"?valid_from=2022-01-01", ed, change(), map[string]string{"If-Match": `"1"`}, nil), 412)
	wantStatus(t, call(t, "PUT", url+"/api/v1/units/nowhere?valid_from=2022-01-01", ed, change(), map[string]string{"If-Match": etag1}, nil), 404)
	var changed units.WriteResult
	res = call(t, "PUT", url+"/api/v1/units/"+code+"?valid_from=2022-01-01", ed, change(), map[string]string{"If-Match": etag1}, &changed)
	wantStatus(t, res, 200)
	etag2 := res.Header.Get("ETag")
	if etag2 == etag1 || changed.OldVersionID != created.VersionID {
		t.Fatalf("change: ETag %s → %s, %+v", etag1, etag2, changed)
	}
	// The old ETag is now stale.
	wantStatus(t, call(t, "PUT", url+"/api/v1/units/"+code+"?valid_from=2022-06-01", ed, change(), map[string]string{"If-Match": etag1}, nil), 412)
	res = call(t, "GET", url+"/api/v1/units/"+code, "", nil, nil, nil)
	wantStatus(t, res, 200)
	if res.Header.Get("ETag") != etag2 {
		t.Fatalf("GET ETag %s, want %s", res.Header.Get("ETag"), etag2)
	}
	// ?at= sees the version of the day.
	var u unitJSON
	getJSON(t, url+"/api/v1/units/"+code+"?at=2021-06-01", 200, &u)
	if u.VersionID != created.VersionID || u.Name != "新建社区" {
		t.Fatalf("at 2021-06-01: %+v", u)
	}
	// Lookups see the write at once (the index follows the data version).
	var lr lookup.Result
	getJSON(t, fmt.Sprintf("%s/api/v1/lookup?lon=%f&lat=%f", url, lon+0.0025, lat+0.0025), 200, &lr)
	if lr.Community == nil || lr.Community.Code != code {
		t.Fatalf("lookup after the change: %+v", lr)
	}

	later := boundaries.Today().AddDate(1, 0, 0).Format("2006-01-02")
	any := map[string]string{"If-Match": "*"}
	// DELETE needs If-Match like PUT; "*" takes the current version.
	wantStatus(t, call(t, "DELETE", url+"/api/v1/units/"+code, ed, strings.NewReader(`{"approval":"x","valid_to":"2023-01-01"}`), nil, nil), 428)
	wantStatus(t, call(t, "DELETE", url+"/api/v1/units/"+parent, ed, strings.NewReader(`{"approval":"x","valid_to":"`+later+`"}`), any, nil), 409)
	wantStatus(t, call(t, "DELETE", url+"/api/v1/units/"+code, ed, strings.NewReader(`{"approval":"x"}`), any, nil), 422)
	// A weak ETag never matches If-Match; an unknown parameter is refused
	// rather than ignored; a dry run answers and writes nothing.
	wantStatus(t, call(t, "DELETE", url+"/api/v1/units/"+code, ed, strings.NewReader(`{"approval":"x","valid_to":"2023-01-01"}`),
		map[string]string{"If-Match": "W/" + etag2}, nil), 412)
	wantStatus(t, call(t, "DELETE", url+"/api/v1/units/"+code+"?dryrun=true", ed, strings.NewReader(`{"approval":"x","valid_to":"2023-01-01"}`),
		map[string]string{"If-Match": etag2}, nil), 400)
	var dry units.WriteResult
	wantStatus(t, call(t, "DELETE", url+"/api/v1/units/"+code+"?dry_run=true", ed, strings.NewReader(`{"approval":"x","valid_to":"2023-01-01"}`),
		map[string]string{"If-Match": etag2}, &dry), 200)
	if !dry.DryRun {
		t.Fatalf("dry run: %+v", dry)
	}
	wantStatus(t, call(t, "GET", url+"/api/v1/units/"+code, "", nil, nil, nil), 200)
	var retired units.WriteResult
	wantStatus(t, call(t, "DELETE", url+"/api/v1/units/"+code, ed, strings.NewReader(`{"approval":"京民发〔2023〕3号","valid_to":"2023-01-01"}`),
		map[string]string{"If-Match": etag2}, &retired), 200)
	wantStatus(t, call(t, "GET", url+"/api/v1/units/"+code, "", nil, nil, nil), 404)
	getJSON(t, url+"/api/v1/units/"+code+"?at=2022-06-01", 200, &u)

	var h struct {
		Versions []unitJSON `json:"versions"`
	}
	getJSON(t, url+"/api/v1/units/"+code+"/history", 200, &h)
	if len(h.Versions) != 2 || h.Versions[0].ValidTo == nil || !strings.HasPrefix(*h.Versions[0].ValidTo, "2022-01-01") ||
		h.Versions[1].ValidTo == nil || !strings.HasPrefix(*h.Versions[1].ValidTo, "2023-01-01") || *h.Versions[1].Approval != "京民发〔2022〕2号" {
		t.Fatalf("history: %+v", h)
	}

	getJSON(t, fmt.Sprintf("%s/api/v1/changes?since=%d", url, since), 200, &feed)
	if len(feed.Changes) != 3 {
		t.Fatalf("feed: %+v", feed.Changes)
	}
	c := feed.Changes
	if c[0].Kind != "created" || c[0].VersionID != created.VersionID || c[1].Kind != "changed" || c[1].VersionID != changed.VersionID ||
		*c[1].OldVersionID != created.VersionID || c[2].Kind != "retired" || c[2].VersionID != changed.VersionID ||
		!(c[0].ID < c[1].ID && c[1].ID < c[2].ID) || c[0].Code != code || feed.Next != c[2].ID {
		t.Fatalf("feed: %+v", c)
	}
	// By time as well.
	getJSON(t, url+"/api/v1/changes?since="+c[0].At.Add(-1).Format("2006-01-02T15:04:05.999999999Z07:00"), 200, &feed)
	if len(feed.Changes) != 3 {
		t.Fatalf("feed since a time: %d entries", len(feed.Changes))
	}

	var log struct {
		Entries []units.AuditEntry `json:"entries"`
	}
	getJSONKey(t, url+"/api/v1/audit?code="+code, admin, 200, &log)
	if len(log.Entries) != 3 || log.Entries[0].Action != "create" || log.Entries[2].Action != "retire" ||
		log.Entries[0].KeyName != "test-editor" || log.Entries[0].RequestID == nil || *log.Entries[0].RequestID == "" || log.Entries[0].Client == nil {
		t.Fatalf("audit: %+v", log.Entries)
	}
}

func getJSONKey(t *testing.T, url, key string, want int, v any) {
	t.Helper()
	res := call(t, "GET", url, key, nil, nil, v)
	wantStatus(t, res, want)
}

func multipartBody(t *testing.T, file, content string, fields map[string]string) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("file", file)
	fw.Write([]byte(content))
	w.Close()
	return &b, w.FormDataContentType()
}

func TestAPIImportsAndLimits(t *testing.T) {
	url, store := testServer(t, Config{API: APIConfig{MaxUploadBytes: 4096, MaxBatchPoints: 10}})
	keys := newKeys(t, store)
	ed := keys["editor"]
	_, man := demoCity(t)
	lon, lat := man.BBox[0]+0.02, man.BBox[1]+0.02
	poly := fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%[1]f,%[2]f],[%[3]f,%[2]f],[%[3]f,%[4]f],[%[1]f,%[2]f]]]}`, lon, lat, lon+0.01, lat+0.01)
	good := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"990199","name":"新区"},"geometry":` + poly + `}]}`
	body, ct := multipartBody(t, "d.geojson", good, map[string]string{"level": "district", "approval": "x", "valid_from": "2021-01-01"})
	var rep importer.Report
	wantStatus(t, call(t, "POST", url+"/api/v1/imports", ed, body, map[string]string{"Content-Type": ct}, &rep), 201)
	if rep.Status != "committed" || rep.Created != 1 || rep.File != "d.geojson" {
		t.Fatalf("import: %+v", rep)
	}
	bad := strings.Replace(good, `"name":"新区"`, `"name":""`, 1)
	body, ct = multipartBody(t, "d.geojson", bad, map[string]string{"level": "district"})
	res := call(t, "POST", url+"/api/v1/imports", ed, body, map[string]string{"Content-Type": ct}, nil)
	wantStatus(t, res, 422)
	json.NewDecoder(res.Body).Decode(&rep)
	if rep.Status != "rejected" || len(rep.Rejected) != 1 {
		t.Fatalf("rejected import: %+v", rep)
	}
	body, ct = multipartBody(t, "d.geojson", good, map[string]string{"level": "district", "flavour": "x"})
	wantStatus(t, call(t, "POST", url+"/api/v1/imports", ed, body, map[string]string{"Content-Type": ct}, nil), 400)
	// 413 beyond the upload limit.
	body, ct = multipartBody(t, "big.geojson", good+strings.Repeat(" ", 8192), map[string]string{"level": "district"})
	wantStatus(t, call(t, "POST", url+"/api/v1/imports", ed, body, map[string]string{"Content-Type": ct}, nil), 413)
	// And beyond the batch limit.
	var pts []string
	for range 11 {
		pts = append(pts, `{"lon":116.4,"lat":39.9}`)
	}
	wantStatus(t, call(t, "POST", url+"/api/v1/lookup", "", strings.NewReader(`{"points":[`+strings.Join(pts, ",")+`]}`), nil, nil), 413)
	wantStatus(t, call(t, "POST", url+"/api/v1/lookup", "", strings.NewReader("id,lon,lat\n"+strings.Repeat("a,116.4,39.9\n", 11)), map[string]string{"Content-Type": "text/csv"}, nil), 413)
	wantStatus(t, call(t, "POST", url+"/api/v1/lookup", "", strings.NewReader(`{"points":[{"lon":500,"lat":39.9}]}`), nil, nil), 400)

	var log struct {
		Entries []units.AuditEntry `json:"entries"`
	}
	getJSONKey(t, url+"/api/v1/audit", keys["admin"], 200, &log)
	if len(log.Entries) < 1 || log.Entries[0].Action != "import" {
		t.Fatalf("audit of imports: %+v", log.Entries)
	}
}

func TestAPIRateLimitCORSMetrics(t *testing.T) {
	url, _ := testServer(t, Config{API: APIConfig{RateLimit: 0.05, RateBurst: 3, CORSOrigins: []string{"https://gov.example"}}})
	codes := map[int]int{}
	var retry string
	for range 6 {
		res := call(t, "GET", url+"/api/v1/units?limit=1", "", nil, map[string]string{"Origin": "https://gov.example"}, nil)
		codes[res.StatusCode]++
		if res.StatusCode == 429 {
			retry = res.Header.Get("Retry-After")
		}
		if res.Header.Get("Access-Control-Allow-Origin") != "https://gov.example" {
			t.Fatalf("CORS: %v", res.Header)
		}
	}
	if codes[200] != 3 || codes[429] != 3 || retry == "" {
		t.Fatalf("rate limit: %v, Retry-After %q", codes, retry)
	}
	// Another client (a key's bucket) is not affected; /metrics is not limited.
	res := call(t, "GET", url+"/metrics", "", nil, nil, nil)
	wantStatus(t, res, 200)
	b, _ := io.ReadAll(res.Body)
	for _, want := range []string{`jiedao_http_requests_total{code="200",method="GET",route="/api/v1/units"} 3`,
		`jiedao_http_requests_total{code="429",method="GET",route="/api/v1/units"} 3`,
		"jiedao_http_request_duration_seconds_bucket", "jiedao_db_pool_total_conns", "jiedao_data_version"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestOpenAPICoversRoutes: every /api/v1 route is documented and every
// documented operation is routed.
func TestOpenAPICoversRoutes(t *testing.T) {
	store, _ := pgtest.NewStore(t)
	e := New(store, Config{})
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for m := range item {
			if m != "parameters" {
				documented[strings.ToUpper(m)+" "+path] = true
			}
		}
	}
	routed := map[string]bool{}
	for _, r := range e.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") || r.Method == "echo_route_any" {
			continue
		}
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		routed[r.Method+" "+strings.Join(parts, "/")] = true
	}
	for k := range routed {
		if !documented[k] {
			t.Errorf("route %s is not in openapi.json", k)
		}
	}
	for k := range documented {
		if !routed[k] {
			t.Errorf("openapi.json documents %s, which is not routed", k)
		}
	}
	if len(routed) < 15 {
		t.Fatalf("only %d routes", len(routed))
	}
}

func TestAPIDocsPage(t *testing.T) {
	url, _ := testServer(t, Config{})
	res := call(t, "GET", url+"/api/v1/docs", "", nil, nil, nil)
	wantStatus(t, res, 200)
	b, _ := io.ReadAll(res.Body)
	if !bytes.Contains(b, []byte("openapi.json")) || bytes.Contains(b, []byte("<script src")) || bytes.Contains(b, []byte("https://")) {
		t.Fatalf("docs page must fetch openapi.json with inline script only")
	}
	var doc map[string]any
	getJSON(t, url+"/api/v1/openapi.json", 200, &doc)
}

// TestAppendResultIsJSON: the hand-written encoder writes what
// encoding/json would.
func TestAppendResultIsJSON(t *testing.T) {
	for _, r := range []lookup.Result{
		{Zones: []lookup.Zone{}},
		{ID: "a\"b\\c\n", District: &lookup.Unit{Code: "990101", Name: "区"}, Street: &lookup.Unit{Code: "990101001", Name: "街道"},
			OnBoundary: true, Zones: []lookup.Zone{{ID: "gap:990101001:1", Kind: "gap", Level: "street", Codes: []string{"990101001"}}}},
		{Community: &lookup.Unit{Code: "990101001001", Name: "社区"}, Grid: &lookup.Unit{Code: "990101001001002", Name: "第二网格"}, Zones: []lookup.Zone{}},
	} {
		want, _ := json.Marshal(r)
		got := appendResult(nil, &r)
		var back lookup.Result
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("appendResult wrote invalid JSON %s: %v", got, err)
		}
		if again, _ := json.Marshal(back); string(again) != string(want) {
			t.Errorf("appendResult:\n%s\nencoding/json:\n%s", got, want)
		}
	}
}

// The hostile GeoPackage (a row whose polygon claims 0xFFFFFFFF rings)
// uploaded through the API is a 422 naming the reason, without the
// server's temp path, and writes nothing.
func TestAPIImportHostileGeoPackage(t *testing.T) {
	url, store := testServer(t, Config{})
	ed := newKeys(t, store)["editor"]
	src, err := os.ReadFile("../boundaries/layerfile/testdata/streets.gpkg")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hostile.gpkg")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var table, col string
	if err := db.QueryRow(`SELECT table_name, column_name FROM gpkg_geometry_columns WHERE table_name = 'streets'`).Scan(&table, &col); err != nil {
		t.Fatal(err)
	}
	// GDAL's rtree triggers call functions only SpatiaLite has.
	trig, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'trigger'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for trig.Next() {
		var n string
		trig.Scan(&n)
		names = append(names, n)
	}
	trig.Close()
	for _, n := range names {
		if _, err := db.Exec(`DROP TRIGGER "` + n + `"`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`UPDATE "` + table + `" SET "` + col + `" = X'47500001E61000000103000000FFFFFFFF' WHERE rowid = (SELECT min(rowid) FROM "` + table + `")`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, _ := os.ReadFile(path)
	before, _ := units.Count(t.Context(), store)
	body, ct := multipartBody(t, "hostile.gpkg", string(b), map[string]string{"level": "street", "approval": "x", "valid_from": "2021-01-01"})
	res := call(t, "POST", url+"/api/v1/imports", ed, body, map[string]string{"Content-Type": ct}, nil)
	msg, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 422 || !strings.Contains(string(msg), "do not fit") || strings.Contains(string(msg), "jiedao-upload") {
		t.Fatalf("hostile gpkg: %d %s; want 422 naming the count, no temp path", res.StatusCode, msg)
	}
	if after, _ := units.Count(t.Context(), store); after != before {
		t.Fatalf("units %d → %d: a refused import wrote", before, after)
	}
}

// TestAPIUnitsCursor: walking /api/v1/units by next cursor returns what
// walking by offset does, each unit once, and next is null on the last page.
func TestAPIUnitsCursor(t *testing.T) {
	url, _ := testServer(t, Config{})
	_, man := demoCity(t)
	type unitPage struct {
		Total int               `json:"total"`
		Next  *string           `json:"next"`
		Items []json.RawMessage `json:"items"`
	}
	for _, filter := range []string{"", "&level=street", "&status=oversized&level=community"} {
		var byCursor, byOffset []string
		total := 0
		for next := ""; ; {
			var p unitPage
			getJSON(t, url+"/api/v1/units?limit=23"+filter+next, 200, &p)
			for _, it := range p.Items {
				byCursor = append(byCursor, string(it))
			}
			total = p.Total
			if p.Next == nil {
				break
			}
			next = "&cursor=" + *p.Next
		}
		for off := 0; ; off += 23 {
			var p unitPage
			getJSON(t, fmt.Sprintf("%s/api/v1/units?limit=23&offset=%d%s", url, off, filter), 200, &p)
			for _, it := range p.Items {
				byOffset = append(byOffset, string(it))
			}
			if len(p.Items) < 23 {
				break
			}
		}
		if len(byCursor) != total || strings.Join(byCursor, "\n") != strings.Join(byOffset, "\n") {
			t.Errorf("%q: cursor walk %d units, offset walk %d, total %d", filter, len(byCursor), len(byOffset), total)
		}
		if filter == "" && total != man.Counts.Districts+man.Counts.Streets+man.Counts.Communities+man.Counts.Grids {
			t.Errorf("total %d", total)
		}
	}
}
