package web

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is the server's Prometheus registry. Each server has its own
// (not the global default) so tests can start many servers in a process.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(store *store.Store, loc *lookup.Locator) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	// Labelled by route template (c.Path()), never the raw path, so unit
	// codes do not explode the series count.
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jiedao_http_requests_total", Help: "HTTP requests by method, route template and status code.",
	}, []string{"method", "route", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "jiedao_http_request_duration_seconds", Help: "HTTP request latency by method and route template.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"method", "route"})
	m.reg.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if store != nil {
		m.reg.MustRegister(poolCollector{store})
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jiedao_data_version", Help: "Data version (bumped by every write).",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			v, err := store.CurrentDataVersion(ctx)
			if err != nil {
				return -1
			}
			return float64(v)
		}))
	}
	if loc != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "jiedao_lookup_index_builds_total", Help: "Builds of the in-memory point lookup index.",
		}, func() float64 { return float64(loc.Builds()) }))
	}
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// middleware counts and times every request. It renders handler errors
// itself (as requestLog does) so the status it records is the one sent.
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		method := c.Request().Method
		m.requests.WithLabelValues(method, route, strconv.Itoa(c.Response().Status)).Inc()
		m.latency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		return nil
	}
}

// RegisterTileCacheMetrics exposes the tile cache's hit and miss counters
// (monotonic totals) on /metrics; the tile cache calls it once.
func (s *Server) RegisterTileCacheMetrics(hits, misses, bytes func() float64) {
	reg := s.api().metrics.reg
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "jiedao_tile_cache_hits_total", Help: "Tile cache hits."}, hits),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "jiedao_tile_cache_misses_total", Help: "Tile cache misses."}, misses),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "jiedao_tile_cache_bytes", Help: "Bytes held by the tile cache."}, bytes),
	} {
		if err := reg.Register(c); err != nil {
			slog.Warn("tile cache metrics", "err", err)
		}
	}
}

// poolCollector reports pgxpool statistics at scrape time.
type poolCollector struct{ store *store.Store }

var (
	poolAcquired = prometheus.NewDesc("jiedao_db_pool_acquired_conns", "Connections in use.", nil, nil)
	poolIdle     = prometheus.NewDesc("jiedao_db_pool_idle_conns", "Idle connections.", nil, nil)
	poolTotal    = prometheus.NewDesc("jiedao_db_pool_total_conns", "Open connections.", nil, nil)
	poolMax      = prometheus.NewDesc("jiedao_db_pool_max_conns", "Maximum connections.", nil, nil)
	poolAcquires = prometheus.NewDesc("jiedao_db_pool_acquires_total", "Connection acquisitions.", nil, nil)
	poolWaits    = prometheus.NewDesc("jiedao_db_pool_empty_acquires_total", "Acquisitions that had to wait for a connection.", nil, nil)
	poolWaitSecs = prometheus.NewDesc("jiedao_db_pool_acquire_seconds_total", "Time spent acquiring connections.", nil, nil)
	poolCanceled = prometheus.NewDesc("jiedao_db_pool_canceled_acquires_total", "Acquisitions canceled by their context.", nil, nil)
	poolNewConns = prometheus.NewDesc("jiedao_db_pool_new_conns_total", "Connections opened.", nil, nil)
	poolDescAll  = []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolWaits, poolWaitSecs, poolCanceled, poolNewConns}
)

func (p poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range poolDescAll {
		ch <- d
	}
}

func (p poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := p.store.Stats()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	c := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(poolAcquired, float64(st.Acquired))
	g(poolIdle, float64(st.Idle))
	g(poolTotal, float64(st.Total))
	g(poolMax, float64(st.Max))
	c(poolAcquires, float64(st.Acquires))
	c(poolWaits, float64(st.EmptyAcquires))
	c(poolWaitSecs, st.AcquireSeconds)
	c(poolCanceled, float64(st.CanceledAcquires))
	c(poolNewConns, float64(st.NewConns))
}
