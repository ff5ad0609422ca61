package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/web/param"
)

// The documents are checked with kin-openapi, a maintained validator of
// OpenAPI 3 and JSON Schema (nullable, formats, $ref, media types), rather
// than by hand: a hand-written checker would share the blind spots of the
// document it checks.

func init() {
	// The docs page; kin-openapi decodes JSON, CSV and text/plain itself.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// oasChecker sends requests to a test server and validates every answer
// against the document that server serves, noting the operations called.
type oasChecker struct {
	base   string
	doc    *openapi3.T
	router routers.Router
	called map[string]bool // "GET /api/v1/units/{code}"
	report func(string)    // a mismatch; nil: t.Errorf
}

// newChecker loads the document served at docPath; prefix is what its
// paths are relative to on the server.
func newChecker(base, docPath, prefix string) (*oasChecker, error) {
	res, err := http.Get(base + docPath)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %d", docPath, res.StatusCode)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", docPath, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %w", docPath, err)
	}
	// Route against the test server, whatever servers the document names.
	doc.Servers = openapi3.Servers{{URL: base + prefix}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("router for %s: %w", docPath, err)
	}
	return &oasChecker{base: base + prefix, doc: doc, router: router, called: map[string]bool{}}, nil
}

// do sends a request (path relative to the document) and validates the
// answer's status, headers and body; it returns the answer with its body.
func (c *oasChecker) do(t *testing.T, method, path, key string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	route, pathParams, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: not in the document: %v", method, path, err)
	}
	c.called[method+" "+route.Path] = true
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route},
		Status:                 res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(got)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		msg := fmt.Sprintf("%s %s → %d does not match the document: %v\nbody: %.600s", method, path, res.StatusCode, err, got)
		if c.report != nil {
			c.report(msg)
		} else {
			t.Error(msg)
		}
	}
	return res, got
}

// want is do, also checking the status and, for errors, the machine code.
func (c *oasChecker) want(t *testing.T, status int, code, method, path, key string, body []byte, hdr map[string]string) []byte {
	t.Helper()
	res, got := c.do(t, method, path, key, body, hdr)
	if res.StatusCode != status {
		t.Fatalf("%s %s: %d, want %d: %.400s", method, path, res.StatusCode, status, got)
	}
	if code != "" {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(got, &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
			t.Errorf("%s %s: error %+v, want code %s", method, path, e.Error, code)
		}
	}
	return got
}

// uncovered lists the document's operations never called.
func (c *oasChecker) uncovered() []string {
	var miss []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			if !c.called[method+" "+path] {
				miss = append(miss, method+" "+path)
			}
		}
	}
	sort.Strings(miss)
	return miss
}

// TestOpenAPIResponses calls every operation of /api/v1/openapi.json on
// the demo city — successes with their nulls, errors, CSV — and validates
// each answer against the document as served.
func TestOpenAPIResponses(t *testing.T) {
	url, st := testServer(t, Config{})
	c, err := newChecker(url, "/api/v1/openapi.json", "")
	if err != nil {
		t.Fatal(err)
	}
	keys := newKeys(t, st)
	code := oasReads(t, c)
	oasErrors(t, c, keys, code)
	oasWrites(t, c, keys)
	oasLookupsImports(t, c, keys)
	oasGrids(t, c, st) // grids_test.go
	oasPlans(t, c, st, keys)
	oasDispatch(t, c, st, keys) // openapi_dispatch_test.go
	if miss := c.uncovered(); len(miss) > 0 {
		t.Fatalf("operations of openapi.json never called: %s", strings.Join(miss, ", "))
	}
}

var dateOnly = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// oasReads calls the read routes; it returns a street's code.
func oasReads(t *testing.T, c *oasChecker) string {
	var page struct {
		Items []unitJSON `json:"items"`
	}
	json.Unmarshal(c.want(t, 200, "", "GET", "/api/v1/units?level=street&limit=2", "", nil, nil), &page) //nolint:errcheck
	street := page.Items[0].Code
	c.want(t, 200, "", "GET", "/api/v1/units?level=community&limit=50&status=undersized", "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/units?level=district", "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/units/"+street+"?geometry=true", "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/units/"+street[:6], "", nil, nil) // a district: parent_code null
	c.want(t, 200, "", "GET", "/api/v1/units/"+street+"/children", "", nil, nil)
	var h struct {
		Versions []struct {
			ValidFrom string  `json:"valid_from"`
			ValidTo   *string `json:"valid_to"`
		} `json:"versions"`
	}
	json.Unmarshal(c.want(t, 200, "", "GET", "/api/v1/units/"+street+"/history", "", nil, nil), &h) //nolint:errcheck
	if len(h.Versions) == 0 || !dateOnly.MatchString(h.Versions[0].ValidFrom) {
		t.Errorf("history dates: %+v, want YYYY-MM-DD", h.Versions)
	}
	c.want(t, 200, "", "GET", "/api/v1/stats", "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/stats?level=community&parent="+street, "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/changes?limit=5", "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/analysis", "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/findings", "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/openapi.json", "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/docs", "", nil, nil)
	return street
}

// oasErrors checks error answers and their machine codes.
func oasErrors(t *testing.T, c *oasChecker, keys map[string]string, street string) {
	c.want(t, 400, param.CodeInvalidParameter, "GET", "/api/v1/units?level=planet", "", nil, nil)
	c.want(t, 400, param.CodeInvalidParameter, "GET", "/api/v1/units?cursor=nope", "", nil, nil)
	c.want(t, 400, param.CodeInvalidParameter, "GET", "/api/v1/lookup?lon=116.4", "", nil, nil)
	c.want(t, 400, param.CodeInvalidParameter, "GET", "/api/v1/changes?since=soon", "", nil, nil)
	c.want(t, 400, param.CodeInvalidParameter, "GET", "/api/v1/stats?level=planet", "", nil, nil)
	c.want(t, 404, param.CodeNotFound, "GET", "/api/v1/units/nowhere", "", nil, nil)
	c.want(t, 404, param.CodeNotFound, "GET", "/api/v1/units/nowhere/children", "", nil, nil)
	c.want(t, 404, param.CodeNotFound, "GET", "/api/v1/units/nowhere/history", "", nil, nil)
	c.want(t, 401, param.CodeUnauthorized, "GET", "/api/v1/units?limit=1", keys["revoked"], nil, nil)
	c.want(t, 401, param.CodeUnauthorized, "GET", "/api/v1/audit", "", nil, nil)
	c.want(t, 403, param.CodeForbidden, "GET", "/api/v1/audit", keys["editor"], nil, nil)
	c.want(t, 403, param.CodeForbidden, "POST", "/api/v1/units", keys["viewer"], []byte("{}"), nil)
	c.want(t, 200, "", "GET", "/api/v1/audit?limit=5", keys["admin"], nil, nil)
	c.want(t, 400, param.CodeInvalidParameter, "GET", "/api/v1/audit?limit=0", keys["admin"], nil, nil)
	res, _ := c.do(t, "GET", "/api/v1/units/"+street, "", nil, nil)
	c.want(t, 304, "", "GET", "/api/v1/units/"+street, "", nil, map[string]string{"If-None-Match": res.Header.Get("ETag")})
}

// oasWrites creates, changes and retires a unit, with the errors a client
// meets on the way.
func oasWrites(t *testing.T, c *oasChecker, keys map[string]string) {
	ed := keys["editor"]
	_, man := demoCity(t)
	var streets struct {
		Items []unitJSON `json:"items"`
	}
	json.Unmarshal(c.want(t, 200, "", "GET", "/api/v1/units?level=street&limit=1", "", nil, nil), &streets) //nolint:errcheck
	parent := streets.Items[0].Code
	code := parent + "911"
	lon, lat := man.BBox[0]+0.01, man.BBox[1]+0.01
	sq := func(d float64) string {
		return fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%[1]f,%[2]f],[%[3]f,%[2]f],[%[3]f,%[4]f],[%[1]f,%[4]f],[%[1]f,%[2]f]]]}`, lon, lat, lon+d, lat+d)
	}
	feature := func(props map[string]any, d float64) []byte {
		b, _ := io.ReadAll(featureBody(props, sq(d)))
		return b
	}
	// Created without households or population: they are null.
	props := map[string]any{"code": code, "level": "community", "name": "文档社区", "approval": "京民发〔2021〕9号", "valid_from": "2021-01-01"}
	c.want(t, 201, "", "POST", "/api/v1/units?dry_run=true", ed, feature(props, 0.002), nil)
	c.want(t, 201, "", "POST", "/api/v1/units", ed, feature(props, 0.002), nil)
	c.want(t, 409, param.CodeConflict, "POST", "/api/v1/units", ed, feature(props, 0.002), nil)
	c.want(t, 422, param.CodeApprovalRequired, "POST", "/api/v1/units", ed,
		feature(map[string]any{"code": parent + "912", "level": "community", "name": "无文", "valid_from": "2021-01-01"}, 0.001), nil)
	c.want(t, 422, param.CodeValidationFailed, "POST", "/api/v1/units", ed, feature(map[string]any{"code": parent + "913", "level": "community",
		"name": "", "approval": "x", "valid_from": "2021-01-01"}, 0.001), nil)
	c.want(t, 422, param.CodeValidationFailed, "POST", "/api/v1/units", ed, []byte("{"), nil) // ParseFeature says why
	c.want(t, 400, param.CodeInvalidParameter, "POST", "/api/v1/units?dryrun=true", ed, feature(props, 0.002), nil)

	change := feature(map[string]any{"name": "文档社区（调整）", "approval": "京民发〔2022〕9号"}, 0.003)
	c.want(t, 428, param.CodeETagRequired, "PUT", "/api/v1/units/"+code+"?valid_from=2022-01-01", ed, change, nil)
	c.want(t, 412, param.CodeStaleETag, "PUT", "/api/v1/units/"+code+"?valid_from=2022-01-01", ed, change, map[string]string{"If-Match": `"1"`})
	c.want(t, 404, param.CodeNotFound, "PUT", "/api/v1/units/nowhere?valid_from=2022-01-01", ed, change, map[string]string{"If-Match": "*"})
	c.want(t, 200, "", "PUT", "/api/v1/units/"+code+"?valid_from=2022-01-01", ed, change, map[string]string{"If-Match": "*"})

	c.want(t, 428, param.CodeETagRequired, "DELETE", "/api/v1/units/"+code, ed, []byte(`{"approval":"x","valid_to":"2023-01-01"}`), nil)
	c.want(t, 409, param.CodeConflict, "DELETE", "/api/v1/units/"+parent, ed,
		[]byte(`{"approval":"x","valid_to":"`+boundaries.Today().AddDate(1, 0, 0).Format("2006-01-02")+`"}`), map[string]string{"If-Match": "*"})
	c.want(t, 422, param.CodeApprovalRequired, "DELETE", "/api/v1/units/"+code, ed, []byte(`{"valid_to":"2023-01-01"}`), map[string]string{"If-Match": "*"})
	c.want(t, 404, param.CodeNotFound, "DELETE", "/api/v1/units/nowhere", ed, []byte(`{"approval":"x","valid_to":"2023-01-01"}`), map[string]string{"If-Match": "*"})
	c.want(t, 200, "", "DELETE", "/api/v1/units/"+code, ed, []byte(`{"approval":"京民发〔2023〕9号","valid_to":"2023-01-01"}`), map[string]string{"If-Match": "*"})
	// The history now has closed versions, each with valid_to and the
	// approval that retired the last.
	var h struct {
		Versions []struct {
			ValidFrom string  `json:"valid_from"`
			ValidTo   *string `json:"valid_to"`
		} `json:"versions"`
	}
	json.Unmarshal(c.want(t, 200, "", "GET", "/api/v1/units/"+code+"/history", "", nil, nil), &h) //nolint:errcheck
	if len(h.Versions) != 2 || h.Versions[0].ValidTo == nil || *h.Versions[0].ValidTo != "2022-01-01" ||
		h.Versions[1].ValidFrom != "2022-01-01" || h.Versions[1].ValidTo == nil || *h.Versions[1].ValidTo != "2023-01-01" {
		t.Errorf("history of %s: %+v, want YYYY-MM-DD days", code, h.Versions)
	}
	c.want(t, 200, "", "GET", "/api/v1/units/"+code+"?at=2022-06-01", "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/changes?since=2000-01-01&limit=10000", "", nil, nil)
}

// oasLookupsImports: point lookups as JSON and CSV (with its BOM), and an
// import accepted, dry run and rejected.
func oasLookupsImports(t *testing.T, c *oasChecker, keys map[string]string) {
	_, man := demoCity(t)
	mid := fmt.Sprintf("lon=%f&lat=%f", (man.BBox[0]+man.BBox[2])/2, (man.BBox[1]+man.BBox[3])/2)
	c.want(t, 200, "", "GET", "/api/v1/lookup?"+mid, "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/lookup?lon=0&lat=0", "", nil, nil) // nothing there: nulls
	pts := fmt.Sprintf(`{"points":[{"id":"a","lon":%f,"lat":%f},{"id":"b","lon":0,"lat":0}]}`, (man.BBox[0]+man.BBox[2])/2, (man.BBox[1]+man.BBox[3])/2)
	c.want(t, 200, "", "POST", "/api/v1/lookup", "", []byte(pts), map[string]string{"Content-Type": "application/json"})
	c.want(t, 400, param.CodeInvalidBody, "POST", "/api/v1/lookup", "", []byte("{"), map[string]string{"Content-Type": "application/json"})
	c.want(t, 400, param.CodeInvalidParameter, "POST", "/api/v1/lookup", "", []byte(`{"points":[{"lon":500,"lat":1}]}`), nil)
	csvBody := fmt.Sprintf("id,lon,lat\na,%f,%f\nb,0,0\n", (man.BBox[0]+man.BBox[2])/2, (man.BBox[1]+man.BBox[3])/2)
	got := c.want(t, 200, "", "POST", "/api/v1/lookup", "", []byte(csvBody), map[string]string{"Content-Type": "text/csv"})
	if !bytes.HasPrefix(got, []byte("\uFEFFid,district_code,")) {
		t.Errorf("lookup CSV does not start with a UTF-8 BOM and its header: %.80q", got)
	}

	ed := keys["editor"]
	lon, lat := man.BBox[0]+0.03, man.BBox[1]+0.03
	poly := fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%[1]f,%[2]f],[%[3]f,%[2]f],[%[3]f,%[4]f],[%[1]f,%[2]f]]]}`, lon, lat, lon+0.01, lat+0.01)
	good := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"990198","name":"文档区"},"geometry":` + poly + `}]}`
	upload := func(content string, fields map[string]string) ([]byte, map[string]string) {
		body, ct := multipartBody(t, "d.geojson", content, fields)
		b, _ := io.ReadAll(body)
		return b, map[string]string{"Content-Type": ct}
	}
	b, h := upload(good, map[string]string{"level": "district", "approval": "x", "valid_from": "2021-01-01", "dry_run": "true"})
	c.want(t, 200, "", "POST", "/api/v1/imports", ed, b, h)
	b, h = upload(good, map[string]string{"level": "district", "approval": "x", "valid_from": "2021-01-01"})
	c.want(t, 201, "", "POST", "/api/v1/imports", ed, b, h)
	b, h = upload(strings.Replace(good, `"name":"文档区"`, `"name":""`, 1), map[string]string{"level": "district"})
	c.want(t, 422, "", "POST", "/api/v1/imports", ed, b, h)
	b, h = upload(good, map[string]string{"level": "district", "flavour": "x"})
	c.want(t, 400, param.CodeInvalidParameter, "POST", "/api/v1/imports", ed, b, h)
	c.want(t, 400, param.CodeInvalidBody, "POST", "/api/v1/imports", ed, []byte("x"), map[string]string{"Content-Type": "text/plain"})
}

// oasPlans makes a plan, a scenario of it, and adopts it.
func oasPlans(t *testing.T, c *oasChecker, st *store.Store, keys map[string]string) {
	ed := keys["editor"]
	var street string
	if err := st.Primary().QueryRow(context.Background(), `SELECT parent_code FROM units WHERE level = 'community' AND valid_to IS NULL
		AND households > 3000 AND parent_code IS NOT NULL ORDER BY households DESC, code LIMIT 1`).Scan(&street); err != nil {
		t.Fatal(err)
	}
	var pr struct {
		ID int64 `json:"id"`
	}
	json.Unmarshal(c.want(t, 201, "", "POST", "/api/v1/plans", ed, []byte(`{"street":"`+street+`","seed":1}`), nil), &pr) //nolint:errcheck
	c.want(t, 422, param.CodeValidationFailed, "POST", "/api/v1/plans", ed, []byte(`{"seed":1}`), nil)
	c.want(t, 400, param.CodeInvalidBody, "POST", "/api/v1/plans", ed, []byte(`{`), nil)
	c.want(t, 401, param.CodeUnauthorized, "POST", "/api/v1/plans", "", []byte(`{}`), nil)
	c.want(t, 200, "", "GET", "/api/v1/plans/"+idStr(pr.ID), "", nil, nil)
	c.want(t, 404, param.CodeNotFound, "GET", "/api/v1/plans/999999", "", nil, nil)
	sbody := []byte(`{"name":"doc-split","plan_id":` + idStr(pr.ID) + `}`)
	var sc struct {
		ID int64 `json:"id"`
	}
	json.Unmarshal(c.want(t, 201, "", "POST", "/api/v1/scenarios", ed, sbody, nil), &sc) //nolint:errcheck
	c.want(t, 409, param.CodeConflict, "POST", "/api/v1/scenarios", ed, sbody, nil)
	// A name alone is an empty draft (edited from QGIS); no name is refused.
	c.want(t, 201, "", "POST", "/api/v1/scenarios", ed, []byte(`{"name":"x"}`), nil)
	c.want(t, 422, param.CodeValidationFailed, "POST", "/api/v1/scenarios", ed, []byte(`{"name":""}`), nil)
	c.want(t, 200, "", "GET", "/api/v1/scenarios", "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/scenarios/"+idStr(sc.ID), "", nil, nil)
	c.want(t, 404, param.CodeNotFound, "GET", "/api/v1/scenarios/999999", "", nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/scenarios/"+idStr(sc.ID)+"/diff", "", nil, nil)
	c.want(t, 404, param.CodeNotFound, "GET", "/api/v1/scenarios/999999/diff", "", nil, nil)
	adoptURL := "/api/v1/scenarios/" + idStr(sc.ID) + "/adopt"
	day := boundaries.Today().AddDate(0, 0, 1).Format("2006-01-02")
	c.want(t, 422, param.CodeApprovalRequired, "POST", adoptURL, ed, []byte(`{"valid_from":"`+day+`"}`), nil)
	c.want(t, 200, "", "POST", adoptURL, ed, []byte(`{"approval":"京政函〔2026〕9号","valid_from":"`+day+`"}`), nil)
	c.want(t, 409, param.CodeConflict, "POST", adoptURL, ed, []byte(`{"approval":"京政函〔2026〕9号","valid_from":"`+day+`"}`), nil)
	c.want(t, 200, "", "GET", "/api/v1/scenarios", "", nil, nil) // adopted_at and approval set
}

// TestErrorCodesDocumented: the Error schema's enum and README list
// exactly the machine codes the server uses.
func TestErrorCodesDocumented(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDoc)
	if err != nil {
		t.Fatal(err)
	}
	var enum []string
	for _, v := range doc.Components.Schemas["Error"].Value.Properties["error"].Value.Properties["code"].Value.Enum {
		enum = append(enum, v.(string))
	}
	want := param.Codes()
	slices.Sort(enum)
	slices.Sort(want)
	if !slices.Equal(enum, want) {
		t.Errorf("Error.code enum %v, want %v", enum, want)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range want {
		if !bytes.Contains(readme, []byte("`"+c+"`")) {
			t.Errorf("README.md does not list error code %s", c)
		}
	}
}

// TestOGCOpenAPIResponses calls every operation of /ogc/api on the demo
// city, as JSON and as HTML, plus errors, and validates each answer
// against that document as served.
func TestOGCOpenAPIResponses(t *testing.T) {
	url, _ := testServer(t, Config{})
	c, err := newChecker(url, "/ogc/api", "/ogc")
	if err != nil {
		t.Fatalf("/ogc/api: %v", err)
	}
	var miss []string
	c.report = func(msg string) { miss = append(miss, msg) }
	var page struct {
		Items []unitJSON `json:"items"`
	}
	getJSON(t, url+"/api/v1/units?level=community&limit=1", 200, &page)
	ids := strings.NewReplacer("{collectionId}", "communities", "{featureId}", page.Items[0].Code)
	for _, p := range c.doc.Paths.InMatchingOrder() {
		for _, f := range []string{"json", "html"} {
			if res, body := c.do(t, "GET", ids.Replace(p)+"?f="+f, "", nil, nil); res.StatusCode != 200 {
				t.Errorf("GET /ogc%s?f=%s: %d: %.300s", ids.Replace(p), f, res.StatusCode, body)
			}
		}
	}
	for _, q := range []string{"/collections/communities/items?limit=2&crs=http://www.opengis.net/def/crs/EPSG/0/4490",
		"/collections/communities/items?filter=households%20%3E%201000", "/collections/zones/items?limit=3",
		"/collections/streets/items?datetime=2024-06-30T12:00:00Z"} {
		c.want(t, 200, "", "GET", q, "", nil, nil)
	}
	// Errors; where the document lists each collection's items apart, the
	// templated path is left to unknown collections.
	for _, q := range []string{"/collections/communities/items?limit=-1", "/collections/communities/items?bbox=1,2",
		"/collections/nope", "/collections/nope/items", "/collections/communities/items/nope"} {
		c.do(t, "GET", q, "", nil, nil)
	}
	// The writes (Part 4, live with an approval) are called, and their
	// answers validated against the same operations, by
	// TestOGCEditOpenAPIAndLive; here every read is.
	var reads []string
	for _, op := range c.uncovered() {
		if !strings.HasPrefix(op, "POST ") && !strings.HasPrefix(op, "PUT ") && !strings.HasPrefix(op, "PATCH ") &&
			!strings.HasPrefix(op, "DELETE ") && !strings.HasPrefix(op, "OPTIONS ") {
			reads = append(reads, op)
		}
	}
	if len(reads) > 0 {
		t.Fatalf("operations of /ogc/api never called: %s", strings.Join(reads, ", "))
	}
	if len(miss) > 0 {
		t.Fatalf("web/ogc answers do not match /ogc/api:\n%s", strings.Join(miss, "\n"))
	}
}
