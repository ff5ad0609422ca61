package tiles

// Barriers (roads, rivers, railways, walls) in the style, and a scenario's
// new boundaries marked by whether they follow one.

var (
	// BarrierColors are the line colours of barrier classes: roads in
	// browns (darker for larger), water blue, rail and walls grey, all
	// quieter than the status fills they are drawn over.
	BarrierColors = [][2]string{{"trunk", "#7f5a3a"}, {"primary", "#9c7656"}, {"secondary", "#b89a80"}, {"residential", "#cdb9a6"},
		{"alley", "#d9cbbd"}, {"river", "#5b9bd5"}, {"rail", "#4d4d4d"}, {"wall", "#8f8f8f"}}
	// NewBoundaryColors colour a scenario's new boundary lines: on a
	// barrier (what a street office can sign) and across blocks.
	NewBoundaryColors = map[string]string{"on_barrier": "#1a9850", "off_barrier": "#8b0000"}
)

// barrierWidths are line widths at zoom 12 and 16 per class.
var barrierWidths = map[string][2]float64{"trunk": {2.5, 6}, "primary": {2, 5}, "secondary": {1.2, 3.5}, "residential": {0.8, 2.5},
	"alley": {0.5, 1.8}, "river": {2.5, 6}, "rail": {1.2, 2.5}, "wall": {0.5, 1.5}}

// barrierLayers draw the barriers tiles: one line layer with class colours
// and widths, railways dashed on top (MapLibre cannot vary a dash by data).
func barrierLayers() []any {
	width := func(at int) []any {
		expr := []any{"match", []any{"get", "class"}}
		for _, c := range BarrierColors {
			expr = append(expr, c[0], barrierWidths[c[0]][at])
		}
		return append(expr, 1.0)
	}
	w := []any{"interpolate", []any{"linear"}, []any{"zoom"}, 12, width(0), 16, width(1)}
	return []any{
		map[string]any{"id": "barriers-line", "type": "line", "source": "barriers", "source-layer": "barriers",
			"filter": []any{"!=", []any{"get", "class"}, "rail"},
			"paint":  map[string]any{"line-color": styleMatch("class", BarrierColors, "#b0b0b0"), "line-width": w, "line-opacity": 0.9}},
		map[string]any{"id": "barriers-rail", "type": "line", "source": "barriers", "source-layer": "barriers",
			"filter": []any{"==", []any{"get", "class"}, "rail"},
			"paint":  map[string]any{"line-color": "#4d4d4d", "line-width": w, "line-dasharray": []any{3, 2}}},
	}
}

// newBoundaryLayers draw the page's "new-boundaries" GeoJSON (lines with
// on_barrier): solid green where a proposed boundary follows a barrier,
// dashed dark red where it crosses blocks. The source starts empty; the
// scenario view fills it from /map/api/scenario/{id}.
func newBoundaryLayers(sources map[string]any) []any {
	sources["new-boundaries"] = map[string]any{"type": "geojson", "data": map[string]any{"type": "FeatureCollection", "features": []any{}}}
	w := []any{"interpolate", []any{"linear"}, []any{"zoom"}, 10, 2, 15, 4.5}
	return []any{
		map[string]any{"id": "new-boundary-on", "type": "line", "source": "new-boundaries",
			"filter": []any{"==", []any{"get", "on_barrier"}, true},
			"paint":  map[string]any{"line-color": NewBoundaryColors["on_barrier"], "line-width": w}},
		map[string]any{"id": "new-boundary-off", "type": "line", "source": "new-boundaries",
			"filter": []any{"==", []any{"get", "on_barrier"}, false},
			"paint":  map[string]any{"line-color": NewBoundaryColors["off_barrier"], "line-width": w, "line-dasharray": []any{1.5, 1}}},
	}
}
