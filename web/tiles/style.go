package tiles

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/web/param"
)

// Map colours, shared by the style and the page's legend.
var (
	// StatusColors are the fill colours of unit statuses.
	StatusColors = [][2]string{{string(boundaries.Undersized), "#4e79a7"}, {string(boundaries.Normal), "#59a14f"},
		{string(boundaries.Oversized), "#e15759"}, {string(boundaries.Unknown), "#bab0ac"}}
	// StreetStatusOpacity is the fill opacity of streets coloured by their
	// own status below the communities' minzoom.
	StreetStatusOpacity = 0.55
	// ZoneColors are the colours of zone kinds.
	ZoneColors = [][2]string{{string(boundaries.Overlap), "#b07aa1"}, {string(boundaries.Gap), "#f28e2b"}, {string(boundaries.Unowned), "#edc948"},
		{string(boundaries.CrossesParent), "#ff00aa"}, {string(boundaries.Noncontiguous), "#76b7b2"}, {string(boundaries.Orphan), "#000000"}}
	// ProposedColor outlines a scenario's proposed units, RemovedColor
	// the live communities it removes.
	ProposedColor, RemovedColor = "#7a1fa2", "#d62728"
	// DensityStops are people per km² (a Beijing community ranges from a
	// few thousand in the outskirts to over 40,000 in the old town).
	DensityStops = [][2]any{{0, "#ffffcc"}, {2000, "#c7e9b4"}, {5000, "#7fcdbb"}, {10000, "#41b6c4"},
		{20000, "#1d91c0"}, {40000, "#225ea8"}, {80000, "#0c2c84"}}
)

func styleMatch(prop string, pairs [][2]string, fallback string) []any {
	expr := []any{"match", []any{"get", prop}}
	for _, p := range pairs {
		expr = append(expr, p[0], p[1])
	}
	return append(expr, fallback)
}

// tileSources are the style's vector sources with what their TileJSON
// says (tiles, zooms, bounds), so the map asks for tiles straight after the
// style: one round trip less before the first paint. /tiles/{layer}.json
// stays for other clients.
func (h *Handler) tileSources(c echo.Context, day time.Time) (map[string]any, error) {
	box, err := h.bounds(c, day)
	if err != nil {
		return nil, err
	}
	base, q := tileBaseURL(c), tileQueryString(c)
	sources := map[string]any{}
	for _, l := range []string{"districts", "streets", "communities", "grids", "zones", "barriers"} {
		sources[l] = map[string]any{"type": "vector", "tiles": []string{base + "/tiles/" + l + "/{z}/{x}/{y}.mvt" + q},
			"minzoom": layers.TileMinZoom(l), "maxzoom": MaxZoomJSON, "bounds": box, "attribution": "jiedao"}
	}
	return sources, nil
}

// getStyle serves GET /tiles/style.json: a MapLibre style over the four
// tile layers, with name labels as symbol layers (see labelLayers).
func (h *Handler) getStyle(c echo.Context) error {
	if _, err := h.profiles.Profile(c); err != nil {
		return err
	}
	day, err := param.At(c, "at")
	if err != nil {
		return err
	}
	if _, err := param.Scenario(c); err != nil {
		return err
	}
	base := tileBaseURL(c)
	sources, err := h.tileSources(c, day)
	if err != nil {
		return err
	}
	var styleLayers []any
	styleLayers = append(styleLayers, map[string]any{"id": "background", "type": "background", "paint": map[string]any{"background-color": "#f4f3ef"}})
	if h.basemap.URL != "" {
		sources["basemap"] = map[string]any{"type": "raster", "tiles": []string{h.basemap.URL}, "tileSize": 256,
			"attribution": h.basemap.Attribution}
		styleLayers = append(styleLayers, map[string]any{"id": "basemap", "type": "raster", "source": "basemap"})
	}
	density := []any{"interpolate", []any{"linear"}, []any{"coalesce", []any{"get", "density"}, 0}}
	for _, st := range DensityStops {
		density = append(density, st[0], st[1])
	}
	// Communities are only in tiles from their minzoom: below it streets
	// show their own status, so problems are visible at a city's landing
	// zoom, and fade out while the community fills fade in.
	cz := float64(layers.TileMinZoom("communities"))
	streetOpacity := []any{"interpolate", []any{"linear"}, []any{"zoom"}, cz - 0.5, StreetStatusOpacity, cz + 0.5, 0}
	communityOpacity := []any{"interpolate", []any{"linear"}, []any{"zoom"}, cz, 0.3, cz + 0.5, 0.6}
	styleLayers = append(styleLayers,
		map[string]any{"id": "streets-status", "type": "fill", "source": "streets", "source-layer": "streets",
			"maxzoom": cz + 0.5,
			"paint":   map[string]any{"fill-color": styleMatch("status", StatusColors, "#bab0ac"), "fill-opacity": streetOpacity}},
		// Invisible, but queryable: a click inside a street (where no
		// community is drawn, e.g. below the communities' minzoom) finds it.
		map[string]any{"id": "streets-fill", "type": "fill", "source": "streets", "source-layer": "streets",
			"paint": map[string]any{"fill-color": "#000000", "fill-opacity": 0}},
		map[string]any{"id": "communities-fill", "type": "fill", "source": "communities", "source-layer": "communities",
			"paint": map[string]any{"fill-color": styleMatch("status", StatusColors, "#bab0ac"), "fill-opacity": communityOpacity}},
		map[string]any{"id": "communities-density", "type": "fill", "source": "communities", "source-layer": "communities",
			"layout": map[string]any{"visibility": "none"},
			"paint":  map[string]any{"fill-color": density, "fill-opacity": 0.75}},
		map[string]any{"id": "communities-line", "type": "line", "source": "communities", "source-layer": "communities",
			"paint": map[string]any{"line-color": "#ffffff", "line-width": []any{"interpolate", []any{"linear"}, []any{"zoom"}, 10, 0.3, 15, 1.2}}})
	styleLayers = append(styleLayers, barrierLayers()...)
	styleLayers = append(styleLayers, gridLayers()...)
	styleLayers = append(styleLayers,
		map[string]any{"id": "zones-fill", "type": "fill", "source": "zones", "source-layer": "zones",
			"paint": map[string]any{"fill-color": styleMatch("kind", ZoneColors, "#000000"), "fill-opacity": 0.7}},
		map[string]any{"id": "zones-line", "type": "line", "source": "zones", "source-layer": "zones",
			"paint": map[string]any{"line-color": styleMatch("kind", ZoneColors, "#000000"), "line-width": []any{"interpolate", []any{"linear"}, []any{"zoom"}, 8, 3, 14, 2},
				"line-dasharray": []any{2, 1}}},
		map[string]any{"id": "streets-line", "type": "line", "source": "streets", "source-layer": "streets",
			"paint": map[string]any{"line-color": "#555555", "line-width": []any{"interpolate", []any{"linear"}, []any{"zoom"}, 8, 0.6, 14, 2}}},
		map[string]any{"id": "districts-line", "type": "line", "source": "districts", "source-layer": "districts",
			"paint": map[string]any{"line-color": "#222222", "line-width": []any{"interpolate", []any{"linear"}, []any{"zoom"}, 6, 1.2, 14, 3.5}}},
		// A scenario's parts: a thick dashed outline, so a proposed
		// boundary is not read as an adopted one. The live tiles have no
		// proposed units, so on the live map these layers draw nothing.
		map[string]any{"id": "proposed-line", "type": "line", "source": "communities", "source-layer": "communities",
			"filter": []any{"==", []any{"get", "proposed"}, true},
			"paint": map[string]any{"line-color": ProposedColor, "line-width": []any{"interpolate", []any{"linear"}, []any{"zoom"}, 10, 1.5, 15, 3.5},
				"line-dasharray": []any{2, 1.5}}},
		// The communities a scenario removes, outlined on the live map
		// (the page sets the filter to their codes).
		map[string]any{"id": "removed-line", "type": "line", "source": "communities", "source-layer": "communities",
			"filter": []any{"in", []any{"get", "code"}, []any{"literal", []string{}}},
			"paint":  map[string]any{"line-color": RemovedColor, "line-width": 3, "line-dasharray": []any{1, 1}}},
		map[string]any{"id": "selected-line", "type": "line", "source": "communities", "source-layer": "communities",
			"filter": []any{"==", []any{"get", "code"}, ""},
			"paint":  map[string]any{"line-color": "#ffd400", "line-width": 4}},
		map[string]any{"id": "selected-street-line", "type": "line", "source": "streets", "source-layer": "streets",
			"filter": []any{"==", []any{"get", "code"}, ""},
			"paint":  map[string]any{"line-color": "#ffd400", "line-width": 4}},
	)
	styleLayers = append(styleLayers, selectedGridLayers()...)
	styleLayers = append(styleLayers, newBoundaryLayers(sources)...)
	styleLayers = append(styleLayers, labelLayers(sources, base, c.QueryParam("at"))...)
	styleLayers = append(styleLayers, proposedLabel())
	style := map[string]any{
		"version": 8,
		"name":    "jiedao",
		"glyphs":  base + "/tiles/glyphs/{fontstack}/{range}.pbf",
		"sources": sources,
		"layers":  styleLayers,
		"metadata": map[string]any{
			"jiedao:status_colors": StatusColors,
			"jiedao:zone_colors":   ZoneColors,
			"jiedao:density_stops": DensityStops,
			"jiedao:minzoom":       layers.TileMinZooms(),
			"jiedao:generated":     time.Now().UTC().Format(time.RFC3339),
		},
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, style)
}

// labelLayers adds the name labels: symbol layers, so MapLibre drops the
// labels that collide. Their points are GeoJSON from /map/api/places (one
// ST_PointOnSurface per unit), not the polygons in the tiles: a polygon's
// label is placed per tile, so a street crossing tiles would be named
// once in each. Like the places, the labels follow ?at= but not a
// scenario's redrawn boundaries. Text is drawn with the page's local CJK
// fonts (localIdeographFontFamily); see getGlyphs for the rest.
func labelLayers(sources map[string]any, base, at string) []any {
	q := "?format=geojson"
	if at != "" {
		q += "&at=" + url.QueryEscape(at)
	}
	levels := []struct {
		layer       string
		minz, maxz  float64
		size, halo  float64
		color, font string
	}{
		// Communities from street zoom, streets from district zoom,
		// districts until the communities are named.
		{"communities", 13, 24, 11, 1.2, "#333333", GlyphFont},
		{"streets", float64(layers.TileMinZoom("streets") + 2), 15, 12, 1.5, "#222222", GlyphFont},
		{"districts", 0, 12.5, 15, 2, "#111111", GlyphFontBold},
	}
	var out []any
	for _, l := range levels {
		src := "labels-" + l.layer
		var data any = base + "/map/api/places/" + l.layer + q
		if l.layer == "communities" {
			// One point per community grows with the city: the page
			// loads them when the map first reaches their zoom.
			data = map[string]any{"type": "FeatureCollection", "features": []any{}}
		}
		sources[src] = map[string]any{"type": "geojson", "data": data}
		// Later layers are placed first, so districts win over streets
		// and streets over communities where they collide.
		out = append(out, map[string]any{"id": l.layer + "-label", "type": "symbol", "source": src,
			"minzoom": l.minz, "maxzoom": l.maxz,
			"layout": map[string]any{"text-field": []any{"get", "name"}, "text-font": []string{l.font},
				"text-size": l.size, "symbol-placement": "point", "text-padding": 4, "text-max-width": 8},
			"paint": map[string]any{"text-color": l.color, "text-halo-color": "#ffffff", "text-halo-width": l.halo}})
	}
	return out
}

// proposedLabel marks a scenario's parts "拟调整" (proposed) under their
// names. The polygons' own label points are per tile, which is fine for
// parts as small as a community; only the ideographs are drawn (see
// getGlyphs), so the text is Chinese only.
func proposedLabel() any {
	return map[string]any{"id": "proposed-label", "type": "symbol", "source": "communities", "source-layer": "communities",
		"filter": []any{"==", []any{"get", "proposed"}, true}, "minzoom": 12,
		"layout": map[string]any{"text-field": "拟调整", "text-font": []string{GlyphFont}, "text-size": 11,
			"text-offset": []any{0, 1.3}, "symbol-placement": "point", "text-padding": 2},
		"paint": map[string]any{"text-color": ProposedColor, "text-halo-color": "#ffffff", "text-halo-width": 1.5}}
}
