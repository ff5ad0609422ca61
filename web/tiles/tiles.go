// Package tiles serves the map's vector tiles (/tiles/{layer}/{z}/{x}/{y}.mvt),
// their TileJSON and the MapLibre style, with an in-memory tile cache.
package tiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/web/param"
)

// Config configures the tiles.
type Config struct {
	// CacheBytes bounds the in-memory tile cache (raw + gzipped bytes);
	// 0 means the default, negative disables the cache.
	CacheBytes int64
}

// DefaultCacheMB is the tile cache size without JIEDAO_TILE_CACHE_MB.
const DefaultCacheMB = 256

// ConfigFromEnv reads JIEDAO_TILE_CACHE_MB (megabytes, default 256;
// 0 disables the cache).
func ConfigFromEnv() Config {
	v := strings.TrimSpace(os.Getenv("JIEDAO_TILE_CACHE_MB"))
	if v == "" {
		return Config{CacheBytes: DefaultCacheMB << 20}
	}
	mb, err := strconv.ParseFloat(v, 64)
	if err != nil || mb < 0 || math.IsInf(mb, 0) {
		slog.Warn("JIEDAO_TILE_CACHE_MB is not a size in MB; using the default", "value", v, "default", DefaultCacheMB)
		return Config{CacheBytes: DefaultCacheMB << 20}
	}
	if mb == 0 {
		return Config{CacheBytes: -1}
	}
	return Config{CacheBytes: int64(mb * (1 << 20))}
}

// tileFormat is part of every ETag: bump it when the tile SQL changes, so
// clients revalidating after an upgrade do not keep old bytes under an
// unchanged data version.
const tileFormat = "mvt-2"

// MaxZoomJSON is the maxzoom advertised in TileJSON: at z16 a pixel is
// under 2 m, finer than any boundary file; clients overzoom beyond it (the
// endpoint still serves up to z22).
const MaxZoomJSON = 16

// Stats are the tile cache counters, for /metrics.
type Stats struct {
	Hits        int64 // served from the cache
	Misses      int64 // built in PostGIS
	NotModified int64 // 304 on If-None-Match
	Entries     int64
	Bytes       int64
}

// Basemap is the optional raster basemap the style draws under the
// boundaries (web.MapConfig's BasemapURL and BasemapAttribution).
type Basemap struct {
	URL         string
	Attribution string
}

// Handler serves the tile routes; it holds the tile cache and its
// counters, one per application.
type Handler struct {
	db       *store.Store
	layers   *layers.Reader
	profiles *param.Profiles
	basemap  Basemap
	cache    *tileCache
	hits     atomic.Int64
	misses   atomic.Int64
	n304     atomic.Int64
	flight   tileFlightGroup
	// boundsMu guards lastBounds, the extent of the last day and data
	// version the style or a TileJSON asked for (tilejson.go).
	boundsMu   sync.Mutex
	lastBounds keptBounds
}

// New makes the tile handler: tiles are read through lr, the data version
// comes from st (kept in memory by Store.Watch), ?profile= is resolved by
// profiles.
func New(st *store.Store, lr *layers.Reader, profiles *param.Profiles, cfg Config, basemap Basemap) *Handler {
	capacity := cfg.CacheBytes
	if capacity == 0 {
		capacity = DefaultCacheMB << 20
	}
	return &Handler{db: st, layers: lr, profiles: profiles, basemap: basemap, cache: newTileCache(capacity)}
}

// Stats reports the tile cache counters (zero for a nil handler).
func (h *Handler) Stats() Stats {
	if h == nil {
		return Stats{}
	}
	st := Stats{Hits: h.hits.Load(), Misses: h.misses.Load(), NotModified: h.n304.Load()}
	st.Entries, st.Bytes = h.cache.size()
	return st
}

// Routes registers GET /tiles/style.json, /tiles/glyphs/{fontstack}/{range}.pbf,
// /tiles/{layer}.json and /tiles/{layer}/{z}/{x}/{y}.mvt.
func (h *Handler) Routes(e *echo.Echo) {
	e.GET("/tiles/style.json", h.getStyle)
	e.GET("/tiles/glyphs/:fontstack/:range", h.getGlyphs)
	e.GET("/tiles/:file", h.getTileJSON)
	e.GET("/tiles/:layer/:z/:x/:file", h.getTile)
}

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
		return 0, 0, 0, param.BadRequest("z", "not an integer")
	}
	if x, err = strconv.Atoi(c.Param("x")); err != nil {
		return 0, 0, 0, param.BadRequest("x", "not an integer")
	}
	if y, err = strconv.Atoi(ys); err != nil {
		return 0, 0, 0, param.BadRequest("y", "not an integer")
	}
	if z < 0 || z > layers.MaxTileZoom {
		return 0, 0, 0, param.BadRequest("z", fmt.Sprintf("%d is outside 0–%d", z, layers.MaxTileZoom))
	}
	if !layers.ValidTile(z, x, y) {
		return 0, 0, 0, param.BadRequest("x/y", fmt.Sprintf("%d/%d is outside the %d×%d grid of zoom %d", x, y, 1<<z, 1<<z, z))
	}
	return z, x, y, nil
}

// getTile serves GET /tiles/{layer}/{z}/{x}/{y}.mvt. The warm path (a
// cached tile or a 304) reads only memory: the data version is kept in
// memory by Store.Watch (with read pools: polled on the replica read,
// so the key is the version that replica holds, never one it has not
// replayed), so no database round trip is needed to know the cached bytes
// are current. The ETag is a hash of the key alone, so every node at the
// same version gives a tile the same ETag (see docs/deploy.md).
func (h *Handler) getTile(c echo.Context) error {
	l, ok := layers.ByName(c.Param("layer"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("unknown layer %q", c.Param("layer")))
	}
	z, x, y, err := parseTileCoords(c)
	if err != nil {
		return err
	}
	p, day, err := h.profiles.ProfileAt(c)
	if err != nil {
		return err
	}
	scenario, err := param.Scenario(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ver, err := h.db.CurrentDataVersion(ctx)
	key := tileKey{layer: l.Name, z: z, x: x, y: y, profile: p.Name, at: day.Format("2006-01-02"), version: ver, scenario: scenario}
	if err != nil {
		return h.stale(c, key, err)
	}
	gz := tileAcceptsGzip(c.Request())
	if h.notModified(c, key.etag(), gz) {
		return nil
	}
	if e, ok := h.cache.get(key); ok {
		h.hits.Add(1)
		if gz && len(e.raw) > 0 && e.gz == nil {
			// The first hit that wants gzip compresses, once; entries
			// are immutable, so a new one replaces the old.
			zb, err := tileGzip(e.raw)
			if err != nil {
				return fmt.Errorf("tile %s/%d/%d/%d: gzip: %w", l.Name, z, x, y, err)
			}
			e = &tileEntry{raw: e.raw, gz: zb, etag: e.etag}
			h.cache.put(key, e)
		}
		return tileWrite(c, e, gz, "hit")
	}
	// Miss: the analysis run may have to be made first, which bumps the
	// data version; the version is read again after it so the tile is
	// stored under the key the next request will look for. Reading the
	// version before querying the tile means the bytes are never older
	// than their key.
	run, err := h.layers.Run(ctx, p, day, scenario)
	if err != nil {
		return err
	}
	if key.version, err = h.db.CurrentDataVersion(ctx); err != nil {
		return fmt.Errorf("tile: data version: %w", err)
	}
	if h.notModified(c, key.etag(), gz) {
		return nil
	}
	e, shared, err := h.flight.do(key, func() (*tileEntry, error) {
		if e, ok := h.cache.get(key); ok {
			return e, nil
		}
		// Waiters share this query, so it must not die with the first
		// client's connection.
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		raw, err := h.layers.Tile(qctx, l, run, scenario != 0, day, z, x, y)
		if err != nil {
			return nil, err
		}
		// A miss is answered uncompressed: gzip costs about as much as
		// the query itself (measured: cold/raw-SQL time 1.49 → 1.13), so
		// cold tiles go out as fast as PostGIS makes them and the
		// compressed copy is made on the first hit that asks for it.
		e := &tileEntry{raw: raw, etag: key.etag()}
		h.cache.put(key, e)
		return e, nil
	})
	if err != nil {
		return err
	}
	if gz && len(e.raw) > 0 && e.gz == nil && !h.cache.enabled() {
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
	h.misses.Add(1)
	return tileWrite(c, e, gz, state)
}

// stale answers while the data version cannot be read (the database is
// out of reach): from the cache under the last version seen, marked stale;
// a tile not cached waits for the database (503).
func (h *Handler) stale(c echo.Context, key tileKey, err error) error {
	key.version = h.db.LastDataVersion()
	if e, ok := h.cache.get(key); ok && store.Unavailable(err) {
		c.Response().Header().Set("X-Jiedao-Stale", "true")
		return tileWrite(c, e, false, "stale")
	}
	return fmt.Errorf("tile: data version: %w", err)
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
func (h *Handler) notModified(c echo.Context, tag string, gz bool) bool {
	inm := c.Request().Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == `"`+tag+`"` || t == `"`+tag+`-gz"` {
			hdr := c.Response().Header()
			hdr.Set("ETag", tileETag(tag, gz))
			hdr.Set("Cache-Control", "no-cache")
			hdr.Set("Vary", "Accept-Encoding")
			h.n304.Add(1)
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
	w := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// gzipWriters are reused: a new writer allocates its compressor's state
// (about 1 MB) per tile, which halved tile throughput with the cache off.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
	return w
}}
