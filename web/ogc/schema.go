package ogc

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries/layers"
)

// The queryables and the feature schema type each field the same way:
// dates as strings of format date, counts as integers, lists as arrays of
// strings. One "type" each, never a list with "null": GDAL's OAPIF driver
// (3.6) reads only a single type (any property but the id may be null).

// fieldSchema is the JSON Schema of a layer field.
func fieldSchema(f layers.Field) map[string]any {
	p := map[string]any{"title": f.Name, "description": f.Description}
	switch f.Type {
	case "date":
		p["type"], p["format"] = "string", "date"
	case "array":
		p["type"], p["items"] = "array", map[string]any{"type": "string"}
	default:
		p["type"] = f.Type
	}
	return p
}

// orderedProps are JSON Schema properties kept in the layer's field order
// (a map would sort them, and GDAL makes its columns in document order).
type orderedProps []struct {
	name   string
	schema any
}

func (ps orderedProps) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.name)
		v, err := json.Marshal(p.schema)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (ps *orderedProps) add(name string, schema any) {
	*ps = append(*ps, struct {
		name   string
		schema any
	}{name, schema})
}

// queryables are the properties usable in filter (lists only with IS
// NULL) and, but for lists, as name=value parameters.
func (o *Handler) queryables(c echo.Context) error {
	l, f, err := collectionRequest(c, routeParams(), false)
	if err != nil {
		return err
	}
	var props orderedProps
	props.add("geometry", map[string]any{"title": "geometry", "format": "geometry-multipolygon", "x-ogc-role": "primary-geometry"})
	for _, fl := range l.Fields {
		p := fieldSchema(fl)
		if fl.Type == "array" {
			p["description"] = fl.Description + " (a list: only IS NULL in filter)"
		}
		if fl.Name == l.Fields[0].Name {
			p["x-ogc-role"] = "id"
		}
		props.add(fl.Name, p)
	}
	return render(c, f, http.StatusOK, mediaSchema, map[string]any{
		"$schema":              "https://json-schema.org/draft/2019-09/schema",
		"$id":                  baseURL(c) + "/collections/" + l.Name + "/queryables",
		"type":                 "object",
		"title":                l.Title,
		"properties":           props,
		"additionalProperties": false,
	})
}

// schema is the JSON Schema of the collection's GeoJSON features.
func (o *Handler) schema(c echo.Context) error {
	l, f, err := collectionRequest(c, routeParams(), false)
	if err != nil {
		return err
	}
	var props orderedProps
	for _, fl := range l.Fields {
		props.add(fl.Name, fieldSchema(fl))
	}
	return render(c, f, http.StatusOK, mediaSchema, map[string]any{
		"$schema":  "https://json-schema.org/draft/2019-09/schema",
		"$id":      baseURL(c) + "/collections/" + l.Name + "/schema",
		"title":    l.Title,
		"type":     "object",
		"required": []string{"type", "geometry", "properties"},
		"properties": map[string]any{
			"type":       map[string]any{"type": "string", "enum": []string{"Feature"}},
			"id":         map[string]any{"type": "string", "description": "unit code (zones: zone id)"},
			"geometry":   map[string]any{"type": "object", "description": "GeoJSON MultiPolygon", "format": "geometry-multipolygon"},
			"properties": map[string]any{"type": "object", "properties": props},
		},
	})
}
