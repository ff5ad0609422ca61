// Package web is jiedao's HTTP face: the JSON API, health checks and the
// map page; the tiles (web/tiles) and OGC API Features with the downloads
// (web/ogc) are wired in here.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/web/mapui"
	"github.com/jiedao/jiedao/web/ogc"
	"github.com/jiedao/jiedao/web/param"
	"github.com/jiedao/jiedao/web/reports"
	"github.com/jiedao/jiedao/web/tiles"
)

// Config is the server's configuration.
type Config struct {
	Addr  string
	Tiles tiles.Config // web/tiles
	Map   mapui.Config // web/mapui
	API   APIConfig    // web/api.go
}

// ConfigFromEnv reads the JIEDAO_* variables each part documents.
func ConfigFromEnv(addr string) Config {
	return Config{Addr: addr, Tiles: tiles.ConfigFromEnv(), Map: mapui.ConfigFromEnv(), API: APIConfigFromEnv()}
}

// Server holds the handlers' dependencies.
type Server struct {
	db       *store.Store
	runs     *analysis.Runs
	layers   *layers.Reader
	cfg      Config
	profiles *param.Profiles // ?profile=, shared with the subpackages
	tiles    *tiles.Handler  // web/tiles
	apiState *apiState       // web/api.go
}

// New builds the echo application. Each part registers its own routes.
func New(st *store.Store, cfg Config) *echo.Echo {
	runs := analysis.NewRuns(st)
	lr := layers.NewReader(st, runs)
	profiles := &param.Profiles{}
	s := &Server{db: st, runs: runs, layers: lr, cfg: cfg, profiles: profiles,
		tiles: tiles.New(st, lr, profiles, cfg.Tiles, tiles.Basemap{URL: cfg.Map.BasemapURL, Attribution: cfg.Map.BasemapAttribution})}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler
	e.Pre(headAsGet())
	// compress (compress.go) wraps all but Recover, so error bodies are
	// compressed too and a panic still gets its 500.
	e.Use(middleware.Recover(), compress(), middleware.RequestID(), requestLog(), cleanInput(), replicaReads(st), heavyLimit(st.PoolSize()))
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	og := ogc.New(lr, profiles).WithEditor(ogcEditor{s})
	s.routesAnalysis(e)
	s.tiles.Routes(e)                              // web/tiles
	mapui.New(st, lr, profiles, cfg.Map).Routes(e) // web/mapui: the map page
	og.Routes(e)                                   // web/ogc: /ogc (drafts' writes too) and /download
	reports.New(st, runs, profiles).Routes(e)      // web/reports: /reports (HTML, PDF)
	s.routesAPI(e)                                 // web/api.go
	s.routesDispatch(e)                            // web/dispatch: tickets
	s.routesPlans(e)                               // web/plans.go
	s.RegisterTileCacheMetrics(
		func() float64 { return float64(s.tiles.Stats().Hits) },
		func() float64 { return float64(s.tiles.Stats().Misses) },
		func() float64 { return float64(s.tiles.Stats().Bytes) })
	return e
}

// Serve listens until ctx is cancelled, then lets in-flight requests finish.
func Serve(ctx context.Context, st *store.Store, cfg Config) error {
	st.Watch(ctx)
	recoverFromCrash(ctx, st)
	e := New(st, cfg)
	api := cfg.API.withDefaults()
	srv := &http.Server{Addr: cfg.Addr, Handler: e, ReadHeaderTimeout: api.ReadHeaderTimeout,
		ReadTimeout: api.ReadTimeout, WriteTimeout: api.WriteTimeout, IdleTimeout: api.IdleTimeout}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("serving", "addr", "http://"+cfg.Addr)
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", cfg.Addr, err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 while the node can read: from the primary, or with
// read pools from a replica (a node whose primary is out of reach still
// serves reads; one whose replicas lag or are down reads the primary). It
// reports the data version the node reads, replica lag and where reads go.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	// Its own connection: under load every pooled one is busy serving, and
	// a busy database is still a ready one. Saturation is reported apart.
	st := s.db.Stats()
	pool := map[string]any{"acquired": st.Acquired, "max": st.Max, "saturated": st.Acquired >= st.Max}
	reads, replicaOK := readsOf(s.db)
	body := map[string]any{"status": "ready", "pool": pool, "reads": reads}
	if err := s.db.Probe(ctx); err != nil {
		body["primary"] = "database: " + err.Error()
		if !replicaOK {
			body["status"], body["error"] = "unavailable", "database: "+err.Error()
			return c.JSON(http.StatusServiceUnavailable, body)
		}
		body["read_only"] = true // writes fail until the primary answers
	}
	return c.JSON(http.StatusOK, body)
}

// errorHandler turns every error into {"error": {"code", "message"}},
// code being one of the machine codes of web/param/errors.go.
func errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	// Domain errors (not found, conflict, invalid) get their status
	// wherever they come from.
	orig := err
	err = param.APIError(err)
	status, code, msg := http.StatusInternalServerError, param.CodeInternal, "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status, code, msg = he.Code, param.CodeOf(he), fmt.Sprint(he.Message)
	} else {
		slog.Error("request failed", "path", c.Path(), "err", err)
	}
	if status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", retryAfter(orig))
	}
	c.JSON(status, map[string]any{"error": map[string]any{"code": code, "message": msg}}) //nolint:errcheck
}

// headAsGet answers HEAD wherever GET is served (RFC 9110): the request is
// routed as the GET and answered with its status and headers, no body.
func headAsGet() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Method != http.MethodHead {
				return next(c)
			}
			r.Method = http.MethodGet
			c.Response().Writer = headWriter{c.Response().Writer}
			return next(c)
		}
	}
}

// headWriter drops the body of a HEAD answer.
type headWriter struct{ http.ResponseWriter }

func (w headWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w headWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func requestLog() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			slog.Info("request", "method", c.Request().Method, "path", c.Request().URL.Path,
				"status", c.Response().Status, "ms", time.Since(start).Milliseconds(),
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
			return nil
		}
	}
}

// recoverFromCrash cleans what a process that died left: imports still
// "running" that no live transaction holds become failed ("interrupted"),
// and upload folders older than an hour are removed (younger ones may be
// another process's uploads in progress).
func recoverFromCrash(ctx context.Context, st *store.Store) {
	if n, err := importer.Interrupted(ctx, st); err != nil {
		slog.Warn("interrupted imports", "err", err)
	} else if n > 0 {
		slog.Info("imports interrupted by a crash marked failed", "imports", n)
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), uploadPrefix+"*"))
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && time.Since(fi.ModTime()) > time.Hour {
			if err := os.RemoveAll(d); err == nil {
				slog.Info("stale upload folder removed", "dir", d)
			}
		}
	}
}

// cleanInput refuses a NUL byte or invalid UTF-8 in any query parameter
// (name or value) or path segment with a 400 naming it: PostgreSQL text
// cannot hold NUL, and neither belongs in a code, a name or a date.
func cleanInput() echo.MiddlewareFunc {
	bad := func(s string) string {
		switch {
		case strings.IndexByte(s, 0) >= 0:
			return "contains a NUL byte"
		case !utf8.ValidString(s):
			return "is not valid UTF-8"
		}
		return ""
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			for name, vs := range c.QueryParams() {
				if why := bad(name); why != "" {
					return param.BadRequest(strconv.Quote(name), "the parameter name "+why)
				}
				for _, v := range vs {
					if why := bad(v); why != "" {
						return param.BadRequest(name, why)
					}
				}
			}
			for i, name := range c.ParamNames() {
				v := c.ParamValues()[i]
				if u, err := url.PathUnescape(v); err == nil {
					v = u
				}
				if why := bad(v); why != "" {
					return param.BadRequest(name, "path segment "+why)
				}
			}
			return next(c)
		}
	}
}

// heavyLimit gives heavy requests their own budgets, sized from the
// primary pool's P connections, so light ones (tiles, lookups, TileJSON,
// the map's helpers) never queue behind them for a connection: under 200
// connections a few slow pages once held all of them.
//
//   - heavy: at most max(1, P/2) at a time — OGC item pages, downloads,
//     imports, plans, whole analyses (/api/v1/analysis, /findings) and any
//     read that may start an analysis run (another day, profile or scenario
//     than today's default: a run takes a connection for seconds). The
//     other P - P/2 connections are left to light requests.
//   - bulk, within heavy: downloads, imports and plans, which take seconds
//     to minutes, at most max(1, P/4), so item pages and analyses still get
//     through while a download runs.
//
// Light requests are not limited here. A heavy one waits for its slots
// until its client gives up. (A run that a light request starts after a
// write, on today's default, is not counted: it is one at a time anyway.)
func heavyLimit(pool int) echo.MiddlewareFunc {
	heavy := make(chan struct{}, max(1, pool/2))
	bulk := make(chan struct{}, max(1, pool/4))
	acquire := func(c echo.Context, slots chan struct{}) error {
		select {
		case slots <- struct{}{}:
			return nil
		case <-c.Request().Context().Done():
			return c.Request().Context().Err()
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			isBulk, isHeavy := requestWeight(c.Request())
			if isBulk {
				// Bulk first, so no heavy slot is held while waiting for it.
				if err := acquire(c, bulk); err != nil {
					return err
				}
				defer func() { <-bulk }()
			}
			if !isHeavy {
				return next(c)
			}
			if err := acquire(c, heavy); err != nil {
				return err
			}
			defer func() { <-heavy }()
			return next(c)
		}
	}
}

// requestWeight sorts a request for heavyLimit: bulk (and so heavy), heavy,
// or light (neither).
func requestWeight(r *http.Request) (isBulk, isHeavy bool) {
	p := r.URL.Path
	if strings.HasPrefix(p, "/download/") || r.Method == http.MethodPost && (p == "/api/v1/imports" || p == "/api/v1/plans") {
		return true, true
	}
	if strings.HasPrefix(p, "/ogc/collections/") && strings.Contains(p, "/items") ||
		p == "/api/v1/analysis" || p == "/api/v1/findings" {
		return false, true
	}
	return false, mayAnalyse(r.URL.Query())
}

// mayAnalyse reports whether a read names a run other than today's under
// the default profile, which the server keeps ready: another day (at=,
// datetime=), another profile or a scenario may need a new analysis.
func mayAnalyse(q url.Values) bool {
	today := boundaries.Today().Format("2006-01-02")
	if at := q.Get("at"); at != "" && at != today {
		return true
	}
	if dt := q.Get("datetime"); dt != "" && !strings.HasPrefix(dt, today) {
		return true
	}
	if pr := q.Get("profile"); pr != "" && pr != analysis.DefaultProfile {
		return true
	}
	sc := q.Get("scenario")
	return sc != "" && sc != "0"
}
