// Package web is jiedao's HTTP face: the JSON API, health checks and, as the
// issues land, tiles, OGC API Features, downloads and the map page.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/jiedao/jiedao/boundaries"
)

// Config is the server's configuration.
type Config struct {
	Addr string
}

// Server holds the handlers' dependencies.
type Server struct {
	store *boundaries.Store
	cfg   Config
}

// New builds the echo application.
func New(store *boundaries.Store, cfg Config) *echo.Echo {
	s := &Server{store: store, cfg: cfg}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler
	e.Use(middleware.Recover(), middleware.RequestID(), requestLog())
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	return e
}

// Serve listens until ctx is cancelled, then lets in-flight requests finish.
func Serve(ctx context.Context, store *boundaries.Store, cfg Config) error {
	e := New(store, cfg)
	srv := &http.Server{Addr: cfg.Addr, Handler: e, ReadHeaderTimeout: 10 * time.Second}
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
	if err := s.store.Ping(ctx); err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "database: " + err.Error()})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// errorHandler turns every error into {"error": {"code", "message"}}.
func errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
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
