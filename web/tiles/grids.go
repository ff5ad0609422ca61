package tiles

// Grids (网格) in the style: thin dashed lines under every community from
// the grids' minzoom, and the selected community's grids outlined and, by
// the page, numbered. The page sets the filters (parent_code, code).

var (
	// GridLineColor draws every grid; GridSelectedColor the grids of the
	// selected community (the page's panel lists them).
	GridLineColor, GridSelectedColor = "#4a4a4a", "#1a5fb4"
)

// gridLayers are the grid lines over the community fills: dashed, so a
// grid edge is not read as a community boundary (white, solid).
func gridLayers() []any {
	return []any{
		// Invisible, but queryable: a click inside the selected
		// community's grids finds the grid.
		map[string]any{"id": "grids-fill", "type": "fill", "source": "grids", "source-layer": "grids",
			"paint": map[string]any{"fill-color": "#000000", "fill-opacity": 0}},
		map[string]any{"id": "grids-line", "type": "line", "source": "grids", "source-layer": "grids",
			"paint": map[string]any{"line-color": GridLineColor, "line-opacity": 0.85, "line-dasharray": []any{3, 2},
				"line-width": []any{"interpolate", []any{"linear"}, []any{"zoom"}, 13, 0.9, 17, 1.8}}},
		// The selected community's grids (filter on parent_code), under
		// the street and selection outlines.
		map[string]any{"id": "grids-selected-line", "type": "line", "source": "grids", "source-layer": "grids",
			"filter": []any{"==", []any{"get", "parent_code"}, ""},
			"paint":  map[string]any{"line-color": GridSelectedColor, "line-width": []any{"interpolate", []any{"linear"}, []any{"zoom"}, 13, 1.5, 17, 3}}},
	}
}

// selectedGridLayers outline a selected grid (filter on code), above the
// other lines.
func selectedGridLayers() []any {
	return []any{
		map[string]any{"id": "selected-grid-line", "type": "line", "source": "grids", "source-layer": "grids",
			"filter": []any{"==", []any{"get", "code"}, ""},
			"paint":  map[string]any{"line-color": "#ffd400", "line-width": 4}},
	}
}
