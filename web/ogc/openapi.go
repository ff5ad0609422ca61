package ogc

import (
	"net/http"
	"slices"
	"sort"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/layers"
)

// --- OpenAPI ---

func (o *Handler) api(c echo.Context) error {
	if err := checkParams(c, []string{"f"}, nil); err != nil {
		return err
	}
	f, err := pickFormat(c)
	if err != nil {
		return err
	}
	doc := openAPI(baseURL(c))
	// A draft's communities and grids take Part 4 writes; live unit
	// collections take them with an approval (X-Approval, X-Valid-From).
	if o.edit != nil {
		editable := func(l *layers.Layer) bool { return l.Level == boundaries.Community || l.Level == boundaries.Grid }
		if pathScenario(c) == 0 {
			editable = func(l *layers.Layer) bool { return l.Level != "" }
		}
		editOperations(doc, editable)
	}
	return render(c, f, http.StatusOK, mediaOpenAPI, doc)
}

func openAPI(base string) map[string]any {
	str := map[string]any{"type": "string"}
	param := apiParam
	crsEnum := map[string]any{"type": "string", "format": "uri", "enum": crsURIs()}
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
		param("datetime", "query", "a date or instant: the boundaries valid then (default today); an interval a/b, ../b or a/.. "+
			"(dates or instants): every version valid at any time in it, once, with the analysis of the end day (today when open) "+
			"for the versions valid on it and none for the others; a date may end in T (2024-06-30T). "+
			"Collections, single features and downloads take an interval's end day", str, false),
		param("at", "query", "same as datetime, YYYY-MM-DD", map[string]any{"type": "string", "format": "date"}, false),
		param("scenario", "query", "id of a stored scenario (GET /api/v1/scenarios): the boundaries with the scenario applied, judged by its own analysis; proposed units have proposed=true and no version_id",
			map[string]any{"type": "integer", "minimum": 1}, false),
	}
	items := append([]any{collection,
		param("limit", "query", "features per page (default 100, larger than 10000 is clamped)",
			map[string]any{"type": "integer", "minimum": 1, "maximum": maxLimit, "default": defaultLimit}, false),
		param("offset", "query", "features to skip (not with cursor)", map[string]any{"type": "integer", "minimum": 0, "default": 0}, false),
		param("cursor", "query", "opaque: where the next page starts, as given by the rel=next link (keyset paging, so every page costs the same; not with offset)", str, false),
		param("bbox", "query", "minx,miny,maxx,maxy in bbox-crs axis order",
			map[string]any{"type": "array", "minItems": 4, "maxItems": 6, "items": map[string]any{"type": "number"}}, false),
		param("bbox-crs", "query", "CRS of bbox (default CRS84)", crsEnum, false),
		param("crs", "query", "output CRS (default CRS84)", crsEnum, false),
		param("filter", "query", "CQL2 text filter over the queryables", str, false),
		param("filter-lang", "query", "cql2-text (cql-text, the draft's name, is the same)", map[string]any{"type": "string", "enum": filterLangs}, false),
		param("filter-crs", "query", "CRS of filter geometries (default CRS84)", crsEnum, false),
	}, common...)
	one := append([]any{collection,
		param("featureId", "path", "unit code (zones: zone id)", str, true),
		param("crs", "query", "output CRS (default CRS84)", crsEnum, false)}, common...)
	one[1].(map[string]any)["style"] = "simple"
	// Exceptions are JSON whatever f= asks (renderErrors).
	exception := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
			"type": "object", "required": []string{"code", "description"},
			"properties": map[string]any{"code": str, "description": str}}}}}
	}
	resp := func(desc, typ string) map[string]any {
		return map[string]any{"200": map[string]any{"description": desc, "content": map[string]any{typ: map[string]any{}, mediaHTML: map[string]any{}}},
			"400": exception("invalid parameter (code InvalidParameterValue)"),
			"404": exception("not found (code NotFound)"),
			"500": exception("server error (code ServerError)")}
	}
	op := func(id, summary string, params []any, r map[string]any) map[string]any {
		return map[string]any{"get": map[string]any{"operationId": id, "summary": summary, "parameters": params, "responses": r}}
	}
	fOnly := []any{common[0]}
	paths := map[string]any{
		"/":            op("getLandingPage", "landing page", fOnly, resp("links to the API", mediaJSON)),
		"/conformance": op("getConformance", "conformance classes", fOnly, resp("conformance classes", mediaJSON)),
		"/api":         op("getAPI", "this document", fOnly, resp("OpenAPI 3.0", mediaOpenAPI)),
		"/collections": op("getCollections", "the collections", common, resp("collections", mediaJSON)),
		"/collections/{collectionId}": op("describeCollection", "one collection",
			append([]any{collection}, common...), resp("a collection", mediaJSON)),
		"/collections/{collectionId}/items": op("getFeatures", "features of a collection; any queryable is also a "+
			"query parameter for equality (e.g. status=oversized&parent_code=110101005)", items,
			resp("GeoJSON FeatureCollection with numberMatched, numberReturned and next links", mediaGeoJSON)),
		"/collections/{collectionId}/items/{featureId}": op("getFeature", "one feature", one, resp("GeoJSON Feature", mediaGeoJSON)),
		"/collections/{collectionId}/queryables": op("getQueryables", "properties usable in filter and as parameters",
			[]any{collection, common[0]}, resp("JSON Schema", mediaSchema)),
		"/collections/{collectionId}/schema": op("getSchema", "JSON Schema of the features",
			append([]any{collection}, common...), resp("JSON Schema", mediaSchema)),
	}
	// Each layer's items with its queryables as parameters: GDAL's OAPIF
	// driver (3.6) sends in filter only the properties it finds here.
	for _, l := range layers.All {
		params := slices.Clone(items[1:])
		for _, f := range l.Fields {
			if f.Type != "array" { // lists are not name=value parameters
				params = append(params, param(f.Name, "query", f.Description+" (equals)", fieldSchema(f), false))
			}
		}
		paths["/collections/"+l.Name+"/items"] = op("getFeatures_"+l.Name, l.Title, params,
			resp("GeoJSON FeatureCollection with numberMatched, numberReturned and next links", mediaGeoJSON))
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "jiedao OGC API – Features", "version": "1.0",
			"description": "Street, community and grid boundaries with their analysis"},
		"servers": []any{map[string]any{"url": base}},
		"paths":   paths,
	}
}

// apiParam is an OpenAPI parameter.
func apiParam(name, in, desc string, schema any, required bool) map[string]any {
	return map[string]any{"name": name, "in": in, "description": desc, "schema": schema, "required": required,
		"style": "form", "explode": false}
}
