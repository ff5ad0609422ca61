// Package mapui serves the planner's map: the page, its files (embedded,
// precompressed) and the small JSON endpoints it reads beside the tiles.
// HTTP only: the data come from the feature packages.
package mapui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/web/param"
	"github.com/jiedao/jiedao/web/tiles"
)

// Config configures the map page.
type Config struct {
	// BasemapURL is an optional XYZ raster template ({z}/{x}/{y}) drawn
	// under the boundaries. It must be WGS84/CGCS2000-aligned: GCJ-02
	// basemaps (most Chinese web maps) are offset by several hundred
	// metres.
	BasemapURL         string
	BasemapAttribution string
}

// ConfigFromEnv reads JIEDAO_BASEMAP_URL and JIEDAO_BASEMAP_ATTRIBUTION.
func ConfigFromEnv() Config {
	return Config{
		BasemapURL:         strings.TrimSpace(os.Getenv("JIEDAO_BASEMAP_URL")),
		BasemapAttribution: strings.TrimSpace(os.Getenv("JIEDAO_BASEMAP_ATTRIBUTION")),
	}
}

// The page, its script and MapLibre GL JS are embedded so the map works
// without internet.
//
//go:embed static
var staticFS embed.FS

// staticFiles are the embedded files, read, hashed and compressed once per
// process (the first server starts it, the first request waits for it).
var staticFiles = sync.OnceValues(loadStatic)

// mapFiles is the map page and its files, ready to serve.
type mapFiles struct {
	page *encoded
	// byPath maps a path under /static/ to its file: the content-hashed name
	// (vendor/maplibre-gl.<hash>.js) the page links to, and the plain one.
	byPath map[string]*encoded
	hashed map[string]bool
}

// loadStatic reads every embedded file and links the page to their
// content-hashed names, so a browser may keep them for a year
// (immutable) and a new build still reaches it at once: new bytes, a new
// name. The page itself is revalidated (no-cache, ETag → 304).
func loadStatic() (*mapFiles, error) {
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	m := &mapFiles{byPath: map[string]*encoded{}, hashed: map[string]bool{}}
	var page []byte
	links := map[string]string{}
	err = fs.WalkDir(static, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		if name == "index.html" {
			page = b
			return nil
		}
		sum := sha256.Sum256(b)
		hash := hex.EncodeToString(sum[:6])
		ext := path.Ext(name)
		ctype := mime.TypeByExtension(ext)
		if ext == ".ico" { // not in Go's table, and the system's may lack it
			ctype = "image/x-icon"
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		f, err := precompress(ctype, b, hash)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		hashed := strings.TrimSuffix(name, ext) + "." + hash + ext
		m.byPath[name], m.byPath[hashed], m.hashed[hashed] = f, f, true
		links[`"/static/`+name+`"`] = `"/static/` + hashed + `"`
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	for from, to := range links {
		page = bytes.ReplaceAll(page, []byte(from), []byte(to))
	}
	sum := sha256.Sum256(page)
	if m.page, err = precompress(echo.MIMETextHTMLCharsetUTF8, page, hex.EncodeToString(sum[:8])); err != nil {
		return nil, fmt.Errorf("static files: index.html: %w", err)
	}
	return m, nil
}

// Handler serves the map page and its endpoints.
type Handler struct {
	db       *store.Store
	layers   *layers.Reader
	profiles *param.Profiles
	cfg      Config
}

// New is the map's handler over the application's store, layer reader and
// profile cache.
func New(st *store.Store, lr *layers.Reader, profiles *param.Profiles, cfg Config) *Handler {
	return &Handler{db: st, layers: lr, profiles: profiles, cfg: cfg}
}

// Routes registers the page, its files and /map/api/*.
func (s *Handler) Routes(e *echo.Echo) {
	go staticFiles() // start compressing now, not on the first request
	e.GET("/", func(c echo.Context) error {
		m, err := staticFiles()
		if err != nil {
			return err
		}
		return m.page.serve(c, "no-cache")
	})
	e.GET("/static/*", func(c echo.Context) error {
		m, err := staticFiles()
		if err != nil {
			return err
		}
		name := c.Param("*")
		f := m.byPath[name]
		if f == nil {
			return echo.NewHTTPError(http.StatusNotFound, "no static file "+strconv.Quote(name))
		}
		if m.hashed[name] {
			return f.serve(c, "public, max-age=31536000, immutable")
		}
		// A plain name (scripts that link MapLibre directly): revalidated.
		return f.serve(c, "no-cache")
	})
	// Browsers ask for /favicon.ico whatever the page links.
	e.GET("/favicon.ico", func(c echo.Context) error {
		m, err := staticFiles()
		if err != nil {
			return err
		}
		return m.byPath["favicon.ico"].serve(c, "public, max-age=86400")
	})
	e.GET("/map/api/config", s.getMapConfig)
	e.GET("/map/api/summary", s.getMapSummary)
	e.GET("/map/api/findings", s.getMapFindings)
	e.GET("/map/api/disputes", s.getMapDisputes)
	e.GET("/map/api/workload", s.getMapWorkload)
	e.GET("/map/api/profile", s.getMapProfile)
	e.GET("/map/api/history/:code", s.getMapHistory)
	e.GET("/map/api/places/:layer", s.getMapPlaces)
	e.GET("/map/api/search", s.getMapSearch)
	e.GET("/map/api/extent", s.getMapExtent)
	e.GET("/map/api/unit/:code", s.getMapUnit)
	e.GET("/map/api/scenario/:id", s.getMapScenario)
}

// getMapUnit is what the panel shows of a unit chosen without a click on
// the map (a finding, a search hit, #unit= in the address): its fields as
// the API gives them under ?profile=&at=, its parent and grandparent, and a
// community's grids.
func (s *Handler) getMapUnit(c echo.Context) error {
	p, day, err := s.profiles.ProfileAt(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	run, err := s.layers.Run(ctx, p, day, 0)
	if err != nil {
		return err
	}
	d, err := s.layers.Unit(ctx, c.Param("code"), day, run, false)
	if err != nil {
		return param.APIError(err)
	}
	parents, err := s.layers.Ancestors(ctx, c.Param("code"), day)
	if err != nil {
		return err
	}
	// A community's grids, for the panel's list and numbers: a few rows,
	// asked for with the selection, never with the map.
	var u struct{ Level boundaries.Level }
	grids := []layers.GridItem{}
	if json.Unmarshal(d.JSON, &u) == nil && u.Level == boundaries.Community {
		if grids, err = s.layers.GridsOf(ctx, c.Param("code"), day, run); err != nil {
			return err
		}
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, map[string]any{"unit": json.RawMessage(d.JSON), "parents": parents, "grids": grids})
}

// getMapConfig tells the page what it cannot know by itself.
func (s *Handler) getMapConfig(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{
		"profiles":            analysis.ProfileNames(),
		"default_profile":     analysis.DefaultProfile,
		"today":               boundaries.Today().Format("2006-01-02"),
		"basemap":             s.cfg.BasemapURL != "",
		"minzoom":             layers.TileMinZooms(),
		"status_colors":       tiles.StatusColors,
		"zone_colors":         tiles.ZoneColors,
		"density_stops":       tiles.DensityStops,
		"proposed_color":      tiles.ProposedColor,
		"removed_color":       tiles.RemovedColor,
		"barrier_colors":      tiles.BarrierColors,
		"grid_colors":         map[string]string{"line": tiles.GridLineColor, "selected": tiles.GridSelectedColor},
		"new_boundary_colors": tiles.NewBoundaryColors,
	})
}

// getMapProfile returns the profile JSON (thresholds for the histogram).
func (s *Handler) getMapProfile(c echo.Context) error {
	p, err := s.profiles.Profile(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// getMapHistory lists every version of a unit, oldest first.
func (s *Handler) getMapHistory(c echo.Context) error {
	vs, err := units.History(c.Request().Context(), s.db, c.Param("code"))
	if errors.Is(err, boundaries.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "no unit with code "+strconv.Quote(c.Param("code")))
	}
	if err != nil {
		return err
	}
	// The map shows versions without the approval that retired them.
	us := make([]units.Unit, len(vs))
	for i, v := range vs {
		us[i] = v.Unit
	}
	return c.JSON(http.StatusOK, us)
}

// getMapPlaces lists label points of a level's units on ?at=, as JSON or
// (?format=geojson) as GeoJSON for the map's label layers.
func (s *Handler) getMapPlaces(c echo.Context) error {
	lvl, err := boundaries.ParseLevel(c.Param("layer"))
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, err.Error())
	}
	// The label layers are districts, streets and communities; grids (tens
	// of thousands) are numbered from the selected community's answer.
	if lvl == boundaries.Grid {
		return echo.NewHTTPError(http.StatusNotFound, "no label points for grids: select their community (/map/api/unit/{code})")
	}
	day, err := param.At(c, "at")
	if err != nil {
		return err
	}
	ps, err := units.Places(c.Request().Context(), s.db, lvl, day)
	if err != nil {
		return err
	}
	if c.QueryParam("format") == "geojson" {
		return c.JSON(http.StatusOK, placesGeoJSON(ps))
	}
	return c.JSON(http.StatusOK, ps)
}

// placesGeoJSON is the places as points with code and name: the source of
// the style's label layers, which MapLibre reads as GeoJSON.
func placesGeoJSON(ps []units.Place) map[string]any {
	fs := make([]any, len(ps))
	for i, p := range ps {
		fs[i] = map[string]any{"type": "Feature",
			"geometry":   map[string]any{"type": "Point", "coordinates": [2]float64{p.Lon, p.Lat}},
			"properties": map[string]any{"code": p.Code, "name": p.Name}}
	}
	return map[string]any{"type": "FeatureCollection", "features": fs}
}

// getMapSearch finds units by code prefix or name (?q=, ?at=).
func (s *Handler) getMapSearch(c echo.Context) error {
	day, err := param.At(c, "at")
	if err != nil {
		return err
	}
	ps, err := units.Search(c.Request().Context(), s.db, c.QueryParam("q"), day, 20)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ps)
}

// getMapExtent is the bounding box of ?codes=a,b on ?at=: where the map
// zooms for a finding.
func (s *Handler) getMapExtent(c echo.Context) error {
	day, err := param.At(c, "at")
	if err != nil {
		return err
	}
	var codes []string
	for _, code := range strings.Split(c.QueryParam("codes"), ",") {
		if code = strings.TrimSpace(code); code != "" {
			codes = append(codes, code)
		}
	}
	if len(codes) == 0 {
		return param.BadRequest("codes", "give one or more unit codes, comma separated")
	}
	ext, err := s.layers.Extent(c.Request().Context(), layers.ExtentQuery{Codes: codes, At: day})
	if err != nil {
		return err
	}
	if ext.BBox == nil {
		return echo.NewHTTPError(http.StatusNotFound, "no units with codes "+strings.Join(codes, ","))
	}
	return c.JSON(http.StatusOK, map[string]any{"bbox": *ext.BBox})
}
