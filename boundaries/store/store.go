// Package store is jiedao's database: the connection pools (a primary for
// writes and optional read pools for the read paths), the embedded
// migrations, the data version that caches key on (kept in memory through
// LISTEN/NOTIFY on a single node, polled on the replica it reads from
// otherwise), replica health and lag, and the small SQL helpers every
// feature package shares.
// It knows no feature: feature packages hold their own SQL.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxgeom "github.com/twpayne/pgx-geom"

	"github.com/jiedao/jiedao/data"
)

// Store holds the pools and the cached data version.
type Store struct {
	primary *pgxpool.Pool
	// replicas are the read pools (standbys); none: reads use the primary.
	replicas []*replica
	next     atomic.Uint64

	closed atomic.Bool

	version   atomic.Int64 // cached data version (see Watch), without replicas
	watching  atomic.Bool
	mu        sync.Mutex
	stopWatch []context.CancelFunc

	// With replicas a monitor decides where reads go (see replica.go).
	state   atomic.Pointer[readState]
	maxLag  atomic.Int64  // nanoseconds
	minLSN  atomic.Uint64 // highest LSN waited for: a replica joins the readers past it
	waiters atomic.Int32  // WaitReplayed/WaitVersion callers: check faster
	kick    chan struct{}
	stopMon context.CancelFunc
	monDone chan struct{}
	monitor *monitor
}

// Open connects to the primary at url and, when given, to read pools
// (streaming replicas) at readURLs; JIEDAO_DB_POOL sizes each pool and
// JIEDAO_MAX_REPLICA_LAG bounds how old a replica may be to be read (see
// SetMaxReplicaLag). A replica that cannot be reached yet is not an error:
// reads use the primary until it answers.
func Open(ctx context.Context, url string, readURLs ...string) (*Store, error) {
	maxLag, err := maxReplicaLagFromEnv()
	if err != nil {
		return nil, err
	}
	primary, err := connect(ctx, url, true, nil)
	if err != nil {
		return nil, err
	}
	s := &Store{primary: primary, kick: make(chan struct{}, 1)}
	s.maxLag.Store(int64(maxLag))
	for _, u := range readURLs {
		p, err := connect(ctx, u, false, failTracer{s})
		if err != nil && p == nil {
			s.Close()
			return nil, err
		}
		if err != nil {
			slog.Warn("read pool not reachable yet; reading the primary until it is", "url", redact(u), "err", err)
		}
		s.replicas = append(s.replicas, &replica{name: poolName(p), pool: p})
	}
	if len(s.replicas) > 0 {
		s.startMonitor(ctx)
	}
	return s, nil
}

// connect makes a pool. A read pool is returned with the error when only
// the ping failed, so that the caller may keep it and retry later.
func connect(ctx context.Context, url string, primary bool, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url %s: %w", redact(url), err)
	}
	// The URL's pool_max_conns wins; else JIEDAO_DB_POOL; else pgx's
	// default (4, or the CPU count when larger).
	if v := os.Getenv("JIEDAO_DB_POOL"); v != "" && !strings.Contains(url, "pool_max_conns") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 || n > 1000 {
			return nil, fmt.Errorf("JIEDAO_DB_POOL=%q: want a number of connections from 2 to 1000", v)
		}
		cfg.MaxConns = int32(n)
	}
	if tracer != nil {
		cfg.ConnConfig.Tracer = tracer
	}
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if err := ensurePostGIS(ctx, conn, primary); err != nil {
			return err
		}
		return pgxgeom.Register(ctx, conn)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		if primary {
			pool.Close()
			return nil, fmt.Errorf("connect %s: %w", redact(url), err)
		}
		return pool, fmt.Errorf("connect %s: %w", redact(url), err)
	}
	return pool, nil
}

// ensurePostGIS creates the postgis extension where it is missing and the
// connection may write: pgx-geom needs the types' OIDs, which do not exist
// on a fresh database. A hot standby (or a read-only login) refuses DDL,
// so there it is only checked, in the same round trip that a primary
// would spend on CREATE EXTENSION IF NOT EXISTS.
func ensurePostGIS(ctx context.Context, conn *pgx.Conn, primary bool) error {
	var have, readOnly bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis'),
		pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'`).Scan(&have, &readOnly)
	if err != nil {
		return fmt.Errorf("check extension postgis: %w", err)
	}
	switch {
	case have:
		return nil
	case readOnly || !primary:
		return errors.New("extension postgis is not installed and this connection cannot create it (a read-only standby or read pool): " +
			"run `jiedao migrate` against the primary first")
	}
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS postgis"); err != nil {
		return fmt.Errorf("create extension postgis: %w", err)
	}
	return nil
}

// poolName is host:port/database of a pool, for status and logs (never
// the password).
func poolName(p *pgxpool.Pool) string {
	c := p.Config().ConnConfig
	return fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database)
}

// Primary is the pool of writes, migrations, analysis runs, imports and
// plans.
func (s *Store) Primary() *pgxpool.Pool { return s.primary }

// PoolSize is the primary pool's connection budget.
func (s *Store) PoolSize() int { return int(s.primary.Config().MaxConns) }

// Reader is a pool for a read path (tiles, OGC items, downloads, lookups,
// lists): the usable replicas in turn (up, and no further behind than
// MaxReplicaLag), else the primary. Every pool it returns holds at least
// ReadVersion's data, so a cache entry made from it under that version is
// never older than its key.
func (s *Store) Reader() *pgxpool.Pool {
	st := s.state.Load()
	if st == nil || len(st.readers) == 0 {
		return s.primary
	}
	return st.readers[int(s.next.Add(1)%uint64(len(st.readers)))].pool
}

// Close stops the version listener and the replica monitor and releases
// the pools.
func (s *Store) Close() {
	s.closed.Store(true)
	s.mu.Lock()
	for _, stop := range s.stopWatch {
		stop()
	}
	s.stopWatch = nil
	s.mu.Unlock()
	if s.stopMon != nil {
		s.stopMon()
		<-s.monDone
	}
	for _, r := range s.replicas {
		r.pool.Close()
	}
	s.primary.Close()
}

// Ping reports whether the primary answers, on a pooled connection.
func (s *Store) Ping(ctx context.Context) error { return s.primary.Ping(ctx) }

// Probe reports whether the primary answers on a connection of its own,
// outside the pool: a busy pool (all connections serving traffic) is not
// an unhealthy database, and readiness must not wait behind the traffic.
func (s *Store) Probe(ctx context.Context) error {
	if s.closed.Load() {
		return errors.New("probe database: the store is closed")
	}
	conn, err := pgx.ConnectConfig(ctx, s.primary.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("probe database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("probe database: %w", err)
	}
	return nil
}

// PoolStats are the primary pool's figures, for metrics.
type PoolStats struct {
	Max, Total, Idle, Acquired int32
	Acquires, EmptyAcquires    int64
	CanceledAcquires, NewConns int64
	AcquireSeconds             float64
}

// Stats reads the primary pool's figures.
func (s *Store) Stats() PoolStats { return poolStats(s.primary) }

// ReadStats reads the read pools' figures, in the order given to Open
// (nil without read pools).
func (s *Store) ReadStats() []PoolStats {
	var out []PoolStats
	for _, r := range s.replicas {
		out = append(out, poolStats(r.pool))
	}
	return out
}

func poolStats(p *pgxpool.Pool) PoolStats {
	st := p.Stat()
	return PoolStats{Max: st.MaxConns(), Total: st.TotalConns(), Idle: st.IdleConns(), Acquired: st.AcquiredConns(),
		Acquires: st.AcquireCount(), EmptyAcquires: st.EmptyAcquireCount(), CanceledAcquires: st.CanceledAcquireCount(),
		NewConns: st.NewConnsCount(), AcquireSeconds: st.AcquireDuration().Seconds()}
}

// Tx runs f in a transaction on the primary: committed when f returns
// nil, rolled back otherwise.
func (s *Store) Tx(ctx context.Context, f func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.primary, f)
}

// Snapshot runs f in a read-only repeatable-read transaction on a read
// pool (see Reader), so every query of f sees the same data.
func (s *Store) Snapshot(ctx context.Context, f func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.Reader(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, f)
}

// redact hides a password in a connection string for error messages.
func redact(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		if j := strings.Index(url[i+3:], "@"); j >= 0 {
			userinfo := url[i+3 : i+3+j]
			if k := strings.Index(userinfo, ":"); k >= 0 {
				return url[:i+3] + userinfo[:k] + ":***" + url[i+3+j:]
			}
		}
	}
	return url
}

// ErrReadOnly is returned by Migrate when the primary URL names a server
// that cannot write (a hot standby, a read-only login).
var ErrReadOnly = errors.New("the database is read only (a hot standby?): migrate the primary, and use CheckSchema here")

// Migrate applies the embedded migrations not yet applied, each in its own
// transaction, under an advisory lock so concurrent starts do not race.
// It runs on the primary only; replicas receive the schema by replication.
func (s *Store) Migrate(ctx context.Context) error {
	conn, err := s.primary.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	var readOnly bool
	if err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'`).Scan(&readOnly); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if readOnly {
		return fmt.Errorf("migrate %s: %w", poolName(s.primary), ErrReadOnly)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7347001)"); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7347001)") //nolint:errcheck
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(data.Migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		var done bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name=$1)", name).Scan(&done); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if done {
			continue
		}
		sql, err := fs.ReadFile(data.Migrations, name)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (name) VALUES ($1)", name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		slog.Info("migration applied", "name", name)
	}
	return nil
}

// Pending lists the embedded migrations the database has not applied (all
// of them on a fresh database).
func (s *Store) Pending(ctx context.Context) ([]string, error) {
	names, err := fs.Glob(data.Migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var exists bool
	if err := s.primary.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("pending migrations: %w", err)
	}
	if !exists {
		return names, nil
	}
	rows, err := s.primary.Query(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("pending migrations: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pending migrations: %w", err)
	}
	var out []string
	for _, n := range names {
		if !slices.Contains(done, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// SchemaError says which embedded migrations the database lacks.
type SchemaError struct {
	Pending []string // file names, oldest first
}

func (e *SchemaError) Error() string {
	names := make([]string, len(e.Pending))
	for i, n := range e.Pending {
		names[i] = strings.TrimPrefix(n, "migrations/")
	}
	return fmt.Sprintf("the database schema is older than this jiedao: %d migrations not applied (%s); "+
		"run `jiedao migrate` as the database owner against the primary", len(names), strings.Join(names, ", "))
}

// CheckSchema verifies, without writing, that every embedded migration is
// applied on the primary: what a node checks at start when it may not
// (or cannot) migrate. The error is a *SchemaError naming what is missing.
func (s *Store) CheckSchema(ctx context.Context) error {
	pending, err := s.Pending(ctx)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if len(pending) > 0 {
		return &SchemaError{Pending: pending}
	}
	return nil
}

// AsOf is the SQL predicate "the version of alias valid on day $n".
func AsOf(alias string, n int) string {
	return AsOfExpr(alias, fmt.Sprintf("$%d", n))
}

// AsOfExpr is AsOf for any SQL expression of the day.
func AsOfExpr(alias, day string) string {
	return fmt.Sprintf("(%[1]s.valid_from <= %[2]s AND (%[1]s.valid_to IS NULL OR %[1]s.valid_to > %[2]s))", alias, day)
}

// LevelOrder is the SQL sort key of alias's level, top down.
func LevelOrder(alias string) string {
	return `array_position(ARRAY['district','street','community','grid'], ` + alias + `.level)`
}

// Unavailable reports whether err means the database could not be
// reached (refused, reset, timed out connecting, pool closed) rather than
// that a query failed: an outage, to be answered 503 and retried. Only
// errors of the connection count: a client's truncated body (also an
// unexpected EOF) is not an outage.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	var oe *net.OpError
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &ce), errors.As(err, &oe):
		return true
	case pgconn.SafeToRetry(err), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return true
	case errors.As(err, &pe):
		// 08: connection exception; 57P0x: the server is shutting down,
		// crashed or not yet accepting connections.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P0")
	}
	// pgx and pgxpool say so in words only: a connection lost mid-query,
	// a pool closed.
	msg := err.Error()
	return strings.Contains(msg, "closed pool") || strings.Contains(msg, "failed to receive message") || strings.Contains(msg, "conn closed")
}
