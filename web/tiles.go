package web

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/labstack/echo/v4"
)

// TilesConfig configures this part of the server.
type TilesConfig struct {
	// CacheBytes bounds the in-memory tile cache (raw + gzipped bytes);
	// 0 means the default, negative disables the cache.
	CacheBytes int64
}

// DefaultTileCacheMB is the tile cache size without JIEDAO_TILE_CACHE_MB.
const DefaultTileCacheMB = 256

// TilesConfigFromEnv reads JIEDAO_TILE_CACHE_MB (megabytes, default 256;
// 0 disables the cache).
func TilesConfigFromEnv() TilesConfig {
	v := strings.TrimSpace(os.Getenv("JIEDAO_TILE_CACHE_MB"))
	if v == "" {
		return TilesConfig{CacheBytes: DefaultTileCacheMB << 20}
	}
	mb, err := strconv.ParseFloat(v, 64)
	if err != nil || mb < 0 || math.IsInf(mb, 0) {
		slog.Warn("JIEDAO_TILE_CACHE_MB is not a size in MB; using the default", "value", v, "default", DefaultTileCacheMB)
		return TilesConfig{CacheBytes: DefaultTileCacheMB << 20}
	}
	if mb == 0 {
		return TilesConfig{CacheBytes: -1}
	}
	return TilesConfig{CacheBytes: int64(mb * (1 << 20))}
}

// tileFormat is part of every ETag: bump it when the tile SQL changes, so
// clients revalidating after an upgrade do not keep old bytes under an
// unchanged data version.
const tileFormat = "mvt-2"

// TileMaxZoomJSON is the maxzoom advertised in TileJSON: at z16 a pixel is
// under 2 m, finer than any boundary file; clients overzoom beyond it (the
// endpoint still serves up to z22).
const TileMaxZoomJSON = 16

// TileStats are the tile cache counters, for /metrics.
type TileStats struct {
	Hits        int64 // served from the cache
	Misses      int64 // built in PostGIS
	NotModified int64 // 304 on If-None-Match
	Entries     int64
	Bytes       int64
}

// tileState is the tile cache and its counters, one per application.
type tileState struct {
	s      *Server
	cache  *tileCache
	hits   atomic.Int64
	misses atomic.Int64
	n304   atomic.Int64
	flight tileFlightGroup
}

// TileStats reports the tile cache counters.
func (s *Server) TileStats() TileStats {
	ts := s.tiles
	if ts == nil {
		return TileStats{}
	}
	st := TileStats{Hits: ts.hits.Load(), Misses: ts.misses.Load(), NotModified: ts.n304.Load()}
	st.Entries, st.Bytes = ts.cache.size()
	return st
}

func (s *Server) routesTiles(e *echo.Echo) {
	capacity := s.cfg.Tiles.CacheBytes
	if capacity == 0 {
		capacity = DefaultTileCacheMB << 20
	}
	ts := &tileState{s: s, cache: newTileCache(capacity)}
	s.tiles = ts
	e.GET("/tiles/style.json", s.getStyle)
	e.GET("/tiles/:file", s.getTileJSON)
	e.GET("/tiles/:layer/:z/:x/:file", ts.getTile)
}

// tileKey identifies an encoded tile: the data version makes every write
// (imports, count updates, analysis runs) a different key, so the cache is
// never stale and needs no purge.
type tileKey struct {
	layer   string
	z, x, y int
	profile string
	at      string
	version int64
	// scenario is 0 for the live boundaries.
	scenario int64
}

func (k tileKey) etag() string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%d/%d/%d|%s|%s|%d|%d", tileFormat, k.layer, k.z, k.x, k.y, k.profile, k.at, k.version, k.scenario))
	return hex.EncodeToString(h[:12])
}

// tileEntry is an encoded tile; raw is nil for an empty tile.
type tileEntry struct {
	raw, gz []byte
	etag    string
}

func (e *tileEntry) cost() int64 { return int64(len(e.raw)+len(e.gz)) + 200 }

// parseTileCoords reads z/x/y from the route; file is "{y}.mvt" or
// "{y}.pbf".
func parseTileCoords(c echo.Context) (z, x, y int, err error) {
	file := c.Param("file")
	ys, ok := strings.CutSuffix(file, ".mvt")
	if !ok {
		if ys, ok = strings.CutSuffix(file, ".pbf"); !ok {
			return 0, 0, 0, echo.NewHTTPError(http.StatusNotFound, "tiles end in .mvt or .pbf")
		}
	}
	if z, err = strconv.Atoi(c.Param("z")); err != nil {
		return 0, 0, 0, badRequest("z", "not an integer")
	}
	if x, err = strconv.Atoi(c.Param("x")); err != nil {
		return 0, 0, 0, badRequest("x", "not an integer")
	}
	if y, err = strconv.Atoi(ys); err != nil {
		return 0, 0, 0, badRequest("y", "not an integer")
	}
	if z < 0 || z > layers.MaxTileZoom {
		return 0, 0, 0, badRequest("z", fmt.Sprintf("%d is outside 0–%d", z, layers.MaxTileZoom))
	}
	if !layers.ValidTile(z, x, y) {
		return 0, 0, 0, badRequest("x/y", fmt.Sprintf("%d/%d is outside the %d×%d grid of zoom %d", x, y, 1<<z, 1<<z, z))
	}
	return z, x, y, nil
}

// getTile serves GET /tiles/{layer}/{z}/{x}/{y}.mvt. The warm path (a
// cached tile or a 304) reads only memory: the data version is kept in
// memory by Store.Watch, so no database round trip is needed to know the
// cached bytes are current.
func (ts *tileState) getTile(c echo.Context) error {
	s := ts.s
	l, ok := layers.ByName(c.Param("layer"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("unknown layer %q", c.Param("layer")))
	}
	z, x, y, err := parseTileCoords(c)
	if err != nil {
		return err
	}
	p, day, err := s.profileAt(c)
	if err != nil {
		return err
	}
	scenario, err := scenarioParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ver, err := s.db.CurrentDataVersion(ctx)
	if err != nil {
		return fmt.Errorf("tile: data version: %w", err)
	}
	key := tileKey{layer: l.Name, z: z, x: x, y: y, profile: p.Name, at: day.Format("2006-01-02"), version: ver, scenario: scenario}
	gz := tileAcceptsGzip(c.Request())
	if ts.notModified(c, key.etag(), gz) {
		return nil
	}
	if e, ok := ts.cache.get(key); ok {
		ts.hits.Add(1)
		if gz && len(e.raw) > 0 && e.gz == nil {
			// The first hit that wants gzip compresses, once; entries
			// are immutable, so a new one replaces the old.
			zb, err := tileGzip(e.raw)
			if err != nil {
				return fmt.Errorf("tile %s/%d/%d/%d: gzip: %w", l.Name, z, x, y, err)
			}
			e = &tileEntry{raw: e.raw, gz: zb, etag: e.etag}
			ts.cache.put(key, e)
		}
		return tileWrite(c, e, gz, "hit")
	}
	// Miss: the analysis run may have to be made first, which bumps the
	// data version; the version is read again after it so the tile is
	// stored under the key the next request will look for. Reading the
	// version before querying the tile means the bytes are never older
	// than their key.
	run, err := s.layers.Run(ctx, p, day, scenario)
	if err != nil {
		return err
	}
	if key.version, err = s.db.CurrentDataVersion(ctx); err != nil {
		return fmt.Errorf("tile: data version: %w", err)
	}
	if ts.notModified(c, key.etag(), gz) {
		return nil
	}
	e, shared, err := ts.flight.do(key, func() (*tileEntry, error) {
		if e, ok := ts.cache.get(key); ok {
			return e, nil
		}
		// Waiters share this query, so it must not die with the first
		// client's connection.
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		raw, err := s.layers.Tile(qctx, l, run, scenario != 0, day, z, x, y)
		if err != nil {
			return nil, err
		}
		// A miss is answered uncompressed: gzip costs about as much as
		// the query itself (measured: cold/raw-SQL time 1.49 → 1.13), so
		// cold tiles go out as fast as PostGIS makes them and the
		// compressed copy is made on the first hit that asks for it.
		e := &tileEntry{raw: raw, etag: key.etag()}
		ts.cache.put(key, e)
		return e, nil
	})
	if err != nil {
		return err
	}
	if gz && len(e.raw) > 0 && e.gz == nil && !ts.cache.enabled() {
		// Without a cache there is no later hit to compress on.
		zb, err := tileGzip(e.raw)
		if err != nil {
			return fmt.Errorf("tile %s/%d/%d/%d: gzip: %w", l.Name, z, x, y, err)
		}
		e = &tileEntry{raw: e.raw, gz: zb, etag: e.etag}
	}
	state := "miss"
	if shared {
		state = "shared"
	}
	ts.misses.Add(1)
	return tileWrite(c, e, gz, state)
}

// tileETag is the ETag of one representation: gzip and identity bytes
// differ, so their strong ETags must too.
func tileETag(tag string, gz bool) string {
	if gz {
		return `"` + tag + `-gz"`
	}
	return `"` + tag + `"`
}

// notModified answers 304 when If-None-Match names the current ETag.
func (ts *tileState) notModified(c echo.Context, tag string, gz bool) bool {
	inm := c.Request().Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == `"`+tag+`"` || t == `"`+tag+`-gz"` {
			h := c.Response().Header()
			h.Set("ETag", tileETag(tag, gz))
			h.Set("Cache-Control", "no-cache")
			h.Set("Vary", "Accept-Encoding")
			ts.n304.Add(1)
			c.NoContent(http.StatusNotModified) //nolint:errcheck // the client is gone if this fails
			return true
		}
	}
	return false
}

func tileWrite(c echo.Context, e *tileEntry, gz bool, state string) error {
	h := c.Response().Header()
	gz = gz && e.gz != nil
	h.Set("ETag", tileETag(e.etag, gz))
	// no-cache: the browser revalidates every time (a cheap 304), so an
	// edit shows on the next request instead of after some max-age.
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Encoding")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("X-Tile-Cache", state)
	if len(e.raw) == 0 {
		return c.NoContent(http.StatusNoContent)
	}
	body := e.raw
	if gz {
		h.Set("Content-Encoding", "gzip")
		body = e.gz
	}
	return c.Blob(http.StatusOK, "application/vnd.mapbox-vector-tile", body)
}

func tileAcceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && k == "q" {
				q, err := strconv.ParseFloat(v, 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}

func tileGzip(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tileCache is a byte-bounded LRU, sharded so concurrent tile requests do
// not queue on one lock.
type tileCache struct {
	seed   maphash.Seed
	shards []*cacheShard
}

type cacheShard struct {
	mu    sync.Mutex
	max   int64
	used  int64
	order *list.List // front = most recent; values are *cacheItem
	items map[tileKey]*list.Element
}

type cacheItem struct {
	key   tileKey
	entry *tileEntry
}

const cacheShards = 16

// newTileCache makes a cache of at most maxBytes; maxBytes < 0 keeps
// nothing.
func newTileCache(maxBytes int64) *tileCache {
	c := &tileCache{seed: maphash.MakeSeed()}
	for range cacheShards {
		c.shards = append(c.shards, &cacheShard{max: max(maxBytes, 0) / cacheShards, order: list.New(), items: map[tileKey]*list.Element{}})
	}
	return c
}

func (c *tileCache) enabled() bool { return c.shards[0].max > 0 }

func (c *tileCache) shard(k tileKey) *cacheShard {
	return c.shards[maphash.Comparable(c.seed, k)%cacheShards]
}

func (c *tileCache) get(k tileKey) (*tileEntry, bool) {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	el, ok := sh.items[k]
	if !ok {
		return nil, false
	}
	sh.order.MoveToFront(el)
	return el.Value.(*cacheItem).entry, true
}

func (c *tileCache) put(k tileKey, e *tileEntry) {
	sh := c.shard(k)
	cost := e.cost()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if cost > sh.max {
		return
	}
	if el, ok := sh.items[k]; ok {
		sh.used += cost - el.Value.(*cacheItem).entry.cost()
		el.Value.(*cacheItem).entry = e
		sh.order.MoveToFront(el)
	} else {
		sh.items[k] = sh.order.PushFront(&cacheItem{key: k, entry: e})
		sh.used += cost
	}
	// Entries of older data versions are never asked for again; LRU
	// order pushes them out first.
	for sh.used > sh.max {
		el := sh.order.Back()
		it := el.Value.(*cacheItem)
		sh.order.Remove(el)
		delete(sh.items, it.key)
		sh.used -= it.entry.cost()
	}
}

func (c *tileCache) size() (entries, used int64) {
	for _, sh := range c.shards {
		sh.mu.Lock()
		entries += int64(len(sh.items))
		used += sh.used
		sh.mu.Unlock()
	}
	return entries, used
}

// tileFlightGroup makes concurrent misses for the same tile share one query
// (a map opening makes many clients ask for the same tiles at once).
type tileFlightGroup struct {
	mu    sync.Mutex
	calls map[tileKey]*tileFlightCall
}

type tileFlightCall struct {
	done  chan struct{}
	entry *tileEntry
	err   error
}

func (g *tileFlightGroup) do(k tileKey, f func() (*tileEntry, error)) (*tileEntry, bool, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[tileKey]*tileFlightCall{}
	}
	if call, ok := g.calls[k]; ok {
		g.mu.Unlock()
		<-call.done
		return call.entry, true, call.err
	}
	call := &tileFlightCall{done: make(chan struct{})}
	g.calls[k] = call
	g.mu.Unlock()
	call.entry, call.err = f()
	g.mu.Lock()
	delete(g.calls, k)
	g.mu.Unlock()
	close(call.done)
	return call.entry, false, call.err
}

// tileBaseURL is the scheme and host the request came to, for absolute URLs
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
func (s *Server) getTileJSON(c echo.Context) error {
	name, ok := strings.CutSuffix(c.Param("file"), ".json")
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	l, ok := layers.ByName(name)
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("unknown layer %q", name))
	}
	p, day, err := s.profileAt(c)
	if err != nil {
		return err
	}
	scenario, err := scenarioParam(c)
	if err != nil {
		return err
	}
	desc := l.Description + " (profile " + p.Name + ", " + day.Format("2006-01-02")
	if scenario != 0 {
		desc += fmt.Sprintf(", scenario %d", scenario)
	}
	ext, err := s.layers.Extent(c.Request().Context(), layers.ExtentQuery{At: day})
	if err != nil {
		return err
	}
	box := [4]float64{-180, -85.0511, 180, 85.0511}
	if ext.BBox != nil {
		box = *ext.BBox
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
		MaxZoom:     TileMaxZoomJSON,
		Bounds:      box,
		Center:      [3]float64{(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, float64(max(tileFitZoom(box), minz))},
		VectorLayers: []VectorLayer{{ID: l.Name, Description: l.Description, MinZoom: minz, MaxZoom: TileMaxZoomJSON,
			Fields: fields}},
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, tj)
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
	return int(math.Max(0, math.Min(float64(TileMaxZoomJSON), math.Floor(z))))
}

// Map colours, shared by the style and the page's legend.
var (
	mapStatusColors = [][2]string{{string(boundaries.Undersized), "#4e79a7"}, {string(boundaries.Normal), "#59a14f"},
		{string(boundaries.Oversized), "#e15759"}, {string(boundaries.Unknown), "#bab0ac"}}
	mapZoneColors = [][2]string{{string(boundaries.Overlap), "#b07aa1"}, {string(boundaries.Gap), "#f28e2b"},
		{string(boundaries.CrossesParent), "#ff00aa"}, {string(boundaries.Noncontiguous), "#76b7b2"}, {string(boundaries.Orphan), "#000000"}}
	// mapDensityStops are people per km² (a Beijing community ranges from a
	// few thousand in the outskirts to over 40,000 in the old town).
	mapDensityStops = [][2]any{{0, "#ffffcc"}, {2000, "#c7e9b4"}, {5000, "#7fcdbb"}, {10000, "#41b6c4"},
		{20000, "#1d91c0"}, {40000, "#225ea8"}, {80000, "#0c2c84"}}
)

func styleMatch(prop string, pairs [][2]string, fallback string) []any {
	expr := []any{"match", []any{"get", prop}}
	for _, p := range pairs {
		expr = append(expr, p[0], p[1])
	}
	return append(expr, fallback)
}

// getStyle serves GET /tiles/style.json: a MapLibre style over the four
// tile layers. It has no symbol layers, so it needs no glyph server; the
// page draws Chinese labels as HTML with local fonts.
func (s *Server) getStyle(c echo.Context) error {
	if _, err := s.profile(c); err != nil {
		return err
	}
	if _, err := at(c, "at"); err != nil {
		return err
	}
	if _, err := scenarioParam(c); err != nil {
		return err
	}
	base, q := tileBaseURL(c), tileQueryString(c)
	sources := map[string]any{}
	for _, l := range []string{"districts", "streets", "communities", "zones"} {
		sources[l] = map[string]any{"type": "vector", "url": base + "/tiles/" + l + ".json" + q}
	}
	var styleLayers []any
	styleLayers = append(styleLayers, map[string]any{"id": "background", "type": "background", "paint": map[string]any{"background-color": "#f4f3ef"}})
	if s.cfg.Map.BasemapURL != "" {
		sources["basemap"] = map[string]any{"type": "raster", "tiles": []string{s.cfg.Map.BasemapURL}, "tileSize": 256,
			"attribution": s.cfg.Map.BasemapAttribution}
		styleLayers = append(styleLayers, map[string]any{"id": "basemap", "type": "raster", "source": "basemap"})
	}
	density := []any{"interpolate", []any{"linear"}, []any{"coalesce", []any{"get", "density"}, 0}}
	for _, st := range mapDensityStops {
		density = append(density, st[0], st[1])
	}
	styleLayers = append(styleLayers,
		// Invisible, but queryable: a click inside a street (where no
		// community is drawn, e.g. below the communities' minzoom) finds it.
		map[string]any{"id": "streets-fill", "type": "fill", "source": "streets", "source-layer": "streets",
			"paint": map[string]any{"fill-color": "#000000", "fill-opacity": 0}},
		map[string]any{"id": "communities-fill", "type": "fill", "source": "communities", "source-layer": "communities",
			"paint": map[string]any{"fill-color": styleMatch("status", mapStatusColors, "#bab0ac"), "fill-opacity": 0.6}},
		map[string]any{"id": "communities-density", "type": "fill", "source": "communities", "source-layer": "communities",
			"layout": map[string]any{"visibility": "none"},
			"paint":  map[string]any{"fill-color": density, "fill-opacity": 0.75}},
		map[string]any{"id": "communities-line", "type": "line", "source": "communities", "source-layer": "communities",
			"paint": map[string]any{"line-color": "#ffffff", "line-width": []any{"interpolate", []any{"linear"}, []any{"zoom"}, 10, 0.3, 15, 1.2}}},
		map[string]any{"id": "zones-fill", "type": "fill", "source": "zones", "source-layer": "zones",
			"paint": map[string]any{"fill-color": styleMatch("kind", mapZoneColors, "#000000"), "fill-opacity": 0.7}},
		map[string]any{"id": "zones-line", "type": "line", "source": "zones", "source-layer": "zones",
			"paint": map[string]any{"line-color": styleMatch("kind", mapZoneColors, "#000000"), "line-width": 2,
				"line-dasharray": []any{2, 1}}},
		map[string]any{"id": "streets-line", "type": "line", "source": "streets", "source-layer": "streets",
			"paint": map[string]any{"line-color": "#555555", "line-width": []any{"interpolate", []any{"linear"}, []any{"zoom"}, 8, 0.6, 14, 2}}},
		map[string]any{"id": "districts-line", "type": "line", "source": "districts", "source-layer": "districts",
			"paint": map[string]any{"line-color": "#222222", "line-width": []any{"interpolate", []any{"linear"}, []any{"zoom"}, 6, 1.2, 14, 3.5}}},
		map[string]any{"id": "selected-line", "type": "line", "source": "communities", "source-layer": "communities",
			"filter": []any{"==", []any{"get", "code"}, ""},
			"paint":  map[string]any{"line-color": "#ffd400", "line-width": 4}},
		map[string]any{"id": "selected-street-line", "type": "line", "source": "streets", "source-layer": "streets",
			"filter": []any{"==", []any{"get", "code"}, ""},
			"paint":  map[string]any{"line-color": "#ffd400", "line-width": 4}},
	)
	style := map[string]any{
		"version": 8,
		"name":    "jiedao",
		"sources": sources,
		"layers":  styleLayers,
		"metadata": map[string]any{
			"jiedao:status_colors": mapStatusColors,
			"jiedao:zone_colors":   mapZoneColors,
			"jiedao:density_stops": mapDensityStops,
			"jiedao:minzoom": map[string]int{"districts": layers.TileMinZoom("districts"), "streets": layers.TileMinZoom("streets"),
				"communities": layers.TileMinZoom("communities"), "zones": layers.TileMinZoom("zones")},
			"jiedao:generated": time.Now().UTC().Format(time.RFC3339),
		},
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, style)
}
