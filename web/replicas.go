package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/web/param"
)

// Headers of read-your-writes across nodes: a write answers with the data
// version it made (the primary's, after it), and a read naming it waits
// until the node's reader holds it. X-Jiedao-Read-From says, with read
// pools, whether a read went to a replica or (falling back) the primary.
const (
	HeaderDataVersion = "X-Jiedao-Data-Version"
	HeaderMinVersion  = "If-Min-Version"
	HeaderReadFrom    = "X-Jiedao-Read-From"
)

// MinVersionWait bounds how long a read naming a version waits for the
// node's replica to replay it; beyond it the answer is 503 + Retry-After.
const MinVersionWait = 2 * time.Second

// replicaReads is the middleware of reading replicas: the write's version
// on write responses, the wait of If-Min-Version / ?min_version= on reads
// and the X-Jiedao-Read-From header (see failoverReads for the retry).
func replicaReads(st *store.Store) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				stampVersion(c, st)
				return next(c)
			}
			if err := waitMinVersion(c, st); err != nil {
				return err
			}
			if st.HasReplicas() {
				from := "replica"
				if st.ReadingPrimary() {
					from = "primary"
				}
				c.Response().Header().Set(HeaderReadFrom, from)
			}
			return next(c)
		}
	}
}

// failoverReads retries, once, a read whose server went away, after the
// replica monitor has moved reads (to another replica or the primary):
// stopping a standby then costs no 5xx. It is the innermost middleware,
// so that the error is seen before anything renders it.
func failoverReads(st *store.Store) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			r := c.Request()
			if err == nil || r.Method != http.MethodGet || c.Response().Committed || !st.Failover(r.Context(), err) {
				return err
			}
			if st.ReadingPrimary() {
				c.Response().Header().Set(HeaderReadFrom, "primary")
			}
			return next(c)
		}
	}
}

// stampVersion sets X-Jiedao-Data-Version on a 2xx write response, just
// before its header goes out (the write has committed by then): the
// primary's version, which a read on any node may then ask for.
func stampVersion(c echo.Context, st *store.Store) {
	res := c.Response()
	ctx := c.Request().Context()
	res.Before(func() {
		if res.Status < 200 || res.Status > 299 {
			return
		}
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if v, err := st.DataVersion(qctx); err == nil {
			res.Header().Set(HeaderDataVersion, strconv.FormatInt(v, 10))
		}
	})
}

// waitMinVersion reads If-Min-Version or ?min_version= (the parameter is
// then removed, so routes that refuse unknown parameters never see it) and
// waits for the node's reader to hold that version.
func waitMinVersion(c echo.Context, st *store.Store) error {
	name, raw := HeaderMinVersion, c.Request().Header.Get(HeaderMinVersion)
	if q := c.QueryParams(); q.Has("min_version") {
		name, raw = "min_version", q.Get("min_version")
		q.Del("min_version")
		u := c.Request().URL
		uq := u.Query()
		uq.Del("min_version")
		u.RawQuery = uq.Encode()
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || v < 0 {
		return param.BadRequest(name, "want a data version (a non-negative integer, as X-Jiedao-Data-Version gives)")
	}
	err = st.WaitVersion(c.Request().Context(), v, MinVersionWait)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrVersionAhead):
		return param.BadRequest(name, err.Error())
	}
	return err
}

// retryAfter is the Retry-After of a 503: the lag error's own estimate,
// else 5 s.
func retryAfter(err error) string {
	var le *store.LagError
	if errors.As(err, &le) && le.RetryAfter > 0 {
		return strconv.Itoa(int(le.RetryAfter.Round(time.Second) / time.Second))
	}
	return "5"
}

// readyState is /readyz's report of the node's reads.
type readyState struct {
	Version        int64           `json:"version"` // the data version the node reads (ReadVersion)
	ReadingPrimary bool            `json:"reading_primary"`
	MaxReplicaLag  string          `json:"max_replica_lag,omitempty"`
	Replicas       []replicaReport `json:"replicas,omitempty"`
}

type replicaReport struct {
	Name      string  `json:"name"`
	Up        bool    `json:"up"`
	Reading   bool    `json:"reading"`
	LagMS     int64   `json:"lag_ms"`
	ReplayAge float64 `json:"replay_age_s"`
	ReplayLSN string  `json:"replay_lsn"`
	Version   int64   `json:"version"`
	Paused    bool    `json:"paused"`
	Error     string  `json:"error,omitempty"`
	CheckedAt string  `json:"checked_at"`
}

func readsOf(st *store.Store) (readyState, bool) {
	out := readyState{Version: st.ReadVersion(), ReadingPrimary: st.ReadingPrimary()}
	if !st.HasReplicas() {
		return out, false
	}
	out.MaxReplicaLag = st.MaxReplicaLag().String()
	anyReading := false
	for _, r := range st.ReplicaStatus() {
		anyReading = anyReading || r.Reading
		out.Replicas = append(out.Replicas, replicaReport{Name: r.Name, Up: r.Up, Reading: r.Reading,
			LagMS: r.Lag.Milliseconds(), ReplayAge: r.ReplayAge.Seconds(), ReplayLSN: r.ReplayLSN.String(),
			Version: r.Version, Paused: r.Paused, Error: r.Err, CheckedAt: r.CheckedAt.UTC().Format(time.RFC3339Nano)})
	}
	return out, anyReading
}
