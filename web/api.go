package web

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/geo"
	"github.com/jiedao/jiedao/web/param"
)

// APIConfig configures the JSON API. The zero value is usable:
// public reads, no rate limit, default body limits and timeouts.
type APIConfig struct {
	// PrivateRead makes /api/v1 reads need a viewer key
	// (JIEDAO_PUBLIC_READ=false). Negated so the zero value is public.
	PrivateRead bool
	// RateLimit is requests per second per API key (or per client address
	// without one) on /api/v1; 0 = unlimited (JIEDAO_RATE_LIMIT, default 50).
	RateLimit float64
	// RateBurst is the bucket size (JIEDAO_RATE_BURST, default 2×RateLimit).
	// The same buckets limit /ogc, /download and /map/api.
	RateBurst int
	// TileRateLimit is tiles per second per client on /tiles, which maps
	// ask for by the dozen (JIEDAO_TILE_RATE_LIMIT, default 1000; burst 2×;
	// 0 = unlimited). A read for another day than today, which may need a
	// new analysis, costs newDayCost requests on either limiter.
	TileRateLimit float64
	// MaxBodyBytes bounds /api/v1 request bodies other than uploads
	// (JIEDAO_MAX_BODY_MB, default 32 MB: 100,000 lookup points as JSON
	// are about 6 MB).
	MaxBodyBytes int64
	// MaxUploadBytes bounds POST /api/v1/imports (JIEDAO_MAX_UPLOAD_MB,
	// default 200 MB).
	MaxUploadBytes int64
	// MaxBatchPoints bounds POST /api/v1/lookup (default 100,000).
	MaxBatchPoints int
	// ImportLimits bound an upload's features and vertices and a zipped
	// Shapefile's entries (JIEDAO_IMPORT_MAX_*; zero: the defaults).
	ImportLimits importer.Limits
	// CORSOrigins may call /api/v1 from browsers (JIEDAO_CORS_ORIGINS,
	// comma-separated; "*" for any; empty = no CORS headers).
	CORSOrigins []string
	// TrustProxy takes the client address from X-Forwarded-For/X-Real-IP
	// (JIEDAO_TRUST_PROXY=true, only behind a proxy that sets them);
	// otherwise from the connection, so clients cannot pick their own
	// rate-limit bucket.
	TrustProxy bool
	// Server timeouts for http.Server (JIEDAO_READ_HEADER_TIMEOUT,
	// JIEDAO_READ_TIMEOUT, JIEDAO_WRITE_TIMEOUT, JIEDAO_IDLE_TIMEOUT; Go
	// durations such as 90s or 5m). Defaults: 10s, 5m (a 200 MB upload on
	// a slow line), 10m (large downloads), 2m.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
}

// Defaults of the API configuration.
const (
	DefaultRateLimit      = 50
	DefaultTileRateLimit  = 1000
	DefaultMaxBodyBytes   = 32 << 20
	DefaultMaxUploadBytes = 200 << 20
	DefaultMaxBatchPoints = 100_000
)

// APIConfigFromEnv reads this part's JIEDAO_* variables; a malformed value
// is logged and the default used.
func APIConfigFromEnv() APIConfig {
	c := APIConfig{RateLimit: DefaultRateLimit, TileRateLimit: DefaultTileRateLimit, ImportLimits: importer.LimitsFromEnv()}
	if v := os.Getenv("JIEDAO_PUBLIC_READ"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			slog.Warn("JIEDAO_PUBLIC_READ: want true or false; reads stay public", "value", v)
		}
		c.PrivateRead = err == nil && !b
	}
	envFloat := func(k string, dst *float64) {
		if v := os.Getenv(k); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
				slog.Warn(k+": want a non-negative number; using the default", "value", v)
				return
			}
			*dst = f
		}
	}
	envFloat("JIEDAO_RATE_LIMIT", &c.RateLimit)
	envFloat("JIEDAO_TILE_RATE_LIMIT", &c.TileRateLimit)
	burst := 0.0
	envFloat("JIEDAO_RATE_BURST", &burst)
	c.RateBurst = int(burst)
	var mb float64
	envFloat("JIEDAO_MAX_BODY_MB", &mb)
	c.MaxBodyBytes = int64(mb * (1 << 20))
	mb = 0
	envFloat("JIEDAO_MAX_UPLOAD_MB", &mb)
	c.MaxUploadBytes = int64(mb * (1 << 20))
	if v := os.Getenv("JIEDAO_CORS_ORIGINS"); v != "" {
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.CORSOrigins = append(c.CORSOrigins, o)
			}
		}
	}
	if v := os.Getenv("JIEDAO_TRUST_PROXY"); v != "" {
		c.TrustProxy, _ = strconv.ParseBool(v)
	}
	for _, d := range []struct {
		k   string
		dst *time.Duration
	}{{"JIEDAO_READ_HEADER_TIMEOUT", &c.ReadHeaderTimeout}, {"JIEDAO_READ_TIMEOUT", &c.ReadTimeout},
		{"JIEDAO_WRITE_TIMEOUT", &c.WriteTimeout}, {"JIEDAO_IDLE_TIMEOUT", &c.IdleTimeout}} {
		if v := os.Getenv(d.k); v != "" {
			t, err := time.ParseDuration(v)
			if err != nil || t < 0 {
				slog.Warn(d.k+": want a duration such as 30s; using the default", "value", v)
				continue
			}
			*d.dst = t
		}
	}
	return c.withDefaults()
}

// withDefaults fills unset limits and timeouts.
func (c APIConfig) withDefaults() APIConfig {
	if c.RateBurst <= 0 && c.RateLimit > 0 {
		c.RateBurst = max(1, int(math.Ceil(2*c.RateLimit)))
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if c.MaxBatchPoints <= 0 {
		c.MaxBatchPoints = DefaultMaxBatchPoints
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 5 * time.Minute
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Minute
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	return c
}

// apiState is the API's per-server state. Server (web/server.go) has no
// field for it, so it hangs off a map keyed by the server; created on first
// use, whichever part asks first (the tile cache may register its metrics
// before routesAPI runs).
type apiState struct {
	cfg     APIConfig
	loc     *lookup.Locator
	limiter *rateLimiter
	tiles   *rateLimiter
	metrics *metrics
}

// api is the API's state, made by routesAPI before any request.
func (s *Server) api() *apiState { return s.apiState }

func (s *Server) routesAPI(e *echo.Echo) {
	cfg := s.cfg.API.withDefaults()
	st := &apiState{cfg: cfg, loc: lookup.New(s.db), limiter: newRateLimiter(cfg.RateLimit, cfg.RateBurst),
		tiles: newRateLimiter(cfg.TileRateLimit, int(math.Ceil(2*cfg.TileRateLimit)))}
	st.metrics = newMetrics(s.db, st.loc)
	s.apiState = st
	e.Use(st.metrics.middleware)
	if len(st.cfg.CORSOrigins) > 0 {
		e.Use(corsMiddleware(st.cfg.CORSOrigins))
	}
	e.Use(s.apiGuard, s.readGuard, failoverReads(s.db)) // failoverReads: replicas.go
	e.GET("/metrics", echo.WrapHandler(st.metrics.handler()))

	e.GET("/api/v1/units", s.listUnits)
	e.POST("/api/v1/units", s.createUnit)
	e.GET("/api/v1/units/:code", s.getUnit)
	e.PUT("/api/v1/units/:code", s.putUnit)
	e.DELETE("/api/v1/units/:code", s.deleteUnit)
	e.GET("/api/v1/units/:code/children", s.unitChildren)
	e.GET("/api/v1/units/:code/history", s.unitHistory)
	e.GET("/api/v1/stats", s.stats)
	e.GET("/api/v1/lookup", s.lookup)
	e.POST("/api/v1/lookup", s.lookupBatch)
	e.GET("/api/v1/changes", s.changes)
	e.POST("/api/v1/imports", s.postImport)
	e.GET("/api/v1/audit", s.auditLog)
	e.GET("/api/v1/openapi.json", s.openAPI)
	e.GET("/api/v1/docs", s.docs)
}

var unitStatuses = names(boundaries.Statuses)

// run resolves ?profile= and ?at= to the analysis run giving statuses.
func (s *Server) run(c echo.Context) (int64, time.Time, *analysis.Profile, error) {
	p, day, err := s.profiles.ProfileAt(c)
	if err != nil {
		return 0, time.Time{}, nil, err
	}
	run, err := s.layers.Run(c.Request().Context(), p, day, 0)
	return run, day, p, err
}

func (s *Server) listUnits(c echo.Context) error {
	q := layers.PageQuery{Parent: c.QueryParam("parent"), Q: c.QueryParam("q"), Status: boundaries.Status(c.QueryParam("status"))}
	if v := c.QueryParam("level"); v != "" {
		l, err := boundaries.ParseLevel(v)
		if err != nil {
			return param.BadRequest("level", err.Error())
		}
		q.Level = l
	}
	if q.Status != "" && !containsStr(unitStatuses, string(q.Status)) {
		return param.BadRequest("status", "want one of "+strings.Join(unitStatuses, ", "))
	}
	var err error
	if q.Limit, err = param.Int(c, "limit", 100); err != nil {
		return err
	}
	if q.Limit > units.MaxPageSize {
		return param.BadRequest("limit", fmt.Sprintf("at most %d", units.MaxPageSize))
	}
	if q.Offset, err = param.Int(c, "offset", 0); err != nil {
		return err
	}
	q.Cursor = c.QueryParam("cursor")
	if q.Run, q.At, _, err = s.run(c); err != nil {
		return err
	}
	page, err := s.layers.Page(c.Request().Context(), q)
	var qe *boundaries.QueryError
	if errors.As(err, &qe) {
		return param.BadRequest(qe.Param, qe.Err.Error())
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

func containsStr(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// parseETag reads a version id from If-Match / If-None-Match; ok is false
// when the value is no ETag of ours (which then matches nothing).
func parseETag(v string) (int64, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
	n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
	return n, err == nil && n > 0
}

func (s *Server) getUnit(c echo.Context) error {
	run, day, _, err := s.run(c)
	if err != nil {
		return err
	}
	geometry := false
	if v := c.QueryParam("geometry"); v != "" {
		if geometry, err = strconv.ParseBool(v); err != nil {
			return param.BadRequest("geometry", "want true or false")
		}
	}
	d, err := s.layers.Unit(c.Request().Context(), c.Param("code"), day, run, geometry)
	if err != nil {
		return param.APIError(err)
	}
	// The ETag is the version in the body; an edit replaces the last
	// version of the history, which is another one when an edit dated
	// later is pending: the body then names it and its ETag.
	head, err := units.ReadHead(c.Request().Context(), s.db, c.Param("code"))
	if err != nil {
		return param.APIError(err)
	}
	body := d.JSON
	if head != nil && head.VersionID != d.VersionID {
		body = withPending(body, head)
	}
	c.Response().Header().Set("ETag", etag(d.VersionID))
	// With a version pending, a 304 would keep a body without it.
	if head != nil && head.VersionID == d.VersionID && param.ETagMatch(c.Request().Header.Get("If-None-Match"), etag(d.VersionID)) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.JSONBlob(http.StatusOK, body)
}

// withPending adds to a unit's JSON object the pending version that heads
// its history: {"version_id", "valid_from", "etag"}.
func withPending(obj []byte, h *units.Head) []byte {
	obj = bytes.TrimRight(obj, " \n")
	if len(obj) < 2 || obj[len(obj)-1] != '}' {
		return obj
	}
	p := fmt.Sprintf(`,"pending":{"version_id":%d,"valid_from":%q,"etag":%s}}`,
		h.VersionID, h.ValidFrom.Format("2006-01-02"), strconv.Quote(h.ETag()))
	return append(obj[:len(obj)-1:len(obj)-1], p...)
}

func (s *Server) unitChildren(c echo.Context) error {
	run, day, _, err := s.run(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	code := c.Param("code")
	if _, err := s.layers.Unit(ctx, code, day, run, false); err != nil {
		return param.APIError(err)
	}
	page, err := s.layers.Page(ctx, layers.PageQuery{Parent: code, At: day, Run: run, Limit: units.MaxPageSize})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"code": code, "at": day.Format("2006-01-02"), "total": page.Total, "items": page.Items})
}

func (s *Server) unitHistory(c echo.Context) error {
	h, err := units.History(c.Request().Context(), s.db, c.Param("code"))
	if err != nil {
		return param.APIError(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"code": c.Param("code"), "versions": h})
}

func (s *Server) stats(c echo.Context) error {
	var lvl boundaries.Level
	if v := c.QueryParam("level"); v != "" {
		l, err := boundaries.ParseLevel(v)
		if err != nil {
			return param.BadRequest("level", err.Error())
		}
		lvl = l
	}
	run, day, p, err := s.run(c)
	if err != nil {
		return err
	}
	st, err := s.layers.Stats(c.Request().Context(), lvl, c.QueryParam("parent"), day, run)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"at": day.Format("2006-01-02"), "profile": p.Name,
		"level": lvl, "parent": c.QueryParam("parent"), "levels": st})
}

// lookupCRS accepts the lon/lat systems a lookup can take: WGS84, CGCS2000
// (the same at map accuracy) and the shifted GCJ-02 and BD-09.
func lookupCRS(v string) (geo.CRS, error) {
	if v == "" {
		v = "wgs84"
	}
	c, err := geo.ParseCRS(v)
	if err != nil {
		return geo.CRS{}, param.BadRequest("crs", err.Error())
	}
	if c.SRID != 4326 && c.SRID != 4490 {
		return geo.CRS{}, param.BadRequest("crs", fmt.Sprintf("%s is not a lon/lat system; want wgs84, cgcs2000, gcj02 or bd09", c.Name))
	}
	return c, nil
}

// lonLat checks coordinates and converts them to WGS84; prefix names the
// offending parameter in the error.
func lonLat(crs geo.CRS, lon, lat float64, prefix string) (float64, float64, error) {
	if math.IsNaN(lon) || math.IsInf(lon, 0) || lon < -180 || lon > 180 {
		return 0, 0, param.BadRequest(prefix+"lon", fmt.Sprintf("%v is not a longitude in [-180, 180]", lon))
	}
	if math.IsNaN(lat) || math.IsInf(lat, 0) || lat < -90 || lat > 90 {
		return 0, 0, param.BadRequest(prefix+"lat", fmt.Sprintf("%v is not a latitude in [-90, 90]", lat))
	}
	lon, lat = crs.Unshift(lon, lat)
	return lon, lat, nil
}

func parseCoord(v, name string) (float64, error) {
	if v == "" {
		return 0, param.BadRequest(name, "required")
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return 0, param.BadRequest(name, fmt.Sprintf("%q is not a number", v))
	}
	return f, nil
}

func (s *Server) lookup(c echo.Context) error {
	crs, err := lookupCRS(c.QueryParam("crs"))
	if err != nil {
		return err
	}
	lon, err := parseCoord(c.QueryParam("lon"), "lon")
	if err != nil {
		return err
	}
	lat, err := parseCoord(c.QueryParam("lat"), "lat")
	if err != nil {
		return err
	}
	if lon, lat, err = lonLat(crs, lon, lat, ""); err != nil {
		return err
	}
	run, day, _, err := s.run(c)
	if err != nil {
		return err
	}
	res, err := s.api().loc.Lookup(c.Request().Context(), run, day, []lookup.Point{{Lon: lon, Lat: lat}})
	if err != nil {
		return err
	}
	s.markStale(c)
	return c.JSON(http.StatusOK, res[0])
}

// batchRequest is the JSON body of POST /api/v1/lookup.
type batchRequest struct {
	CRS    string `json:"crs"`
	Points []struct {
		ID  json.RawMessage `json:"id"`
		Lon *float64        `json:"lon"`
		Lat *float64        `json:"lat"`
	} `json:"points"`
}

// lookupBatch locates up to MaxBatchPoints points, as JSON or as CSV
// (id,lon,lat; answered in the same format).
func (s *Server) lookupBatch(c echo.Context) error {
	cfg := s.api().cfg
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	isCSV := ct == "text/csv"
	var pts []lookup.Point
	crsName := c.QueryParam("crs")
	var err error
	if isCSV {
		pts, err = readPointsCSV(c.Request().Body, cfg.MaxBatchPoints)
	} else {
		var req batchRequest
		dec := json.NewDecoder(c.Request().Body)
		if err := dec.Decode(&req); err != nil {
			if e := param.APIError(err); e != err {
				return e
			}
			return param.Error(http.StatusBadRequest, param.CodeInvalidBody, "body: want {\"crs\": ..., \"points\": [{\"id\", \"lon\", \"lat\"}, ...]} or text/csv: "+err.Error())
		}
		if len(req.Points) > cfg.MaxBatchPoints {
			return tooManyPoints(cfg.MaxBatchPoints)
		}
		if req.CRS != "" {
			crsName = req.CRS
		}
		pts = make([]lookup.Point, len(req.Points))
		for i, p := range req.Points {
			if p.Lon == nil || p.Lat == nil {
				return param.BadRequest(fmt.Sprintf("points[%d]", i), "lon and lat are required")
			}
			pts[i] = lookup.Point{ID: rawID(p.ID), Lon: *p.Lon, Lat: *p.Lat}
		}
	}
	if err != nil {
		return err
	}
	crs, err := lookupCRS(crsName)
	if err != nil {
		return err
	}
	for i := range pts {
		prefix := fmt.Sprintf("points[%d].", i)
		if isCSV {
			prefix = fmt.Sprintf("row %d ", i+1)
		}
		if pts[i].Lon, pts[i].Lat, err = lonLat(crs, pts[i].Lon, pts[i].Lat, prefix); err != nil {
			return err
		}
	}
	run, day, _, err := s.run(c)
	if err != nil {
		return err
	}
	res, err := s.api().loc.Lookup(c.Request().Context(), run, day, pts)
	if err != nil {
		return err
	}
	s.markStale(c)
	if isCSV {
		return writeResultsCSV(c, res)
	}
	return writeResultsJSON(c, day, crs, res)
}

func tooManyPoints(limit int) error {
	return param.Error(http.StatusRequestEntityTooLarge, param.CodePayloadTooLarge, fmt.Sprintf("at most %d points per request", limit))
}

// rawID turns a JSON id (string or number) into text.
func rawID(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// readPointsCSV reads id,lon,lat rows; a first row whose lon is not a
// number is a header.
func readPointsCSV(r io.Reader, limit int) ([]lookup.Point, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var pts []lookup.Point
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return pts, nil
		}
		if err != nil {
			if e := param.APIError(err); e != err {
				return nil, e
			}
			return nil, param.BadRequest("body", fmt.Sprintf("CSV: %v", err))
		}
		if len(rec) < 3 {
			return nil, param.BadRequest("body", fmt.Sprintf("CSV row %d: want id,lon,lat", row))
		}
		lon, errLon := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		lat, errLat := strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
		if row == 1 && errLon != nil {
			continue // header
		}
		if errLon != nil {
			return nil, param.BadRequest(fmt.Sprintf("row %d lon", row), fmt.Sprintf("%q is not a number", rec[1]))
		}
		if errLat != nil {
			return nil, param.BadRequest(fmt.Sprintf("row %d lat", row), fmt.Sprintf("%q is not a number", rec[2]))
		}
		if len(pts) >= limit {
			return nil, tooManyPoints(limit)
		}
		pts = append(pts, lookup.Point{ID: strings.Clone(rec[0]), Lon: lon, Lat: lat})
	}
}

func writeResultsCSV(c echo.Context, res []lookup.Result) error {
	c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	c.Response().WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(c.Response(), 64<<10)
	// A BOM, as the CSV downloads have: Excel reads UTF-8 only with one,
	// and shows the names as mojibake without.
	bw.WriteString("\uFEFF")
	w := csv.NewWriter(bw)
	w.Write([]string{"id", "district_code", "district_name", "street_code", "street_name", "community_code", "community_name", //nolint:errcheck
		"grid_code", "grid_name", "on_boundary", "zones"})
	rec := make([]string, 11)
	unit := func(u *lookup.Unit, i int) {
		rec[i], rec[i+1] = "", ""
		if u != nil {
			rec[i], rec[i+1] = u.Code, u.Name
		}
	}
	for _, r := range res {
		rec[0] = r.ID
		unit(r.District, 1)
		unit(r.Street, 3)
		unit(r.Community, 5)
		unit(r.Grid, 7)
		rec[9] = strconv.FormatBool(r.OnBoundary)
		ids := make([]string, len(r.Zones))
		for i, z := range r.Zones {
			ids[i] = z.ID
		}
		rec[10] = strings.Join(ids, ";")
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

func writeResultsJSON(c echo.Context, day time.Time, crs geo.CRS, res []lookup.Result) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(c.Response(), 64<<10)
	fmt.Fprintf(bw, `{"at":%q,"crs":%q,"count":%d,"results":[`, day.Format("2006-01-02"), crs.Name, len(res))
	// Appended by hand: reflection-based encoding of 100,000 results costs
	// more than looking them up.
	buf := make([]byte, 0, 512)
	for i := range res {
		buf = appendResult(buf[:0], &res[i])
		if i > 0 {
			bw.WriteByte(',')
		}
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// appendResult appends r as JSON, as encoding/json would write it.
func appendResult(b []byte, r *lookup.Result) []byte {
	b = append(b, '{')
	if r.ID != "" {
		b = append(b, `"id":`...)
		b = boundaries.AppendJSONString(b, r.ID)
		b = append(b, ',')
	}
	for i, u := range [...]*lookup.Unit{r.District, r.Street, r.Community, r.Grid} {
		b = append(b, [...]string{`"district":`, `,"street":`, `,"community":`, `,"grid":`}[i]...)
		if u == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, `{"code":`...)
		b = boundaries.AppendJSONString(b, u.Code)
		b = append(b, `,"name":`...)
		b = boundaries.AppendJSONString(b, u.Name)
		b = append(b, '}')
	}
	b = append(b, `,"on_boundary":`...)
	b = strconv.AppendBool(b, r.OnBoundary)
	b = append(b, `,"zones":[`...)
	for i, z := range r.Zones {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = boundaries.AppendJSONString(b, z.ID)
		b = append(b, `,"kind":`...)
		b = boundaries.AppendJSONString(b, string(z.Kind))
		b = append(b, `,"level":`...)
		b = boundaries.AppendJSONString(b, string(z.Level))
		b = append(b, `,"codes":[`...)
		for j, c := range z.Codes {
			if j > 0 {
				b = append(b, ',')
			}
			b = boundaries.AppendJSONString(b, c)
		}
		b = append(b, "]}"...)
	}
	return append(b, "]}"...)
}

func (s *Server) changes(c echo.Context) error {
	var sinceID int64
	var sinceT time.Time
	if v := c.QueryParam("since"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			sinceID = n
		} else if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			sinceT = t
		} else if d, err := boundaries.ParseDate(v); err == nil {
			sinceT = d
		} else {
			return param.BadRequest("since", "want a change id, an RFC 3339 timestamp or YYYY-MM-DD")
		}
	}
	limit, err := param.Int(c, "limit", 1000)
	if err != nil {
		return err
	}
	if limit == 0 || limit > units.MaxPageSize {
		return param.BadRequest("limit", fmt.Sprintf("want 1 to %d", units.MaxPageSize))
	}
	ch, err := units.Changes(c.Request().Context(), s.db, sinceID, sinceT, limit)
	if err != nil {
		return err
	}
	next := sinceID
	if len(ch) > 0 {
		next = ch[len(ch)-1].ID
	}
	return c.JSON(http.StatusOK, map[string]any{"changes": ch, "next": next, "more": len(ch) == limit})
}

func (s *Server) auditLog(c echo.Context) error {
	since, err := param.Int(c, "since", 0)
	if err != nil {
		return err
	}
	limit, err := param.Int(c, "limit", 1000)
	if err != nil {
		return err
	}
	if limit == 0 || limit > units.MaxPageSize {
		return param.BadRequest("limit", fmt.Sprintf("want 1 to %d", units.MaxPageSize))
	}
	entries, err := units.AuditLog(c.Request().Context(), s.db, int64(since), c.QueryParam("code"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"entries": entries})
}

// readEdit reads a write's GeoJSON Feature; approval, valid_from, crs and
// allow_orphans may also be given as query parameters (properties win).
func (s *Server) readEdit(c echo.Context) (*units.Edit, error) {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		if e := param.APIError(err); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("read body: %w", err)
	}
	e, err := units.ParseFeature(body)
	if err != nil {
		return nil, param.APIError(err)
	}
	if e.Approval == "" {
		e.Approval = c.QueryParam("approval")
	}
	if e.ValidFrom.IsZero() && c.QueryParam("valid_from") != "" {
		if e.ValidFrom, err = param.At(c, "valid_from"); err != nil {
			return nil, err
		}
	}
	if v := c.QueryParam("crs"); v != "" {
		crs, err := geo.ParseCRS(v)
		if err != nil {
			return nil, param.BadRequest("crs", err.Error())
		}
		e.CRS = &crs
	}
	if v := c.QueryParam("allow_orphans"); v != "" {
		if e.AllowOrphans, err = strconv.ParseBool(v); err != nil {
			return nil, param.BadRequest("allow_orphans", "want true or false")
		}
	}
	if e.DryRun, err = dryRun(c); err != nil {
		return nil, err
	}
	if v := c.QueryParam("force"); v != "" {
		if e.Force, err = strconv.ParseBool(v); err != nil {
			return nil, param.BadRequest("force", "want true or false")
		}
	}
	// Held to the default profile's tolerances, as the analysis would
	// flag the unit (crosses_parent, overlap).
	p, err := s.profiles.Profile(c)
	if err != nil {
		return nil, err
	}
	e.Fit = &units.Fit{MinOutsideShare: p.MinOutsideShare(), MinArea: p.MinZoneArea()}
	return e, nil
}

// writeParams refuses query parameters a write route does not take: a
// typo (?dryrun=true) must not commit what the client meant to try.
func writeParams(c echo.Context, allowed ...string) error {
	for name := range c.QueryParams() {
		if !slices.Contains(allowed, name) {
			takes := "no query parameters: the request body carries everything"
			if len(allowed) > 0 {
				takes = strings.Join(allowed, ", ")
			}
			return param.BadRequest(name, "unknown parameter for "+c.Request().Method+" (this route takes "+takes+")")
		}
	}
	return nil
}

// dryRun reads ?dry_run=: validate, report and roll back.
func dryRun(c echo.Context) (bool, error) {
	v := c.QueryParam("dry_run")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, param.BadRequest("dry_run", "want true or false")
	}
	return b, nil
}

// ifMatch reads the If-Match a change needs: 428 without one; "*" matches
// the current version (units.AnyVersion); a weak ETag never matches (RFC
// 9110 compares If-Match strongly), nor does one that is not ours.
func ifMatch(c echo.Context) (int64, error) {
	im := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	switch {
	case im == "":
		return 0, param.Error(http.StatusPreconditionRequired, param.CodeETagRequired, "If-Match with the unit's ETag (from GET /api/v1/units/{code}) is required")
	case im == "*":
		return units.AnyVersion, nil
	case strings.HasPrefix(im, "W/"):
		return -1, nil
	}
	if v, ok := parseETag(im); ok {
		return v, nil
	}
	return -1, nil
}

func writeResult(c echo.Context, status int, r *units.WriteResult) error {
	if !r.DryRun {
		c.Response().Header().Set("ETag", etag(r.VersionID))
	}
	return c.JSON(status, r)
}

// withVersion fills a write's result with the version as the API renders
// it (a dry run wrote none).
func (s *Server) withVersion(c echo.Context, r *units.WriteResult) error {
	if r.DryRun {
		return nil
	}
	// Measured in the analysis of the day the version starts (today for a
	// change already in force, or a retirement): the write moved the data
	// version, so the run is brought up to date with it (incrementally,
	// tens of milliseconds), zones included.
	day := boundaries.Today()
	if r.ValidFrom.After(day) {
		day = r.ValidFrom
	}
	p, err := s.profiles.Profile(c)
	if err != nil {
		return err
	}
	// Reading replicas, the run is found where the node reads: wait for
	// its replica to hold this write first, or the run would be the one
	// before it. A replica too slow for that leaves the write unmeasured
	// (it committed; a 503 would say otherwise).
	if s.db.HasReplicas() {
		if v, err := s.db.DataVersion(c.Request().Context()); err == nil {
			if err := s.db.WaitVersion(c.Request().Context(), v, MinVersionWait); err != nil {
				slog.Warn("write answered without its analysis: the replica lags", "err", err)
				return nil
			}
		}
	}
	run, err := s.layers.Run(c.Request().Context(), p, day, 0)
	if err != nil {
		return param.APIError(err)
	}
	r.Analysis = &units.WriteAnalysis{RunID: run, At: day.Format("2006-01-02"),
		Note: "measures, status and zones of the live units on this day under the " + p.Name + " profile, this write included"}
	r.Unit, err = s.layers.Version(c.Request().Context(), r.VersionID, run)
	return err
}

// editParams are the query parameters PUT and POST take.
var editParams = []string{"approval", "valid_from", "crs", "allow_orphans", "dry_run", "force"}

func (s *Server) createUnit(c echo.Context) error {
	if err := writeParams(c, editParams...); err != nil {
		return err
	}
	e, err := s.readEdit(c)
	if err != nil {
		return err
	}
	r, err := units.Create(c.Request().Context(), s.db, e, s.actor(c))
	if err != nil {
		return param.APIError(err)
	}
	if err := s.withVersion(c, r); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/units/"+e.Code)
	return writeResult(c, http.StatusCreated, r)
}

func (s *Server) putUnit(c echo.Context) error {
	if err := writeParams(c, editParams...); err != nil {
		return err
	}
	v, err := ifMatch(c)
	if err != nil {
		return err
	}
	if err := units.Precondition(c.Request().Context(), s.db, c.Param("code"), v); err != nil {
		return param.APIError(err)
	}
	e, err := s.readEdit(c)
	if err != nil {
		return err
	}
	r, err := units.Update(c.Request().Context(), s.db, c.Param("code"), v, e, s.actor(c))
	if err != nil {
		return param.APIError(err)
	}
	if err := s.withVersion(c, r); err != nil {
		return err
	}
	return writeResult(c, http.StatusOK, r)
}

// deleteUnit retires a unit: approval and valid_to come from a JSON body
// or the query; If-Match is required, as for PUT.
func (s *Server) deleteUnit(c echo.Context) error {
	if err := writeParams(c, "approval", "valid_to", "dry_run"); err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	if err := units.Precondition(c.Request().Context(), s.db, c.Param("code"), match); err != nil {
		return param.APIError(err)
	}
	dry, err := dryRun(c)
	if err != nil {
		return err
	}
	var body struct {
		Approval string `json:"approval"`
		ValidTo  string `json:"valid_to"`
	}
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return param.APIError(err)
	}
	if len(strings.TrimSpace(string(raw))) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			return param.Error(http.StatusBadRequest, param.CodeInvalidBody, "body: want {\"approval\": ..., \"valid_to\": \"YYYY-MM-DD\"}: "+err.Error())
		}
	}
	if body.Approval == "" {
		body.Approval = c.QueryParam("approval")
	}
	if body.ValidTo == "" {
		body.ValidTo = c.QueryParam("valid_to")
	}
	var validTo time.Time
	if body.ValidTo != "" {
		if validTo, err = boundaries.ParseDate(body.ValidTo); err != nil {
			return param.BadRequest("valid_to", err.Error())
		}
	}
	r, err := units.Retire(c.Request().Context(), s.db, c.Param("code"), match, validTo, body.Approval, dry, s.actor(c))
	if err != nil {
		return param.APIError(err)
	}
	if err := s.withVersion(c, r); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// importFields are the form fields of POST /api/v1/imports: the CLI's flags
// with underscores.
var importFields = []string{"level", "crs", "code_field", "name_field", "parent_field", "households_field", "population_field",
	"kind_field", "valid_from", "approval", "encoding", "provisional_codes", "allow_orphans", "dry_run"}

// markStale flags an answer from memory while the database is out of
// reach: it may not show the last writes.
func (s *Server) markStale(c echo.Context) {
	if s.db.Degraded() {
		c.Response().Header().Set("X-Jiedao-Stale", "true")
	}
}

// uploadPrefix names the temp folders of uploads (swept at start).
const uploadPrefix = "jiedao-upload-"

// postImport streams a multipart upload to a temporary file and imports it
// with the CLI's options: 201 committed, 200 dry run, 422 rejected (with
// the report), 413 beyond the upload limit.
func (s *Server) postImport(c echo.Context) error {
	if err := writeParams(c); err != nil {
		return err
	}
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return param.Error(http.StatusBadRequest, param.CodeInvalidBody, "want multipart/form-data with a file field: "+err.Error())
	}
	dir, err := os.MkdirTemp("", uploadPrefix)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer os.RemoveAll(dir)
	fields := map[string]string{}
	var path, name string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if e := param.APIError(err); e != err {
				return e
			}
			return param.Error(http.StatusBadRequest, param.CodeInvalidBody, "multipart: "+err.Error())
		}
		field := part.FormName()
		if part.FileName() != "" || field == "file" {
			if path != "" {
				return param.BadRequest("file", "send one file")
			}
			// The importer picks the format by extension, so keep it.
			name = filepath.Base(filepath.Clean("/" + part.FileName()))
			if name == "/" || name == "." {
				name = "upload.geojson"
			}
			path = filepath.Join(dir, name)
			f, err := os.Create(path)
			if err != nil {
				return fmt.Errorf("upload: %w", err)
			}
			_, err = io.Copy(f, part)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				if e := param.APIError(err); e != err {
					return e
				}
				return fmt.Errorf("upload: %w", err)
			}
			continue
		}
		if !containsStr(importFields, field) {
			return param.BadRequest(field, "unknown field; want file and "+strings.Join(importFields, ", "))
		}
		b, err := io.ReadAll(io.LimitReader(part, 1<<16))
		if err != nil {
			return param.APIError(err)
		}
		fields[field] = strings.TrimSpace(string(b))
	}
	if path == "" {
		return param.BadRequest("file", "required (GeoJSON, zipped Shapefile or GeoPackage)")
	}
	opt, err := importOptions(fields)
	if err != nil {
		return err
	}
	opt.Source = name
	opt.Limits = s.api().cfg.ImportLimits
	rep, err := importer.Import(c.Request().Context(), s.db, path, opt)
	if rep != nil {
		if aerr := importer.Record(c.Request().Context(), s.db, s.actor(c), rep); aerr != nil {
			slog.Error("audit import", "import_id", rep.ImportID, "err", aerr)
		}
	}
	switch {
	case err == nil && rep.Status == "dry-run":
		return c.JSON(http.StatusOK, rep)
	case err == nil:
		return c.JSON(http.StatusCreated, rep)
	case errors.Is(err, boundaries.ErrRejected):
		return c.JSON(http.StatusUnprocessableEntity, rep)
	case rep == nil:
		// Refused before reading any feature: the file or an option.
		return param.Error(http.StatusUnprocessableEntity, param.CodeValidationFailed, strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""))
	}
	// A file the reader gives up on mid-way is the client's to fix (422).
	return param.APIError(err)
}

func importOptions(f map[string]string) (importer.Options, error) {
	var o importer.Options
	var err error
	if o.Level, err = boundaries.ParseLevel(f["level"]); err != nil {
		return o, param.BadRequest("level", err.Error())
	}
	if v := f["crs"]; v != "" {
		c, err := geo.ParseCRS(v)
		if err != nil {
			return o, param.BadRequest("crs", err.Error())
		}
		o.CRS = &c
	}
	o.CodeField, o.NameField, o.ParentField = f["code_field"], f["name_field"], f["parent_field"]
	o.HouseholdsField, o.PopulationField, o.KindField = f["households_field"], f["population_field"], f["kind_field"]
	o.Approval, o.Encoding = f["approval"], f["encoding"]
	if v := f["valid_from"]; v != "" {
		if o.ValidFrom, err = boundaries.ParseDate(v); err != nil {
			return o, param.BadRequest("valid_from", err.Error())
		}
	}
	for _, b := range []struct {
		k   string
		dst *bool
	}{{"provisional_codes", &o.ProvisionalCodes}, {"allow_orphans", &o.AllowOrphans}, {"dry_run", &o.DryRun}} {
		if v := f[b.k]; v != "" {
			if *b.dst, err = strconv.ParseBool(v); err != nil {
				return o, param.BadRequest(b.k, "want true or false")
			}
		}
	}
	return o, nil
}
