// Package web is jiedao's HTTP face: the JSON API, health checks and, as the
// issues land, tiles, OGC API Features, downloads and the map page.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/store"
)

// Config is the server's configuration.
type Config struct {
	Addr  string
	Tiles TilesConfig // web/tiles.go
	Map   MapConfig   // web/mappage.go
	API   APIConfig   // web/api.go
}

// ConfigFromEnv reads the JIEDAO_* variables each part documents.
func ConfigFromEnv(addr string) Config {
	return Config{Addr: addr, Tiles: TilesConfigFromEnv(), Map: MapConfigFromEnv(), API: APIConfigFromEnv()}
}

// Server holds the handlers' dependencies.
type Server struct {
	db       *store.Store
	runs     *analysis.Runs
	layers   *layers.Reader
	cfg      Config
	profiles sync.Map   // name → *analysis.Profile
	tiles    *tileState // web/tiles.go
	apiState *apiState  // web/api.go
}

// New builds the echo application. Each part registers its own routes.
func New(st *store.Store, cfg Config) *echo.Echo {
	runs := analysis.NewRuns(st)
	s := &Server{db: st, runs: runs, layers: layers.NewReader(st, runs), cfg: cfg}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler
	e.Use(middleware.Recover(), middleware.RequestID(), requestLog())
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	s.routesAnalysis(e)
	s.routesTiles(e)     // web/tiles.go
	s.routesMap(e)       // web/mappage.go
	s.routesOGC(e)       // web/ogc.go
	s.routesDownloads(e) // web/download.go
	s.routesAPI(e)       // web/api.go
	s.routesPlans(e)     // web/plans.go
	s.RegisterTileCacheMetrics(
		func() float64 { return float64(s.TileStats().Hits) },
		func() float64 { return float64(s.TileStats().Misses) },
		func() float64 { return float64(s.TileStats().Bytes) })
	return e
}

// profile resolves ?profile= (default beijing-2020) to an embedded profile;
// files are not loadable over HTTP.
func (s *Server) profile(c echo.Context) (*analysis.Profile, error) {
	name := c.QueryParam("profile")
	if name == "" {
		name = analysis.DefaultProfile
	}
	if p, ok := s.profiles.Load(name); ok {
		return p.(*analysis.Profile), nil
	}
	if !slices.Contains(analysis.ProfileNames(), name) {
		return nil, badRequest("profile", fmt.Sprintf("unknown profile %q (have %s)", name, strings.Join(analysis.ProfileNames(), ", ")))
	}
	p, err := analysis.LoadProfile(name)
	if err != nil {
		return nil, err
	}
	s.profiles.Store(name, p)
	return p, nil
}

// profileAt resolves ?profile= and ?at=, which most reads take.
func (s *Server) profileAt(c echo.Context) (*analysis.Profile, time.Time, error) {
	p, err := s.profile(c)
	if err != nil {
		return nil, time.Time{}, err
	}
	day, err := at(c, "at")
	if err != nil {
		return nil, time.Time{}, err
	}
	return p, day, nil
}

// at resolves ?at=YYYY-MM-DD (default today).
func at(c echo.Context, param string) (time.Time, error) {
	v := c.QueryParam(param)
	if v == "" {
		return boundaries.Today(), nil
	}
	t, err := boundaries.ParseDate(v)
	if err != nil {
		return time.Time{}, badRequest(param, err.Error())
	}
	return t, nil
}

// scenarioParam resolves ?scenario=ID: the boundaries of a stored
// scenario instead of the live ones (0 when absent). Whether the scenario
// exists is known when its analysis run is looked up (404 then).
func scenarioParam(c echo.Context) (int64, error) {
	v := c.QueryParam("scenario")
	if v == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return 0, badRequest("scenario", fmt.Sprintf("%q is not a scenario id (a positive integer, see GET /api/v1/scenarios)", v))
	}
	return id, nil
}

// badRequest is a 400 naming the parameter.
func badRequest(param, msg string) *echo.HTTPError {
	return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("parameter %s: %s", param, msg))
}

// Serve listens until ctx is cancelled, then lets in-flight requests finish.
func Serve(ctx context.Context, st *store.Store, cfg Config) error {
	st.Watch(ctx)
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

// readyz answers 200 only when the database answers.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "database: " + err.Error()})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// errorHandler turns every error into {"error": {"code", "message"}}.
func errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	// Domain errors (not found, conflict, invalid) get their status
	// wherever they come from.
	err = apiError(err)
	code := http.StatusInternalServerError
	msg := "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		msg = fmt.Sprint(he.Message)
	} else {
		slog.Error("request failed", "path", c.Path(), "err", err)
	}
	c.JSON(code, map[string]any{"error": map[string]any{"code": http.StatusText(code), "message": msg}}) //nolint:errcheck
}

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
