package tiles

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/web/param"
)

// in TileJSON and the style.
func tileBaseURL(c echo.Context) string {
	return c.Scheme() + "://" + c.Request().Host
}

// tileQueryString keeps ?profile= and ?at= for the URLs a TileJSON or style
// hands out.
func tileQueryString(c echo.Context) string {
	q := url.Values{}
	for _, k := range []string{"profile", "at", "scenario"} {
		if v := c.QueryParam(k); v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// TileJSON is a TileJSON 3.0.0 document.
type TileJSON struct {
	TileJSON     string        `json:"tilejson"`
	Name         string        `json:"name"`
	Description  string        `json:"description"`
	Version      string        `json:"version"`
	Attribution  string        `json:"attribution"`
	Scheme       string        `json:"scheme"`
	Tiles        []string      `json:"tiles"`
	MinZoom      int           `json:"minzoom"`
	MaxZoom      int           `json:"maxzoom"`
	Bounds       [4]float64    `json:"bounds"`
	Center       [3]float64    `json:"center"`
	VectorLayers []VectorLayer `json:"vector_layers"`
}

// VectorLayer describes a tile's source layer.
type VectorLayer struct {
	ID          string            `json:"id"`
	Description string            `json:"description"`
	MinZoom     int               `json:"minzoom"`
	MaxZoom     int               `json:"maxzoom"`
	Fields      map[string]string `json:"fields"`
}

// getTileJSON serves GET /tiles/{layer}.json.
func (h *Handler) getTileJSON(c echo.Context) error {
	name, ok := strings.CutSuffix(c.Param("file"), ".json")
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	l, ok := layers.ByName(name)
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("unknown layer %q", name))
	}
	p, day, err := h.profiles.ProfileAt(c)
	if err != nil {
		return err
	}
	scenario, err := param.Scenario(c)
	if err != nil {
		return err
	}
	desc := l.Description + " (profile " + p.Name + ", " + day.Format("2006-01-02")
	if scenario != 0 {
		desc += fmt.Sprintf(", scenario %d", scenario)
	}
	box, err := h.bounds(c, day)
	if err != nil {
		return err
	}
	fields := map[string]string{}
	for _, f := range layers.TileFields(l) {
		fields[f.Name] = f.MVTType + ": " + f.Description
	}
	minz := layers.TileMinZoom(l.Name)
	tj := TileJSON{
		TileJSON:    "3.0.0",
		Name:        l.Title,
		Description: desc + ")",
		Version:     "1.0.0",
		Attribution: "jiedao",
		Scheme:      "xyz",
		Tiles:       []string{tileBaseURL(c) + "/tiles/" + l.Name + "/{z}/{x}/{y}.mvt" + tileQueryString(c)},
		MinZoom:     minz,
		MaxZoom:     MaxZoomJSON,
		Bounds:      box,
		Center:      [3]float64{(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, float64(max(tileFitZoom(box), minz))},
		VectorLayers: []VectorLayer{{ID: l.Name, Description: l.Description, MinZoom: minz, MaxZoom: MaxZoomJSON,
			Fields: fields}},
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, tj)
}

// bounds is the extent of the units on day, or the whole Web Mercator
// world when there are none.
//
// Every page load asks for the style, and the extent is an aggregate over
// all units: it is kept for the last day and data version asked.
func (h *Handler) bounds(c echo.Context, day time.Time) ([4]float64, error) {
	ctx := c.Request().Context()
	dv, err := h.db.CurrentDataVersion(ctx)
	if err != nil {
		return [4]float64{}, err
	}
	key := boundsKey{day: day.Format(time.DateOnly), version: dv}
	h.boundsMu.Lock()
	last := h.lastBounds
	h.boundsMu.Unlock()
	if last.key == key {
		return last.box, nil
	}
	ext, err := h.layers.Extent(ctx, layers.ExtentQuery{At: day})
	if err != nil {
		return [4]float64{}, err
	}
	box := [4]float64{-180, -85.0511, 180, 85.0511}
	if ext.BBox != nil {
		box = *ext.BBox
	}
	h.boundsMu.Lock()
	h.lastBounds = keptBounds{key, box}
	h.boundsMu.Unlock()
	return box, nil
}

type boundsKey struct {
	day     string
	version int64
}

type keptBounds struct {
	key boundsKey
	box [4]float64
}

// tileFitZoom is the zoom at which a lon/lat box fits in about 1000×700 pixels.
func tileFitZoom(b [4]float64) int {
	w := math.Max(b[2]-b[0], 1e-6)
	y := func(lat float64) float64 {
		r := lat * math.Pi / 180
		return math.Log(math.Tan(math.Pi/4+r/2)) * 180 / math.Pi
	}
	h := math.Max(y(b[3])-y(b[1]), 1e-6)
	z := math.Min(math.Log2(360*1000/256/w), math.Log2(360*700/256/h))
	return int(math.Max(0, math.Min(float64(MaxZoomJSON), math.Floor(z))))
}
