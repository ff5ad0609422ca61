package ogc

import (
	"github.com/jiedao/jiedao/boundaries/layers"
)

// editOperations adds the Part 4 operations to a draft's OpenAPI
// document: OPTIONS and POST on the items of each editable layer, and
// OPTIONS, PUT, PATCH and DELETE on an item.
func editOperations(doc map[string]any, editable func(*layers.Layer) bool) {
	paths := doc["paths"].(map[string]any)
	str := map[string]any{"type": "string"}
	hdr := func(desc string) map[string]any { return map[string]any{"description": desc, "schema": str} }
	exception := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
			"type": "object", "required": []string{"code", "description"},
			"properties": map[string]any{"code": str, "description": str}}}}}
	}
	errs := map[string]any{
		"400": exception("bad parameter or header (Content-Crs, an empty body; code InvalidParameterValue)"),
		"401": map[string]any{"description": "no key, or an unknown or revoked one (the API's error: {error: {code, message}})",
			"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}},
		"403": exception("the key may not write here (code Forbidden): an editor key, an unadopted scenario, communities or grids"),
		"404": exception("no such scenario, collection or item (code NotFound)"),
		"409": exception("the code is already a unit, or the scenario is adopted (code Conflict)"),
		"412": exception("If-Match is not the item's current ETag (code PreconditionFailed)"),
		"415": exception("not a JSON body (code UnsupportedMediaType)"),
		"422": exception("the feature is refused with the importer's reasons, nothing written (code InvalidFeature)"),
		"500": exception("server error (code ServerError)"),
	}
	with := func(ok map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range errs {
			out[k] = v
		}
		for k, v := range ok {
			out[k] = v
		}
		return out
	}
	feature := map[string]any{"type": "object", "description": "a GeoJSON Feature: properties code (on POST), name, parent_code, households, population; a Polygon or MultiPolygon geometry"}
	body := func(types ...string) map[string]any {
		content := map[string]any{}
		for _, t := range types {
			content[t] = map[string]any{"schema": feature}
		}
		return map[string]any{"required": true, "content": content}
	}
	crs := apiParam("Content-Crs", "header", "CRS of the body's coordinates as <uri>, one of the collection's (default CRS84)", str, false)
	crs["style"] = "simple"
	ifMatch := apiParam("If-Match", "header", "the ETag read: checked when given (412); without it the last writer wins, every write kept in the draft's history", str, false)
	ifMatch["style"] = "simple"
	options := func(id string, params []any) map[string]any {
		return map[string]any{"operationId": id, "summary": "what the request's key may do here (the Allow header)", "parameters": params,
			"responses": map[string]any{"200": map[string]any{"description": "Allow lists the methods",
				"headers": map[string]any{"Allow": hdr("GET, HEAD, OPTIONS, and the writes the key may make")}}}}
	}
	etag := map[string]any{"ETag": hdr("the item's new tag, for If-Match")}
	one := paths["/collections/{collectionId}/items/{featureId}"].(map[string]any)
	params := one["get"].(map[string]any)["parameters"].([]any)[:2] // collectionId, featureId
	one["options"] = options("optionsFeature", params)
	one["put"] = map[string]any{"operationId": "replaceFeature", "summary": "replace the item in the draft",
		"parameters": append([]any{crs, ifMatch}, params...), "requestBody": body(mediaGeoJSON, mediaJSON),
		"responses": with(map[string]any{"204": map[string]any{"description": "replaced", "headers": etag}})}
	one["patch"] = map[string]any{"operationId": "updateFeature", "summary": "JSON Merge Patch of the item's properties; a geometry given replaces it",
		"parameters": append([]any{crs, ifMatch}, params...), "requestBody": body("application/merge-patch+json", mediaGeoJSON, mediaJSON),
		"responses": with(map[string]any{"204": map[string]any{"description": "updated", "headers": etag}})}
	one["delete"] = map[string]any{"operationId": "deleteFeature", "summary": "remove the item in the draft (retired on adoption)",
		"parameters": append([]any{ifMatch}, params...),
		"responses":  with(map[string]any{"204": map[string]any{"description": "removed"}})}
	for _, l := range layers.All {
		items, ok := paths["/collections/"+l.Name+"/items"].(map[string]any)
		if !ok || !editable(&l) {
			continue
		}
		items["options"] = options("optionsFeatures_"+l.Name, []any{})
		items["post"] = map[string]any{"operationId": "createFeature_" + l.Name, "summary": "add a unit to the draft",
			"parameters": []any{crs}, "requestBody": body(mediaGeoJSON, mediaJSON),
			"responses": with(map[string]any{"201": map[string]any{"description": "created",
				"headers": map[string]any{"Location": hdr("the new item's URL"), "ETag": etag["ETag"], "Content-Crs": hdr("the body's CRS")}}})}
	}
}
