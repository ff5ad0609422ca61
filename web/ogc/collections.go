package ogc

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/geo"
	"github.com/jiedao/jiedao/web/param"
)

func (o *Handler) landing(c echo.Context) error {
	if err := checkParams(c, routeParams(), nil); err != nil {
		return err
	}
	f, err := pickFormat(c)
	if err != nil {
		return err
	}
	b := baseURL(c)
	links := append(selfLinks(c, b, f, mediaJSON),
		Link{Href: carry(c, b+"/api"), Rel: "service-desc", Type: mediaOpenAPI, Title: "the API definition (OpenAPI 3.0)"},
		Link{Href: carry(c, b+"/api?f=html"), Rel: "service-doc", Type: mediaHTML, Title: "the API documentation"},
		Link{Href: carry(c, b+"/conformance"), Rel: "conformance", Type: mediaJSON, Title: "conformance classes"},
		Link{Href: carry(c, b+"/collections"), Rel: "data", Type: mediaJSON, Title: "the collections"},
	)
	doc := map[string]any{
		"title":       "jiedao — streets, communities and grids",
		"description": "Street (街道), community (社区) and grid (网格) boundaries with their analysis under a policy profile (OGC API – Features)",
		"links":       links,
	}
	return render(c, f, http.StatusOK, mediaJSON, doc)
}

func (o *Handler) conformance(c echo.Context) error {
	if err := checkParams(c, routeParams(), nil); err != nil {
		return err
	}
	f, err := pickFormat(c)
	if err != nil {
		return err
	}
	classes := conformanceClasses
	if pathScenario(c) != 0 && o.edit != nil {
		classes = append(slices.Clone(classes), editConformance...)
	}
	return render(c, f, http.StatusOK, mediaJSON, map[string]any{
		"conformsTo": classes,
		"links":      selfLinks(c, baseURL(c)+"/conformance", f, mediaJSON),
	})
}

func crsURIs() []string {
	var out []string
	for _, c := range geo.OGC {
		out = append(out, c.URI)
	}
	return out
}

// collection is the description of one layer.
func (o *Handler) collectionDoc(c echo.Context, l *layers.Layer, f string, self bool) (map[string]any, error) {
	b := baseURL(c)
	path := b + "/collections/" + l.Name
	var links []Link
	if self {
		links = selfLinks(c, path, f, mediaJSON)
	} else {
		links = []Link{{Href: carry(c, path), Rel: "self", Type: mediaJSON, Title: l.Title}}
	}
	links = append(links,
		Link{Href: carry(c, path+"/items"), Rel: "items", Type: mediaGeoJSON, Title: l.Title + " as GeoJSON"},
		Link{Href: carry(c, path+"/items?f=html"), Rel: "items", Type: mediaHTML, Title: l.Title + " as HTML"},
		Link{Href: carry(c, path+"/queryables"), Rel: "http://www.opengis.net/def/rel/ogc/1.0/queryables", Type: mediaSchema, Title: "queryables"},
		// GDAL's OAPIF driver (3.6) types its fields from a describedBy
		// schema (the rel matched case-sensitively), else from a sample page,
		// where an all-null column becomes String.
		Link{Href: carry(c, path+"/schema"), Rel: "describedBy", Type: mediaSchema, Title: "JSON Schema of the features"},
		Link{Href: carry(c, "/download/"+l.Name+".geojson"), Rel: "enclosure", Type: mediaGeoJSON, Title: "download as GeoJSON"},
		Link{Href: carry(c, "/download/"+l.Name+".gpkg"), Rel: "enclosure", Type: "application/geopackage+sqlite3", Title: "download as GeoPackage"},
		Link{Href: carry(c, "/download/"+l.Name+".csv"), Rel: "enclosure", Type: "text/csv", Title: "download as CSV"},
	)
	p, err := o.profiles.Profile(c)
	if err != nil {
		return nil, err
	}
	day, err := asOf(c)
	if err != nil {
		return nil, err
	}
	scenario, err := param.Scenario(c)
	if err != nil {
		return nil, err
	}
	ext, err := o.layers.Extent(c.Request().Context(), layers.ExtentQuery{Layer: l.Name, Profile: p, At: day, Scenario: scenario})
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
		"links": links, "extent": extent, "crs": crsURIs(), "storageCrs": geo.Storage.URI,
	}, nil
}

func (o *Handler) collections(c echo.Context) error {
	if err := checkParams(c, routeParams(), nil); err != nil {
		return err
	}
	f, err := pickFormat(c)
	if err != nil {
		return err
	}
	var cols []map[string]any
	for i := range layers.All {
		col, err := o.collectionDoc(c, &layers.All[i], f, false)
		if err != nil {
			return err
		}
		cols = append(cols, col)
	}
	return render(c, f, http.StatusOK, mediaJSON, map[string]any{
		"links":       selfLinks(c, baseURL(c)+"/collections", f, mediaJSON),
		"collections": cols,
		"crs":         crsURIs(),
	})
}

func layer(c echo.Context) (*layers.Layer, error) {
	l, ok := layers.ByName(c.Param("collection"))
	if !ok {
		return nil, notFound(fmt.Sprintf("no collection %q", c.Param("collection")))
	}
	return l, nil
}

func (o *Handler) collection(c echo.Context) error {
	l, f, err := collectionRequest(c, routeParams(), false)
	if err != nil {
		return err
	}
	col, err := o.collectionDoc(c, l, f, true)
	if err != nil {
		return err
	}
	return render(c, f, http.StatusOK, mediaJSON, col)
}

// asOf is the as-of day of a route that shows one day: ?datetime= (a
// date or an instant; for an interval its end day, today when open) or
// ?at=.
func asOf(c echo.Context) (time.Time, error) {
	iv, err := interval(c)
	if err != nil || iv != nil {
		return iv.End(), err
	}
	if v := c.QueryParam("datetime"); v != "" {
		d, _ := boundaries.ParseDatetime(v)
		return d.From, nil
	}
	return param.At(c, "at")
}

// interval is ?datetime= when it spans more than one day, else nil.
func interval(c echo.Context) (*boundaries.Interval, error) {
	v := c.QueryParam("datetime")
	if v == "" {
		return nil, nil
	}
	iv, err := boundaries.ParseDatetime(v)
	if err != nil {
		return &iv, invalid("datetime", err.Error())
	}
	if _, one := iv.Day(); one {
		return nil, nil
	}
	return &iv, nil
}

func crsParam(c echo.Context, name string) (geo.CRS, error) {
	v := c.QueryParam(name)
	if v == "" {
		return geo.CRS84, nil
	}
	crs, err := geo.ParseURI(v)
	if err != nil {
		return crs, invalid(name, err.Error())
	}
	return crs, nil
}

// collectionRequest resolves what every collection route starts with: the
// collection, the query parameters it allows (with the layer's queryables
// when queryables is set) and the output format.
func collectionRequest(c echo.Context, allowed []string, queryables bool) (*layers.Layer, string, error) {
	l, err := layer(c)
	if err != nil {
		return nil, "", err
	}
	var ql *layers.Layer
	if queryables {
		ql = l
	}
	if err := checkParams(c, allowed, ql); err != nil {
		return nil, "", err
	}
	f, err := pickFormat(c)
	if err != nil {
		return nil, "", err
	}
	return l, f, nil
}
