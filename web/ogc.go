package web

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/geo"
)

// OGC API – Features (Parts 1, 2 and 3) under /ogc. The data come from the
// layer registry through layers.Reader.Features; this file is HTTP only.

const (
	ogcDefaultLimit = 100
	ogcMaxLimit     = 10000
	ogcGeoJSON      = "application/geo+json"
	ogcJSON         = "application/json"
	ogcHTML         = "text/html"
	ogcOpenAPIType  = "application/vnd.oai.openapi+json;version=3.0"
	ogcSchemaType   = "application/schema+json"
)

// ogcConformance lists exactly the classes implemented.
var ogcConformance = []string{
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
	"http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
	"http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
	"http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
	"http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
	"http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
	"http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
	"http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
}

// ogcViewParams choose what the collections show: the profile, the day
// and a scenario's boundaries instead of the live ones. Every route takes
// them and links carry them, so a client connected to /ogc?scenario=3
// (GDAL and QGIS keep the connection URL's query) stays on that scenario.
var ogcViewParams = []string{"profile", "at", "datetime", "scenario"}

// ogcItemsParams are the items parameters other than the queryables.
var ogcItemsParams = append([]string{"f", "limit", "offset", "bbox", "bbox-crs", "crs",
	"filter", "filter-lang", "filter-crs"}, ogcViewParams...)

// ogcParams are the format parameter, the view parameters and extra.
func ogcParams(extra ...string) []string {
	return append(append([]string{"f"}, ogcViewParams...), extra...)
}

// ogcCarry adds the request's view parameters to a link.
func ogcCarry(c echo.Context, href string) string {
	q := url.Values{}
	for _, k := range ogcViewParams {
		if v := c.QueryParam(k); v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return href
	}
	sep := "?"
	if strings.Contains(href, "?") {
		sep = "&"
	}
	return href + sep + q.Encode()
}

type ogcLink struct {
	Href  string `json:"href"`
	Rel   string `json:"rel"`
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
}

func (s *Server) routesOGC(e *echo.Echo) {
	// Gzip outside, so error bodies are compressed too; ogcErrors inside
	// renders errors in the OGC style without touching the global handler.
	g := e.Group("/ogc", ogcGzip(), ogcErrors)
	g.GET("", s.ogcLanding)
	g.GET("/", s.ogcLanding)
	g.GET("/conformance", s.ogcConformance)
	g.GET("/api", s.ogcAPI)
	g.GET("/collections", s.ogcCollections)
	g.GET("/collections/:collection", s.ogcCollection)
	g.GET("/collections/:collection/items", s.ogcItems)
	g.GET("/collections/:collection/items/:feature", s.ogcItem)
	g.GET("/collections/:collection/queryables", s.ogcQueryables)
}

// ogcGzip compresses when the client accepts it, at the fastest level:
// at the default level gzip, not PostGIS, limits a large download to
// ~20 MB/s, while level 1 still shrinks GeoJSON about fivefold.
func ogcGzip() echo.MiddlewareFunc {
	return middleware.GzipWithConfig(middleware.GzipConfig{Level: 1})
}

// ogcError is an OGC exception: {"code": …, "description": …}.
type ogcError struct {
	Status      int    `json:"-"`
	Code        string `json:"code"`
	Description string `json:"description"`
}

func (e *ogcError) Error() string { return e.Code + ": " + e.Description }

func ogcInvalid(param, msg string) *ogcError {
	return &ogcError{http.StatusBadRequest, "InvalidParameterValue", "parameter " + param + ": " + msg}
}

func ogcNotFound(msg string) *ogcError {
	return &ogcError{http.StatusNotFound, "NotFound", msg}
}

// ogcErrors renders the handlers' errors as OGC exceptions.
func ogcErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil {
			return nil
		}
		if c.Response().Committed {
			// Mid-stream: the status is sent; the truncated body tells the client.
			slog.Error("ogc response failed", "path", c.Request().URL.Path, "err", err)
			return nil
		}
		oe := toOGCError(c, err)
		c.Response().Header().Del(echo.HeaderContentDisposition)
		return c.JSON(oe.Status, oe)
	}
}

func toOGCError(c echo.Context, err error) *ogcError {
	var oe *ogcError
	var qe *boundaries.QueryError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &oe):
		return oe
	case errors.As(err, &qe):
		return ogcInvalid(qe.Param, qe.Err.Error())
	case errors.Is(err, boundaries.ErrNotFound):
		return ogcNotFound(err.Error())
	case errors.As(err, &he):
		code := map[int]string{400: "InvalidParameterValue", 404: "NotFound", 405: "MethodNotAllowed",
			406: "NotAcceptable"}[he.Code]
		if code == "" {
			code = strings.ReplaceAll(http.StatusText(he.Code), " ", "")
		}
		return &ogcError{he.Code, code, fmt.Sprint(he.Message)}
	}
	slog.Error("ogc request failed", "path", c.Request().URL.Path, "err", err)
	return &ogcError{http.StatusInternalServerError, "ServerError", "internal error"}
}

// ogcFormat picks json or html: ?f= wins, else the Accept header (best q,
// first on ties), else JSON.
func ogcFormat(c echo.Context) (string, error) {
	switch f := c.QueryParam("f"); f {
	case "json", "geojson":
		return "json", nil
	case "html":
		return "html", nil
	case "":
	default:
		return "", ogcInvalid("f", fmt.Sprintf("unsupported format %q (want json or html)", f))
	}
	best, bestQ := "json", -1.0
	for _, part := range strings.Split(c.Request().Header.Get(echo.HeaderAccept), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		f := ""
		switch {
		case mt == ogcHTML || mt == "application/xhtml+xml":
			f = "html"
		case strings.HasSuffix(mt, "json") || mt == "*/*" || mt == "application/*":
			f = "json"
		}
		if f != "" && q > bestQ {
			best, bestQ = f, q
		}
	}
	return best, nil
}

// baseURL is the absolute URL of /ogc as the client reached it.
func ogcBase(c echo.Context) string {
	return c.Scheme() + "://" + c.Request().Host + "/ogc"
}

// ogcWithQuery is path with the request's query, changed by set (an empty
// value removes the parameter).
func ogcWithQuery(c echo.Context, path string, set map[string]string) string {
	q := url.Values{}
	for k, v := range c.QueryParams() {
		q[k] = slices.Clone(v)
	}
	for k, v := range set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// ogcSelfLinks are self and alternate links of a resource in json and html.
func ogcSelfLinks(c echo.Context, path, format, jsonType string) []ogcLink {
	self, alt := ogcLink{Rel: "self"}, ogcLink{Rel: "alternate"}
	jl := ogcLink{Href: ogcWithQuery(c, path, map[string]string{"f": "json"}), Type: jsonType, Title: "this document as JSON"}
	hl := ogcLink{Href: ogcWithQuery(c, path, map[string]string{"f": "html"}), Type: ogcHTML, Title: "this document as HTML"}
	if format == "html" {
		self.Href, self.Type, self.Title = hl.Href, hl.Type, hl.Title
		alt.Href, alt.Type, alt.Title = jl.Href, jl.Type, jl.Title
	} else {
		self.Href, self.Type, self.Title = jl.Href, jl.Type, jl.Title
		alt.Href, alt.Type, alt.Title = hl.Href, hl.Type, hl.Title
	}
	return []ogcLink{self, alt}
}

// ogcCheckParams refuses parameters the route does not define (OGC API
// Features /req/core/query-param-unknown), so typos do not silently return
// everything.
func ogcCheckParams(c echo.Context, allowed []string, l *layers.Layer) error {
	for k := range c.QueryParams() {
		if slices.Contains(allowed, k) {
			continue
		}
		if l != nil {
			if f, ok := l.Field(k); ok && f.Type != "array" {
				continue
			}
		}
		return ogcInvalid(k, "unknown parameter")
	}
	return nil
}

func (s *Server) ogcLanding(c echo.Context) error {
	if err := ogcCheckParams(c, ogcParams(), nil); err != nil {
		return err
	}
	f, err := ogcFormat(c)
	if err != nil {
		return err
	}
	b := ogcBase(c)
	links := append(ogcSelfLinks(c, b, f, ogcJSON),
		ogcLink{Href: ogcCarry(c, b+"/api"), Rel: "service-desc", Type: ogcOpenAPIType, Title: "the API definition (OpenAPI 3.0)"},
		ogcLink{Href: ogcCarry(c, b+"/api?f=html"), Rel: "service-doc", Type: ogcHTML, Title: "the API documentation"},
		ogcLink{Href: ogcCarry(c, b+"/conformance"), Rel: "conformance", Type: ogcJSON, Title: "conformance classes"},
		ogcLink{Href: ogcCarry(c, b+"/collections"), Rel: "data", Type: ogcJSON, Title: "the collections"},
	)
	doc := map[string]any{
		"title":       "jiedao — streets and communities",
		"description": "Street (街道) and community (社区) boundaries with their analysis under a policy profile (OGC API – Features)",
		"links":       links,
	}
	return ogcRender(c, f, http.StatusOK, ogcJSON, doc)
}

func (s *Server) ogcConformance(c echo.Context) error {
	if err := ogcCheckParams(c, ogcParams(), nil); err != nil {
		return err
	}
	f, err := ogcFormat(c)
	if err != nil {
		return err
	}
	return ogcRender(c, f, http.StatusOK, ogcJSON, map[string]any{
		"conformsTo": ogcConformance,
		"links":      ogcSelfLinks(c, ogcBase(c)+"/conformance", f, ogcJSON),
	})
}

func ogcCRSURIs() []string {
	var out []string
	for _, c := range geo.OGC {
		out = append(out, c.URI)
	}
	return out
}

// collection is the description of one layer.
func (s *Server) ogcCollectionDoc(c echo.Context, l *layers.Layer, f string, self bool) (map[string]any, error) {
	b := ogcBase(c)
	path := b + "/collections/" + l.Name
	var links []ogcLink
	if self {
		links = ogcSelfLinks(c, path, f, ogcJSON)
	} else {
		links = []ogcLink{{Href: ogcCarry(c, path), Rel: "self", Type: ogcJSON, Title: l.Title}}
	}
	links = append(links,
		ogcLink{Href: ogcCarry(c, path+"/items"), Rel: "items", Type: ogcGeoJSON, Title: l.Title + " as GeoJSON"},
		ogcLink{Href: ogcCarry(c, path+"/items?f=html"), Rel: "items", Type: ogcHTML, Title: l.Title + " as HTML"},
		ogcLink{Href: ogcCarry(c, path+"/queryables"), Rel: "http://www.opengis.net/def/rel/ogc/1.0/queryables", Type: ogcSchemaType, Title: "queryables"},
		ogcLink{Href: ogcCarry(c, "/download/"+l.Name+".geojson"), Rel: "enclosure", Type: ogcGeoJSON, Title: "download as GeoJSON"},
		ogcLink{Href: ogcCarry(c, "/download/"+l.Name+".gpkg"), Rel: "enclosure", Type: "application/geopackage+sqlite3", Title: "download as GeoPackage"},
		ogcLink{Href: ogcCarry(c, "/download/"+l.Name+".csv"), Rel: "enclosure", Type: "text/csv", Title: "download as CSV"},
	)
	p, err := s.profile(c)
	if err != nil {
		return nil, err
	}
	day, err := ogcDay(c)
	if err != nil {
		return nil, err
	}
	scenario, err := scenarioParam(c)
	if err != nil {
		return nil, err
	}
	ext, err := s.layers.Extent(c.Request().Context(), layers.ExtentQuery{Layer: l.Name, Profile: p, At: day, Scenario: scenario})
	if err != nil {
		return nil, err
	}
	extent := map[string]any{}
	if ext.BBox != nil {
		extent["spatial"] = map[string]any{"bbox": [][4]float64{*ext.BBox}, "crs": geo.CRS84.URI}
	}
	if ext.Start != nil {
		extent["temporal"] = map[string]any{"interval": [][2]any{{ext.Start.Format(time.RFC3339), nil}},
			"trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
	}
	return map[string]any{
		"id": l.Name, "title": l.Title, "description": l.Description, "itemType": "feature",
		"links": links, "extent": extent, "crs": ogcCRSURIs(), "storageCrs": geo.Storage.URI,
	}, nil
}

func (s *Server) ogcCollections(c echo.Context) error {
	if err := ogcCheckParams(c, ogcParams(), nil); err != nil {
		return err
	}
	f, err := ogcFormat(c)
	if err != nil {
		return err
	}
	var cols []map[string]any
	for i := range layers.All {
		col, err := s.ogcCollectionDoc(c, &layers.All[i], f, false)
		if err != nil {
			return err
		}
		cols = append(cols, col)
	}
	return ogcRender(c, f, http.StatusOK, ogcJSON, map[string]any{
		"links":       ogcSelfLinks(c, ogcBase(c)+"/collections", f, ogcJSON),
		"collections": cols,
		"crs":         ogcCRSURIs(),
	})
}

func ogcLayer(c echo.Context) (*layers.Layer, error) {
	l, ok := layers.ByName(c.Param("collection"))
	if !ok {
		return nil, ogcNotFound(fmt.Sprintf("no collection %q", c.Param("collection")))
	}
	return l, nil
}

func (s *Server) ogcCollection(c echo.Context) error {
	l, err := ogcLayer(c)
	if err != nil {
		return err
	}
	if err := ogcCheckParams(c, ogcParams(), nil); err != nil {
		return err
	}
	f, err := ogcFormat(c)
	if err != nil {
		return err
	}
	col, err := s.ogcCollectionDoc(c, l, f, true)
	if err != nil {
		return err
	}
	return ogcRender(c, f, http.StatusOK, ogcJSON, col)
}

func (s *Server) ogcQueryables(c echo.Context) error {
	l, err := ogcLayer(c)
	if err != nil {
		return err
	}
	if err := ogcCheckParams(c, ogcParams(), nil); err != nil {
		return err
	}
	f, err := ogcFormat(c)
	if err != nil {
		return err
	}
	props := map[string]any{"geometry": map[string]any{"title": "geometry",
		"format": "geometry-multipolygon", "x-ogc-role": "primary-geometry"}}
	for _, q := range l.Queryables() {
		p := map[string]any{"title": q.Name, "description": q.Description}
		switch q.Type {
		case "date":
			p["type"], p["format"] = "string", "date"
		default:
			p["type"] = q.Type
		}
		if q.Name == l.Fields[0].Name {
			p["x-ogc-role"] = "id"
		}
		props[q.Name] = p
	}
	return ogcRender(c, f, http.StatusOK, ogcSchemaType, map[string]any{
		"$schema":              "https://json-schema.org/draft/2019-09/schema",
		"$id":                  ogcBase(c) + "/collections/" + l.Name + "/queryables",
		"type":                 "object",
		"title":                l.Title,
		"properties":           props,
		"additionalProperties": false,
	})
}

// ogcDay is the as-of day: ?datetime= (a date or an instant) or ?at=.
func ogcDay(c echo.Context) (time.Time, error) {
	if v := c.QueryParam("datetime"); v != "" {
		d, err := boundaries.ParseDatetime(v)
		if err != nil {
			return time.Time{}, ogcInvalid("datetime", err.Error())
		}
		return d, nil
	}
	return at(c, "at")
}

func ogcCRSParam(c echo.Context, name string) (geo.CRS, error) {
	v := c.QueryParam(name)
	if v == "" {
		return geo.CRS84, nil
	}
	crs, err := geo.ParseURI(v)
	if err != nil {
		return crs, ogcInvalid(name, err.Error())
	}
	return crs, nil
}

// featureQuery reads the items parameters.
func (s *Server) ogcFeatureQuery(c echo.Context, l *layers.Layer, items bool) (layers.FeatureQuery, error) {
	q := layers.FeatureQuery{Layer: l.Name, Limit: ogcDefaultLimit}
	var err error
	if q.Profile, err = s.profile(c); err != nil {
		return q, err
	}
	if q.At, err = ogcDay(c); err != nil {
		return q, err
	}
	if q.Scenario, err = scenarioParam(c); err != nil {
		return q, err
	}
	if q.CRS, err = ogcCRSParam(c, "crs"); err != nil {
		return q, err
	}
	if !items {
		return q, nil
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return q, ogcInvalid("limit", fmt.Sprintf("%q is not a positive integer", v))
		}
		q.Limit = min(n, ogcMaxLimit) // larger limits are clamped, as the standard allows
	}
	if v := c.QueryParam("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return q, ogcInvalid("offset", fmt.Sprintf("%q is not a non-negative integer", v))
		}
		q.Offset = n
	}
	if v := c.QueryParam("bbox"); v != "" {
		for _, part := range strings.Split(v, ",") {
			x, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
			if err != nil {
				return q, ogcInvalid("bbox", fmt.Sprintf("%q is not a number", part))
			}
			q.BBox = append(q.BBox, x)
		}
		if len(q.BBox) != 4 && len(q.BBox) != 6 {
			return q, ogcInvalid("bbox", "want 4 or 6 comma-separated numbers")
		}
	}
	if q.BBoxCRS, err = ogcCRSParam(c, "bbox-crs"); err != nil {
		return q, err
	}
	if c.QueryParam("bbox-crs") != "" && q.BBox == nil {
		return q, ogcInvalid("bbox-crs", "given without bbox")
	}
	q.Filter = c.QueryParam("filter")
	if lang := c.QueryParam("filter-lang"); lang != "" && lang != "cql2-text" {
		return q, ogcInvalid("filter-lang", fmt.Sprintf("unsupported %q (want cql2-text)", lang))
	}
	if q.FilterCRS, err = ogcCRSParam(c, "filter-crs"); err != nil {
		return q, err
	}
	for k, v := range c.QueryParams() {
		if slices.Contains(ogcItemsParams, k) {
			continue
		}
		if len(v) != 1 {
			return q, ogcInvalid(k, "give it once")
		}
		if q.Equal == nil {
			q.Equal = map[string]string{}
		}
		q.Equal[k] = v[0]
	}
	return q, nil
}

func (s *Server) ogcItems(c echo.Context) error {
	l, err := ogcLayer(c)
	if err != nil {
		return err
	}
	if err := ogcCheckParams(c, ogcItemsParams, l); err != nil {
		return err
	}
	f, err := ogcFormat(c)
	if err != nil {
		return err
	}
	q, err := s.ogcFeatureQuery(c, l, true)
	if err != nil {
		return err
	}
	cur, err := s.layers.Features(c.Request().Context(), q)
	if err != nil {
		return err
	}
	defer cur.Close()
	path := ogcBase(c) + "/collections/" + l.Name + "/items"
	links := ogcSelfLinks(c, path, f, ogcGeoJSON)
	if int64(q.Offset+q.Limit) < cur.Matched {
		links = append(links, ogcLink{Href: ogcWithQuery(c, path, map[string]string{"offset": strconv.Itoa(q.Offset + q.Limit),
			"limit": strconv.Itoa(q.Limit)}), Rel: "next", Type: ogcGeoJSON, Title: "next page"})
	}
	if q.Offset > 0 {
		links = append(links, ogcLink{Href: ogcWithQuery(c, path, map[string]string{"offset": strconv.Itoa(max(0, q.Offset-q.Limit)),
			"limit": strconv.Itoa(q.Limit)}), Rel: "prev", Type: ogcGeoJSON, Title: "previous page"})
	}
	links = append(links, ogcLink{Href: ogcBase(c) + "/collections/" + l.Name, Rel: "collection", Type: ogcJSON, Title: l.Title})
	if f == "html" {
		return ogcItemsHTML(c, l, cur, links, q)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, ogcGeoJSON)
	h.Set("Content-Crs", "<"+q.CRS.URI+">")
	c.Response().WriteHeader(http.StatusOK)
	w := bufio.NewWriterSize(c.Response(), 64<<10)
	lj, _ := json.Marshal(links)
	head := fmt.Sprintf(`{"type":"FeatureCollection","numberMatched":%d,"features":[`, cur.Matched)
	if _, err := layers.WriteCollection(w, head, cur, func(n int) string {
		return fmt.Sprintf("\n],\"numberReturned\":%d,\"timeStamp\":%q,\"links\":%s}\n", n, time.Now().UTC().Format(time.RFC3339), lj)
	}); err != nil {
		return fmt.Errorf("items %s: %w", l.Name, err) // a database error, or the client gone
	}
	return w.Flush()
}

func (s *Server) ogcItem(c echo.Context) error {
	l, err := ogcLayer(c)
	if err != nil {
		return err
	}
	if err := ogcCheckParams(c, ogcParams("crs"), nil); err != nil {
		return err
	}
	f, err := ogcFormat(c)
	if err != nil {
		return err
	}
	q, err := s.ogcFeatureQuery(c, l, false)
	if err != nil {
		return err
	}
	q.ID = c.Param("feature")
	if id, err := url.PathUnescape(q.ID); err == nil {
		q.ID = id
	}
	feat, err := s.layers.Feature(c.Request().Context(), q)
	if errors.Is(err, boundaries.ErrNotFound) {
		return ogcNotFound(fmt.Sprintf("no feature %q in collection %s", q.ID, l.Name))
	}
	if err != nil {
		return err
	}
	path := ogcBase(c) + "/collections/" + l.Name + "/items/" + url.PathEscape(q.ID)
	links := append(ogcSelfLinks(c, path, f, ogcGeoJSON),
		ogcLink{Href: ogcBase(c) + "/collections/" + l.Name, Rel: "collection", Type: ogcJSON, Title: l.Title})
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(feat, &doc); err != nil {
		return fmt.Errorf("feature %s: %w", q.ID, err)
	}
	doc["links"], _ = json.Marshal(links)
	if f == "html" {
		return ogcRender(c, f, http.StatusOK, ogcGeoJSON, doc)
	}
	c.Response().Header().Set("Content-Crs", "<"+q.CRS.URI+">")
	body, _ := json.Marshal(doc)
	return c.Blob(http.StatusOK, ogcGeoJSON, body)
}

// --- HTML ---

var ogcTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;font-size:90%}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}pre{background:#f6f6f6;padding:1em;overflow:auto}</style>
</head><body><h1>{{.Title}}</h1>
{{if .Links}}<ul>{{range .Links}}<li><a href="{{.Href}}">{{if .Title}}{{.Title}}{{else}}{{.Rel}}{{end}}</a> <small>({{.Rel}}{{if .Type}}, {{.Type}}{{end}})</small></li>{{end}}</ul>{{end}}
{{if .Header}}<p>{{.Summary}}</p><table><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{if .JSON}}<pre>{{.JSON}}</pre>{{end}}
</body></html>`))

type ogcPageData struct {
	Title   string
	Links   []ogcLink
	Summary string
	Header  []string
	Rows    [][]string
	JSON    string
}

// ogcRender writes doc as JSON (with the given media type) or as a simple
// HTML page listing its links and showing the document.
func ogcRender(c echo.Context, f string, status int, jsonType string, doc any) error {
	if f != "html" {
		body, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("render: %w", err)
		}
		return c.Blob(status, jsonType, body)
	}
	p := ogcPageData{Title: "jiedao OGC API"}
	raw, _ := json.Marshal(doc)
	var generic struct {
		Title string    `json:"title"`
		ID    any       `json:"id"`
		Links []ogcLink `json:"links"`
	}
	json.Unmarshal(raw, &generic) //nolint:errcheck
	if generic.Title != "" {
		p.Title = generic.Title
	} else if generic.ID != nil {
		p.Title = fmt.Sprint(generic.ID)
	}
	p.Links = generic.Links
	pretty, _ := json.MarshalIndent(doc, "", "  ")
	p.JSON = string(pretty)
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return ogcTemplate.Execute(c.Response(), p)
}

// ogcItemsHTML renders a page of features as a table of properties.
func ogcItemsHTML(c echo.Context, l *layers.Layer, cur *layers.FeatureCursor, links []ogcLink, q layers.FeatureQuery) error {
	p := ogcPageData{Title: l.Title, Links: links}
	for _, f := range l.Fields {
		p.Header = append(p.Header, f.Name)
	}
	for cur.Next() {
		var feat struct {
			Properties map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(cur.Feature(), &feat); err != nil {
			return fmt.Errorf("items html: %w", err)
		}
		row := make([]string, len(l.Fields))
		for i, f := range l.Fields {
			if v := feat.Properties[f.Name]; v != nil {
				row[i] = fmt.Sprint(v)
			}
		}
		p.Rows = append(p.Rows, row)
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("items %s: %w", l.Name, err)
	}
	p.Summary = fmt.Sprintf("%d of %d features, from %d", len(p.Rows), cur.Matched, q.Offset+1)
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	return ogcTemplate.Execute(c.Response(), p)
}

// --- OpenAPI ---

func (s *Server) ogcAPI(c echo.Context) error {
	if err := ogcCheckParams(c, []string{"f"}, nil); err != nil {
		return err
	}
	f, err := ogcFormat(c)
	if err != nil {
		return err
	}
	return ogcRender(c, f, http.StatusOK, ogcOpenAPIType, ogcOpenAPI(ogcBase(c)))
}

func ogcOpenAPI(base string) map[string]any {
	str := map[string]any{"type": "string"}
	param := func(name, in, desc string, schema any, required bool) map[string]any {
		return map[string]any{"name": name, "in": in, "description": desc, "schema": schema, "required": required,
			"style": "form", "explode": false}
	}
	crsEnum := map[string]any{"type": "string", "format": "uri", "enum": ogcCRSURIs()}
	var names []string
	for _, l := range layers.All {
		names = append(names, l.Name)
	}
	sort.Strings(names)
	collection := param("collectionId", "path", "a layer", map[string]any{"type": "string", "enum": names}, true)
	collection["style"] = "simple"
	common := []any{
		param("f", "query", "json or html (else the Accept header)", map[string]any{"type": "string", "enum": []string{"json", "html"}}, false),
		param("profile", "query", "policy profile for status, reasons and density (default "+analysis.DefaultProfile+")",
			map[string]any{"type": "string", "enum": analysis.ProfileNames()}, false),
		param("datetime", "query", "the boundaries valid on this date or instant (intervals are not supported); default today", str, false),
		param("at", "query", "same as datetime, YYYY-MM-DD", map[string]any{"type": "string", "format": "date"}, false),
		param("scenario", "query", "id of a stored scenario (GET /api/v1/scenarios): the boundaries with the scenario applied, judged by its own analysis; proposed units have proposed=true and no version_id",
			map[string]any{"type": "integer", "minimum": 1}, false),
	}
	items := append([]any{collection,
		param("limit", "query", "features per page (default 100, larger than 10000 is clamped)",
			map[string]any{"type": "integer", "minimum": 1, "maximum": ogcMaxLimit, "default": ogcDefaultLimit}, false),
		param("offset", "query", "features to skip", map[string]any{"type": "integer", "minimum": 0, "default": 0}, false),
		param("bbox", "query", "minx,miny,maxx,maxy in bbox-crs axis order",
			map[string]any{"type": "array", "minItems": 4, "maxItems": 6, "items": map[string]any{"type": "number"}}, false),
		param("bbox-crs", "query", "CRS of bbox (default CRS84)", crsEnum, false),
		param("crs", "query", "output CRS (default CRS84)", crsEnum, false),
		param("filter", "query", "CQL2 text filter over the queryables", str, false),
		param("filter-lang", "query", "cql2-text", map[string]any{"type": "string", "enum": []string{"cql2-text"}}, false),
		param("filter-crs", "query", "CRS of filter geometries (default CRS84)", crsEnum, false),
	}, common...)
	one := append([]any{collection,
		param("featureId", "path", "unit code (zones: zone id)", str, true),
		param("crs", "query", "output CRS (default CRS84)", crsEnum, false)}, common...)
	one[1].(map[string]any)["style"] = "simple"
	resp := func(desc, typ string) map[string]any {
		return map[string]any{"200": map[string]any{"description": desc, "content": map[string]any{typ: map[string]any{}, ogcHTML: map[string]any{}}},
			"400": map[string]any{"description": "invalid parameter ({code, description})"},
			"404": map[string]any{"description": "not found ({code, description})"},
			"500": map[string]any{"description": "server error"}}
	}
	op := func(id, summary string, params []any, r map[string]any) map[string]any {
		return map[string]any{"get": map[string]any{"operationId": id, "summary": summary, "parameters": params, "responses": r}}
	}
	fOnly := []any{common[0]}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "jiedao OGC API – Features", "version": "1.0",
			"description": "Street and community boundaries with their analysis"},
		"servers": []any{map[string]any{"url": base}},
		"paths": map[string]any{
			"/":            op("getLandingPage", "landing page", fOnly, resp("links to the API", ogcJSON)),
			"/conformance": op("getConformance", "conformance classes", fOnly, resp("conformance classes", ogcJSON)),
			"/api":         op("getAPI", "this document", fOnly, resp("OpenAPI 3.0", ogcOpenAPIType)),
			"/collections": op("getCollections", "the collections", common, resp("collections", ogcJSON)),
			"/collections/{collectionId}": op("describeCollection", "one collection",
				append([]any{collection}, common...), resp("a collection", ogcJSON)),
			"/collections/{collectionId}/items": op("getFeatures", "features of a collection; any queryable is also a "+
				"query parameter for equality (e.g. status=oversized&parent_code=110101005)", items,
				resp("GeoJSON FeatureCollection with numberMatched, numberReturned and next links", ogcGeoJSON)),
			"/collections/{collectionId}/items/{featureId}": op("getFeature", "one feature", one, resp("GeoJSON Feature", ogcGeoJSON)),
			"/collections/{collectionId}/queryables": op("getQueryables", "properties usable in filter and as parameters",
				[]any{collection, common[0]}, resp("JSON Schema", ogcSchemaType)),
		},
	}
}
