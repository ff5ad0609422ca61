package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// With read pools, one monitor goroutine per Store checks the primary and
// every replica every checkInterval (faster while someone waits in
// WaitReplayed or WaitVersion) on connections of its own, so a pool busy
// with traffic is not taken for a dead server. Each check publishes an
// immutable readState: the replicas reads go to and the data version they
// all hold. NOTIFY is not replayed on standbys, so the version is polled
// on the replicas themselves: a cache keyed on it never names data the
// replica read from has not replayed.
//
// Invariant: every pool Reader returns holds at least ReadVersion's data.
// Versions only grow on a replica, and a replica joins the readers only
// once it holds the version read so far, so ReadVersion never goes back
// and a tile or index made after reading it is never older than its key.

const (
	// DefaultMaxReplicaLag is how far behind a replica may be and still be
	// read from (JIEDAO_MAX_REPLICA_LAG overrides it).
	DefaultMaxReplicaLag = 5 * time.Second
	checkInterval        = 200 * time.Millisecond
	fastCheckInterval    = 15 * time.Millisecond
	checkTimeout         = time.Second
)

// replica is one read pool; conn is the monitor's own connection to it.
type replica struct {
	name string
	pool *pgxpool.Pool
	conn *pgx.Conn
	// poolOK: the pool answered since the replica was last down (its
	// connections register types, which the monitor's do not).
	poolOK bool
}

// ReplicaStatus is what the last check saw of one replica, for /readyz and
// metrics.
type ReplicaStatus struct {
	Name    string        // host:port/database
	Up      bool          // answered the last check
	Reading bool          // reads go to it now
	Lag     time.Duration // how long it has lacked WAL the primary had; 0: caught up
	// ReplayAge is now() - pg_last_xact_replay_timestamp() on the replica:
	// the usual figure, shown but not used to decide, since it also grows
	// while the primary is idle.
	ReplayAge time.Duration
	ReplayLSN LSN   // pg_last_wal_replay_lsn()
	Version   int64 // the data version it has replayed
	Paused    bool  // replay paused (pg_wal_replay_pause)
	Err       string
	CheckedAt time.Time
}

// readState is one check's verdict; a newer one closes changed.
type readState struct {
	readers        []*replica
	lsns           []LSN           // replayed by readers[i]
	lags           []time.Duration // of readers[i]
	status         []ReplicaStatus // every replica, in the order given to Open
	version        int64           // the data version every reader holds
	primaryVersion int64           // at the last check that reached the primary
	fallback       bool            // replicas configured, none usable: reading the primary
	followed       bool            // the version was read at this check
	began          time.Time       // when the check began
	changed        chan struct{}
}

// monitor is the check loop's own state (one goroutine).
type monitor struct {
	primary     *pgx.Conn
	primaryDown bool
	samples     []walSample // the primary's WAL position over time, LSNs increasing
}

type walSample struct {
	at  time.Time
	lsn LSN
}

// observation is one replica's answer to a check.
type observation struct {
	err              error
	replay, received LSN
	replayAge        time.Duration
	paused           bool
	version          int64
}

func maxReplicaLagFromEnv() (time.Duration, error) {
	v := os.Getenv("JIEDAO_MAX_REPLICA_LAG")
	if v == "" {
		return DefaultMaxReplicaLag, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		// A bare number is seconds.
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil {
			return 0, fmt.Errorf("JIEDAO_MAX_REPLICA_LAG=%q: want a duration such as 5s or 500ms", v)
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d <= 0 {
		return 0, fmt.Errorf("JIEDAO_MAX_REPLICA_LAG=%q: want a positive duration", v)
	}
	return d, nil
}

// SetMaxReplicaLag sets how far behind the primary a replica may be and
// still be read from; beyond it reads go to the primary.
func (s *Store) SetMaxReplicaLag(d time.Duration) { s.maxLag.Store(int64(d)) }

// MaxReplicaLag is the limit of SetMaxReplicaLag.
func (s *Store) MaxReplicaLag() time.Duration { return time.Duration(s.maxLag.Load()) }

// HasReplicas reports whether read pools were given to Open.
func (s *Store) HasReplicas() bool { return len(s.replicas) > 0 }

// ReadingPrimary reports that read pools are configured but reads go to
// the primary: every replica lags more than MaxReplicaLag or is down.
// Without read pools it is false: the primary is then the normal reader.
func (s *Store) ReadingPrimary() bool {
	st := s.state.Load()
	return st != nil && st.fallback
}

// ReplicaStatus is the last check of every read pool (nil without them).
func (s *Store) ReplicaStatus() []ReplicaStatus {
	st := s.state.Load()
	if st == nil {
		return nil
	}
	return append([]ReplicaStatus(nil), st.status...)
}

// startMonitor runs the first check before Open returns, so the first
// read already goes where it should, then checks until Close.
func (s *Store) startMonitor(ctx context.Context) {
	s.monitor = &monitor{}
	s.state.Store(&readState{fallback: true, changed: make(chan struct{})})
	cctx, cancel := context.WithTimeout(ctx, 3*checkTimeout)
	s.check(cctx)
	cancel()
	mctx, stop := context.WithCancel(context.Background())
	s.stopMon, s.monDone = stop, make(chan struct{})
	go s.monitorLoop(mctx)
}

func (s *Store) monitorLoop(ctx context.Context) {
	defer close(s.monDone)
	defer s.monitor.close(s.replicas)
	last := time.Now()
	for {
		interval := checkInterval
		if s.waiters.Load() > 0 {
			interval = fastCheckInterval
		}
		t := time.NewTimer(time.Until(last.Add(interval)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-s.kick:
			t.Stop()
			// A kick shortens the wait, but checks stay apart by the fast interval.
			time.Sleep(time.Until(last.Add(fastCheckInterval)))
		}
		last = time.Now()
		s.check(ctx)
	}
}

// poke asks the monitor for a check now.
func (s *Store) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// failTracer asks for a check as soon as a read pool's query fails for
// want of its server, instead of at the next tick.
type failTracer struct{ s *Store }

func (f failTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (f failTracer) TraceQueryEnd(_ context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	if data.Err != nil && Unavailable(data.Err) {
		f.s.poke()
	}
}

// Failover is for a read that failed with err: when err means a server
// went away (Unavailable) and there are read pools, it waits (at most a
// second) for a check begun after the failure and reports true: reads then
// go where that check says (another replica, or the primary), and the
// caller may retry once. Otherwise it reports false at once.
func (s *Store) Failover(ctx context.Context, err error) bool {
	if len(s.replicas) == 0 || !Unavailable(err) {
		return false
	}
	failed := time.Now()
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	s.poke()
	for {
		st := s.state.Load()
		if st.began.After(failed) {
			return true
		}
		select {
		case <-st.changed:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// check observes the primary and every replica and publishes the verdict.
func (s *Store) check(ctx context.Context) {
	m := s.monitor
	began := time.Now()
	pv, plsn, perr := m.samplePrimary(ctx, s.primary)
	if perr == nil {
		m.addSample(time.Now(), plsn, 2*s.MaxReplicaLag()+2*time.Second)
	}
	obs := make([]observation, len(s.replicas))
	var wg sync.WaitGroup
	for i, r := range s.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			obs[i] = r.observe(ctx)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil && s.closed.Load() {
		return
	}
	prev := s.state.Load()
	next := s.verdict(prev, obs, pv, perr == nil, time.Now())
	next.began = began
	logChanges(prev, next)
	if (perr != nil) != m.primaryDown {
		m.primaryDown = perr != nil
		if perr != nil {
			slog.Warn("replica monitor: the primary does not answer", "err", perr)
		} else {
			slog.Info("replica monitor: the primary answers again")
		}
	}
	s.state.Store(next)
	close(prev.changed)
}

// verdict decides which replicas are read from. A replica is read when it
// is up, within MaxReplicaLag and holds the version read so far; one not
// yet read must also have replayed what WaitReplayed callers wait for.
func (s *Store) verdict(prev *readState, obs []observation, pv int64, primaryOK bool, now time.Time) *readState {
	maxLag, minLSN := s.MaxReplicaLag(), LSN(s.minLSN.Load())
	next := &readState{changed: make(chan struct{}), primaryVersion: prev.primaryVersion}
	if primaryOK {
		next.primaryVersion = pv
	}
	for i, r := range s.replicas {
		o := obs[i]
		st := ReplicaStatus{Name: r.name, Up: o.err == nil, ReplayLSN: o.replay, ReplayAge: o.replayAge,
			Version: o.version, Paused: o.paused, CheckedAt: now}
		if o.err == nil {
			st.Lag = s.monitor.lag(o, primaryOK, now)
		}
		switch {
		case o.err != nil:
			st.Err = o.err.Error()
		case st.Lag > maxLag:
			st.Err = fmt.Sprintf("lag %s over the limit %s", st.Lag.Round(time.Millisecond), maxLag)
		case o.version < prev.version:
			st.Err = fmt.Sprintf("at data version %d, behind the %d read so far", o.version, prev.version)
		case !prev.reads(r) && o.replay < minLSN:
			st.Err = fmt.Sprintf("replayed %s, before %s awaited", o.replay, minLSN)
		default:
			st.Reading = true
			next.readers = append(next.readers, r)
			next.lsns = append(next.lsns, o.replay)
			next.lags = append(next.lags, st.Lag)
		}
		next.status = append(next.status, st)
	}
	switch {
	case len(next.readers) > 0:
		next.followed, next.version = true, -1
		for _, st := range next.status {
			if st.Reading && (next.version < 0 || st.Version < next.version) {
				next.version = st.Version
			}
		}
	case primaryOK:
		next.fallback, next.followed, next.version = true, true, max(prev.version, pv)
	default:
		next.fallback, next.version = true, prev.version
	}
	return next
}

func (st *readState) reads(r *replica) bool {
	for _, x := range st.readers {
		if x == r {
			return true
		}
	}
	return false
}

// logChanges logs a replica going down or up and reads moving to or from
// the primary (at the first check: what is not read, and why).
func logChanges(prev, next *readState) {
	first := len(prev.status) == 0
	for i, st := range next.status {
		was := !first && prev.status[i].Reading
		switch {
		case !st.Reading && (was || first):
			slog.Warn("replica not read from", "replica", st.Name, "why", st.Err)
		case st.Reading && !was && !first:
			slog.Info("replica read from", "replica", st.Name, "lag", st.Lag, "version", st.Version)
		}
	}
	switch {
	case next.fallback && (first || !prev.fallback):
		slog.Warn("reading the primary: no replica is usable", "version", next.version)
	case !next.fallback && prev.fallback && !first:
		slog.Info("reading replicas again", "version", next.version)
	}
	if !next.followed && (first || prev.followed) {
		slog.Warn("neither a replica nor the primary answers: the data version is not followed")
	}
}

// lag is how long the replica has lacked WAL the primary had: the age of
// the first sample of the primary's position past what it has replayed.
// Unlike the age of the last replayed commit this stays 0 while the
// primary is idle, and it needs no synchronised clocks. Without the
// primary, only what the replica received but has not replayed counts.
func (m *monitor) lag(o observation, primaryOK bool, now time.Time) time.Duration {
	if primaryOK && len(m.samples) > 0 {
		return lagFromSamples(m.samples, o.replay, now)
	}
	if o.received == 0 || o.replay >= o.received {
		return 0
	}
	return o.replayAge
}

func lagFromSamples(samples []walSample, replayed LSN, now time.Time) time.Duration {
	i := sort.Search(len(samples), func(i int) bool { return samples[i].lsn > replayed })
	if i == len(samples) {
		return 0
	}
	return max(0, now.Sub(samples[i].at))
}

// addSample records the primary's position when it moved, and forgets
// samples out of window, keeping the newest one older than it: a replica
// behind every kept sample is then at least window behind.
func (m *monitor) addSample(at time.Time, lsn LSN, window time.Duration) {
	n := len(m.samples)
	switch {
	case n > 0 && lsn < m.samples[n-1].lsn: // a new primary: positions restart
		m.samples = append(m.samples[:0], walSample{at, lsn})
	case n == 0 || lsn > m.samples[n-1].lsn:
		m.samples = append(m.samples, walSample{at, lsn})
	}
	for len(m.samples) > 1 && at.Sub(m.samples[1].at) > window {
		m.samples = m.samples[1:]
	}
}

// samplePrimary reads the primary's WAL write position and data version on
// the monitor's own connection.
func (m *monitor) samplePrimary(ctx context.Context, pool *pgxpool.Pool) (int64, LSN, error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if m.primary == nil {
		c, err := dial(ctx, pool)
		if err != nil {
			return 0, 0, err
		}
		m.primary = c
	}
	var lsn string
	err := m.primary.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn)
	var v int64
	if err == nil {
		v, err = dataVersionOf(ctx, m.primary)
	}
	if err != nil {
		m.primary.Close(context.Background()) //nolint:errcheck // a failed conn is remade next check
		m.primary = nil
		return 0, 0, fmt.Errorf("check primary: %w", err)
	}
	l, err := ParseLSN(lsn)
	return v, l, err
}

// observe checks one replica on the monitor's connection; when it comes
// back up its pool is pinged once, and when it goes down the pool's
// connections are dropped so reads do not meet dead ones later.
func (r *replica) observe(ctx context.Context) observation {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	o, err := r.query(ctx)
	if err == nil && !r.poolOK {
		if err = r.pool.Ping(ctx); err == nil {
			r.poolOK = true
		}
	}
	if err != nil {
		if r.conn != nil {
			r.conn.Close(context.Background()) //nolint:errcheck // remade next check
			r.conn = nil
		}
		if r.poolOK {
			r.pool.Reset()
			r.poolOK = false
		}
		return observation{err: err}
	}
	return o
}

func (r *replica) query(ctx context.Context) (observation, error) {
	if r.conn == nil {
		c, err := dial(ctx, r.pool)
		if err != nil {
			return observation{}, err
		}
		r.conn = c
	}
	var o observation
	var replay, received string
	var age float64
	// A read URL that is not a standby (the primary itself) has everything
	// committed: its insert position stands for the replayed one.
	err := r.conn.QueryRow(ctx, `SELECT
		coalesce((CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text, ''),
		coalesce(pg_last_wal_receive_lsn()::text, ''),
		coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8,
		CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END`).Scan(&replay, &received, &age, &o.paused)
	if err != nil {
		return o, fmt.Errorf("check replica %s: %w", r.name, err)
	}
	if o.replay, err = ParseLSN(replay); err != nil {
		return o, err
	}
	if o.received, err = ParseLSN(received); err != nil {
		return o, err
	}
	o.replayAge = time.Duration(age * float64(time.Second))
	if o.version, err = dataVersionOf(ctx, r.conn); err != nil {
		return o, fmt.Errorf("check replica %s: %w", r.name, err)
	}
	return o, nil
}

// dial opens a connection of the monitor's own to a pool's server.
func dial(ctx context.Context, pool *pgxpool.Pool) (*pgx.Conn, error) {
	cfg := pool.Config().ConnConfig.Copy()
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > checkTimeout {
		cfg.ConnectTimeout = checkTimeout
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	return c, nil
}

// dataVersionOf reads meta.data_version; a database not yet migrated is
// at version 0.
func dataVersionOf(ctx context.Context, c *pgx.Conn) (int64, error) {
	var v int64
	err := c.QueryRow(ctx, "SELECT data_version FROM meta").Scan(&v)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read data version: %w", err)
	}
	return v, nil
}

func (m *monitor) close(rs []*replica) {
	if m.primary != nil {
		m.primary.Close(context.Background()) //nolint:errcheck // closing
	}
	for _, r := range rs {
		if r.conn != nil {
			r.conn.Close(context.Background()) //nolint:errcheck // closing
		}
	}
}

// LSN is a position in the write-ahead log (pg_lsn).
type LSN uint64

// ParseLSN reads the text form of a pg_lsn, e.g. 16/B374D848 (empty: 0).
func ParseLSN(s string) (LSN, error) {
	if s == "" {
		return 0, nil
	}
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse LSN %q: want hex/hex", s)
	}
	return LSN(h<<32 | l), nil
}

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint32(l)) }
