package web

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/units"
)

// Access to /api/v1 (other paths — tiles, OGC API, downloads, the map —
// are left to their parts):
//
//   - reads (GET, and POST /api/v1/lookup which only reads) are public,
//     or need a viewer key with JIEDAO_PUBLIC_READ=false;
//   - the OpenAPI document and the docs page are always public;
//   - writes need an editor key, GET /api/v1/audit an admin key;
//   - no key where one is needed → 401, a key that is unknown or revoked →
//     401 (even where none is needed: its holder should learn it is dead),
//     a key whose role is too weak → 403.
//
// Keys come as "Authorization: Bearer <key>" or "X-API-Key: <key>" (what
// QGIS's "API Header" authentication sends). The OGC API's writes (a
// draft scenario's items: POST, PUT, PATCH, DELETE) need an editor key
// too; its reads stay public, and a key presented there is checked so
// OPTIONS can tell its holder what it may do.

const ctxKey = "jiedao.api_key"

// requiredRole is the role a request needs ("" = none).
func (st *apiState) requiredRole(method, route string) units.Role {
	switch route {
	case "/api/v1/openapi.json", "/api/v1/docs":
		return ""
	case "/api/v1/audit":
		return units.Admin
	case "/api/v1/tickets/:id", "/api/v1/disputes", "/api/v1/workload":
		// Tickets are citizens' requests and where they were made: never
		// public. Dispatch and reassign are writes (editor, below).
		if method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions {
			return units.Viewer
		}
	}
	read := method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions ||
		(method == http.MethodPost && route == "/api/v1/lookup")
	if !read {
		return units.Editor
	}
	if st.cfg.PrivateRead {
		return units.Viewer
	}
	return ""
}

func unauthorized(msg string) error {
	return echo.NewHTTPError(http.StatusUnauthorized, msg)
}

// bearer extracts the key of an Authorization: Bearer header, else of
// X-API-Key.
func bearer(c echo.Context) (string, bool) {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	if h == "" {
		if x, ok := c.Request().Header["X-Api-Key"]; ok {
			return strings.TrimSpace(strings.Join(x, "")), true
		}
		return "", false
	}
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return "", true
	}
	return strings.TrimSpace(key), true
}

// apiGuard applies body limits, the rate limit and the key rules to
// /api/v1 requests. It runs after routing, so c.Path() is the route.
func (s *Server) apiGuard(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		key, presented := bearer(c)
		read := req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == http.MethodOptions
		ogcKeyed := strings.HasPrefix(req.URL.Path, "/ogc/") && (presented || !read)
		// Unrouted paths fall through to the 404.
		if !(strings.HasPrefix(req.URL.Path, "/api/v1/") || ogcKeyed) || c.Path() == "" {
			return next(c)
		}
		st := s.api()

		// Rate limit first: it costs no database round trip. The bucket is
		// the key (hashed, unverified: a forged key only spends its own
		// bucket and then fails authentication) or the client address.
		bucket := "ip:" + st.clientIP(c)
		if key != "" {
			h := sha256.Sum256([]byte(key))
			bucket = "key:" + hex.EncodeToString(h[:8])
		}
		if ok, wait := st.limiter.allow(bucket); !ok {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			return echo.NewHTTPError(http.StatusTooManyRequests, "rate limit exceeded; retry after the Retry-After seconds")
		}

		limit := st.cfg.MaxBodyBytes
		if c.Path() == "/api/v1/imports" {
			limit = st.cfg.MaxUploadBytes
		}
		if req.ContentLength > limit {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "request body larger than "+strconv.FormatInt(limit, 10)+" bytes")
		}
		if req.Body != nil {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		}

		need := st.requiredRole(req.Method, c.Path())
		if ogcKeyed && presented {
			// The OGC API says itself what a known key may do (Allow, 403).
			need = ""
		}
		if presented {
			if key == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="jiedao"`)
				return unauthorized("malformed Authorization header: want Bearer <key> (or X-API-Key: <key>)")
			}
			k, err := units.Authenticate(req.Context(), s.db, key)
			if errors.Is(err, boundaries.ErrNotFound) {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="jiedao", error="invalid_token"`)
				return unauthorized("unknown or revoked API key")
			}
			if err != nil {
				return err
			}
			c.Set(ctxKey, k)
		}
		if need == "" {
			return next(c)
		}
		k, _ := c.Get(ctxKey).(*units.APIKey)
		if k == nil {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="jiedao"`)
			return unauthorized("this needs an API key with role " + string(need) + " (Authorization: Bearer <key>)")
		}
		if !k.Role.Allows(need) {
			return echo.NewHTTPError(http.StatusForbidden, "key "+k.Name+" has role "+string(k.Role)+"; this needs "+string(need))
		}
		return next(c)
	}
}

// actor is who makes a write, for the audit log.
func (s *Server) actor(c echo.Context) units.Actor {
	a := units.Actor{RequestID: c.Response().Header().Get(echo.HeaderXRequestID), Client: s.api().clientIP(c)}
	if k, ok := c.Get(ctxKey).(*units.APIKey); ok {
		a.KeyName = k.Name
	}
	return a
}

// clientIP is the connection's address unless a trusted proxy reports the
// client's (echo's RealIP believes any X-Forwarded-For, which would let a
// client choose its own rate-limit bucket).
func (st *apiState) clientIP(c echo.Context) string {
	if st.cfg.TrustProxy {
		return c.RealIP()
	}
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return c.Request().RemoteAddr
	}
	return host
}

// newDayCost is what a read for another day than today costs in the rate
// limit: it may need a new analysis (seconds of database time), where a
// cached read costs microseconds.
const newDayCost = 10

// readGuard rate-limits the public read groups outside /api/v1 (tiles,
// OGC API, downloads, the map's API, reports) per client, tiles on their
// own limiter. It runs after routing.
func (s *Server) readGuard(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := c.Request().URL.Path
		st := s.api()
		lim := st.limiter
		switch {
		case strings.HasPrefix(p, "/tiles/"):
			lim = st.tiles
		case strings.HasPrefix(p, "/ogc"), strings.HasPrefix(p, "/download/"), strings.HasPrefix(p, "/map/api/"), strings.HasPrefix(p, "/reports/"):
		default:
			return next(c)
		}
		cost := 1
		// A read that may start an analysis (another day, profile or a
		// scenario) costs more; so does a report, a document of many
		// queries (a PDF starts a browser).
		if mayAnalyse(c.QueryParams()) || strings.HasPrefix(p, "/reports/") {
			cost = newDayCost
		}
		if ok, wait := lim.allowN("ip:"+st.clientIP(c), cost); !ok {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			return echo.NewHTTPError(http.StatusTooManyRequests, "rate limit exceeded; retry after the Retry-After seconds")
		}
		return next(c)
	}
}

// rateLimiter is a token bucket per key or address; idle buckets are
// dropped so the map does not grow without bound.
type rateLimiter struct {
	rps   rate.Limit
	burst int
	mu    sync.Mutex
	seen  map[string]*bucket
	sweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

func newRateLimiter(rps float64, burst int) *rateLimiter {
	return &rateLimiter{rps: rate.Limit(rps), burst: max(burst, 1), seen: map[string]*bucket{}, sweep: time.Now()}
}

// allow takes a token from the bucket, or says how long until one is due.
func (r *rateLimiter) allow(key string) (bool, time.Duration) { return r.allowN(key, 1) }

// allowN takes n tokens (at most the burst) from the bucket.
func (r *rateLimiter) allowN(key string, n int) (bool, time.Duration) {
	if r.rps <= 0 {
		return true, 0
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.sweep) > time.Minute {
		for k, b := range r.seen {
			if now.Sub(b.last) > 10*time.Minute {
				delete(r.seen, k)
			}
		}
		r.sweep = now
	}
	b := r.seen[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(r.rps, r.burst)}
		r.seen[key] = b
	}
	b.last = now
	res := b.lim.ReserveN(now, min(n, r.burst))
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, max(d, time.Second)
	}
	return true, 0
}

// corsMiddleware lets browsers on the configured origins call /api/v1.
func corsMiddleware(origins []string) echo.MiddlewareFunc {
	return middleware.CORSWithConfig(middleware.CORSConfig{
		Skipper:       func(c echo.Context) bool { return !strings.HasPrefix(c.Request().URL.Path, "/api/v1/") },
		AllowOrigins:  origins,
		AllowMethods:  []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowHeaders:  []string{echo.HeaderAuthorization, echo.HeaderContentType, "If-Match", "If-None-Match", "If-Min-Version", "X-API-Key"},
		ExposeHeaders: []string{"ETag", "Retry-After", echo.HeaderXRequestID, echo.HeaderLocation, "X-Jiedao-Data-Version", "X-Jiedao-Read-From"},
		MaxAge:        3600,
	})
}
