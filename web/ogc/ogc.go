// Package ogc serves OGC API – Features (Parts 1, 2 and 3) under /ogc and
// the whole-layer downloads under /download, which share its filters and
// its error style.
package ogc

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/web/param"
)

// The data come from the layer registry through layers.Reader; this
// package is HTTP only.

const (
	defaultLimit = 100
	maxLimit     = 10000
	mediaGeoJSON = "application/geo+json"
	mediaJSON    = "application/json"
	mediaHTML    = "text/html"
	mediaOpenAPI = "application/vnd.oai.openapi+json;version=3.0"
	mediaSchema  = "application/schema+json"
)

// conformanceClasses lists exactly the classes implemented.
var conformanceClasses = []string{
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

// filterLangs are the filter-lang values taken: cql2-text, and cql-text,
// the draft's name, which GDAL's OAPIF driver (3.6, QGIS's engine) looks
// for in /api before it sends a -where as a filter rather than
// evaluating it on the client. What GDAL writes is CQL2 text.
var filterLangs = []string{"cql2-text", "cql-text"}

// viewParams choose what the collections show: the profile, the day
// and a scenario's boundaries instead of the live ones. Every route takes
// them and links carry them, so a client connected to /ogc?scenario=3
// (GDAL and QGIS keep the connection URL's query) stays on that scenario.
var viewParams = []string{"profile", "at", "datetime", "scenario"}

// itemsParams are the items parameters other than the queryables.
var itemsParams = append([]string{"f", "limit", "offset", "cursor", "bbox", "bbox-crs", "crs",
	"filter", "filter-lang", "filter-crs"}, viewParams...)

// routeParams are the format parameter, the view parameters and extra.
func routeParams(extra ...string) []string {
	return append(append([]string{"f"}, viewParams...), extra...)
}

// carry adds the request's view parameters to a link.
func carry(c echo.Context, href string) string {
	q := url.Values{}
	for _, k := range viewParams {
		if v := c.QueryParam(k); v != "" && (k != "scenario" || pathScenario(c) == 0) {
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

type Link struct {
	Href  string `json:"href"`
	Rel   string `json:"rel"`
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
}

// Handler serves /ogc and /download.
type Handler struct {
	layers   *layers.Reader
	profiles *param.Profiles
	edit     Editor // nil: no writes
}

// New makes the handler: features, extents and downloads are read through
// lr, ?profile= is resolved by profiles.
func New(lr *layers.Reader, profiles *param.Profiles) *Handler {
	return &Handler{layers: lr, profiles: profiles}
}

// Routes registers the OGC API under /ogc and the downloads under
// /download.
func (o *Handler) Routes(e *echo.Echo) {
	o.routesOGC(e)
	o.routesScenarios(e)
	o.routesDownloads(e)
}

func (o *Handler) routesOGC(e *echo.Echo) {
	// Gzip outside, so error bodies are compressed too; renderErrors inside
	// renders errors in the OGC style without touching the global handler.
	o.routesFeatures(e.Group("/ogc", compress(), renderErrors))
}

// routesFeatures registers the OGC API routes on a group: the live
// boundaries under /ogc, a draft scenario's under /ogc/scenarios/{id}.
// Live collections are read-only unless the request carries an approval
// (edit.go): Allow says which to QGIS.
func (o *Handler) routesFeatures(g *echo.Group) {
	g.GET("", o.landing)
	g.GET("/", o.landing)
	g.GET("/conformance", o.conformance)
	g.GET("/api", o.api)
	g.GET("/collections", o.collections)
	g.GET("/collections/:collection", o.collection)
	g.GET("/collections/:collection/items", o.items)
	g.GET("/collections/:collection/items/:feature", o.item)
	g.GET("/collections/:collection/queryables", o.queryables)
	g.GET("/collections/:collection/schema", o.schema)
	g.OPTIONS("/collections/:collection/items", o.options)
	g.OPTIONS("/collections/:collection/items/:feature", o.options)
	g.POST("/collections/:collection/items", o.write("create"))
	g.PUT("/collections/:collection/items/:feature", o.write("replace"))
	g.PATCH("/collections/:collection/items/:feature", o.write("update"))
	g.DELETE("/collections/:collection/items/:feature", o.write("delete"))
}

// compress compresses when the client accepts it, at the fastest level:
// at the default level gzip, not PostGIS, limits a large download to
// ~20 MB/s, while level 1 still shrinks GeoJSON about fivefold.
func compress() echo.MiddlewareFunc {
	return middleware.GzipWithConfig(middleware.GzipConfig{Level: 1})
}

// exception is an OGC exception: {"code": …, "description": …}.
type exception struct {
	Status      int    `json:"-"`
	Code        string `json:"code"`
	Description string `json:"description"`
}

func (e *exception) Error() string { return e.Code + ": " + e.Description }

func invalid(param, msg string) *exception {
	return &exception{http.StatusBadRequest, "InvalidParameterValue", "parameter " + param + ": " + msg}
}

func notFound(msg string) *exception {
	return &exception{http.StatusNotFound, "NotFound", msg}
}

// renderErrors renders the handlers' errors as OGC exceptions.
func renderErrors(next echo.HandlerFunc) echo.HandlerFunc {
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
		oe := toException(c, err)
		c.Response().Header().Del(echo.HeaderContentDisposition)
		return c.JSON(oe.Status, oe)
	}
}

func toException(c echo.Context, err error) *exception {
	var oe *exception
	var qe *boundaries.QueryError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &oe):
		return oe
	case errors.As(err, &qe):
		return invalid(qe.Param, qe.Err.Error())
	case errors.Is(err, boundaries.ErrNotFound):
		return notFound(err.Error())
	case errors.As(err, &he):
		code := map[int]string{400: "InvalidParameterValue", 404: "NotFound", 405: "MethodNotAllowed",
			406: "NotAcceptable"}[he.Code]
		if code == "" {
			code = strings.ReplaceAll(http.StatusText(he.Code), " ", "")
		}
		return &exception{he.Code, code, fmt.Sprint(he.Message)}
	}
	slog.Error("ogc request failed", "path", c.Request().URL.Path, "err", err)
	return &exception{http.StatusInternalServerError, "ServerError", "internal error"}
}

// pickFormat picks json or html: ?f= wins, else the Accept header (best q,
// first on ties), else JSON.
func pickFormat(c echo.Context) (string, error) {
	switch f := c.QueryParam("f"); f {
	case "json", "geojson":
		return "json", nil
	case "html":
		return "html", nil
	case "":
	default:
		return "", invalid("f", fmt.Sprintf("unsupported format %q (want json or html)", f))
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
		case mt == mediaHTML || mt == "application/xhtml+xml":
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

// baseURL is the absolute URL of /ogc (or of a draft's
// /ogc/scenarios/{id}) as the client reached it.
func baseURL(c echo.Context) string {
	if b, ok := c.Get(ctxBase).(string); ok {
		return c.Scheme() + "://" + c.Request().Host + b
	}
	return c.Scheme() + "://" + c.Request().Host + "/ogc"
}

// withQuery is path with the request's query, changed by set (an empty
// value removes the parameter).
func withQuery(c echo.Context, path string, set map[string]string) string {
	q := url.Values{}
	for k, v := range c.QueryParams() {
		q[k] = slices.Clone(v)
	}
	if pathScenario(c) != 0 {
		q.Del("scenario") // the path's
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

// selfLinks are self and alternate links of a resource in json and html.
func selfLinks(c echo.Context, path, format, jsonType string) []Link {
	self, alt := Link{Rel: "self"}, Link{Rel: "alternate"}
	jl := Link{Href: withQuery(c, path, map[string]string{"f": "json"}), Type: jsonType, Title: "this document as JSON"}
	hl := Link{Href: withQuery(c, path, map[string]string{"f": "html"}), Type: mediaHTML, Title: "this document as HTML"}
	if format == "html" {
		self.Href, self.Type, self.Title = hl.Href, hl.Type, hl.Title
		alt.Href, alt.Type, alt.Title = jl.Href, jl.Type, jl.Title
	} else {
		self.Href, self.Type, self.Title = jl.Href, jl.Type, jl.Title
		alt.Href, alt.Type, alt.Title = hl.Href, hl.Type, hl.Title
	}
	return []Link{self, alt}
}

// checkParams refuses parameters the route does not define (OGC API
// Features /req/core/query-param-unknown), so typos do not silently return
// everything.
func checkParams(c echo.Context, allowed []string, l *layers.Layer) error {
	for k := range c.QueryParams() {
		if slices.Contains(allowed, k) || (k == "scenario" && pathScenario(c) != 0) {
			continue
		}
		if l != nil {
			if f, ok := l.Field(k); ok && f.Type != "array" {
				continue
			}
		}
		return invalid(k, "unknown parameter")
	}
	return nil
}
