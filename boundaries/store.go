package boundaries

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxgeom "github.com/twpayne/pgx-geom"

	"github.com/jiedao/jiedao/data"
)

// Store is the PostGIS store of units, versions and imports.
type Store struct {
	Pool      *pgxpool.Pool
	analyzeMu sync.Mutex
	version   atomic.Int64 // cached data version (see Watch)
	watching  atomic.Bool
	mu        sync.Mutex
	stopWatch []context.CancelFunc
	runs      sync.Map // runKey → analysis run id
}

// Open connects to PostGIS. The postgis extension is created before the
// geometry types are registered: pgx-geom needs their OIDs, which do not
// exist on a fresh database.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS postgis"); err != nil {
			return fmt.Errorf("create extension postgis: %w", err)
		}
		return pgxgeom.Register(ctx, conn)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect %s: %w", redact(url), err)
	}
	return &Store{Pool: pool}, nil
}

// Close stops the version listener and releases the pool.
func (s *Store) Close() {
	s.mu.Lock()
	for _, stop := range s.stopWatch {
		stop()
	}
	s.stopWatch = nil
	s.mu.Unlock()
	s.Pool.Close()
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.Pool.Ping(ctx) }

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

// Migrate applies the embedded migrations not yet applied, each in its own
// transaction, under an advisory lock so concurrent starts do not race.
func (s *Store) Migrate(ctx context.Context) error {
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
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

// DataVersion is bumped by every write; caches key on it.
func (s *Store) DataVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.Pool.QueryRow(ctx, "SELECT data_version FROM meta").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read data version: %w", err)
	}
	return v, nil
}

// bumpDataVersion records a write to units: analysis results keyed on the
// units version are recomputed and caches keyed on the data version miss.
func bumpDataVersion(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "UPDATE meta SET data_version = data_version + 1, units_version = units_version + 1")
	if err != nil {
		return fmt.Errorf("bump data version: %w", err)
	}
	return nil
}

// ErrNotFound is returned when a unit code names no unit.
var ErrNotFound = errors.New("not found")

// CountUnits counts the current units of every level.
func (s *Store) CountUnits(ctx context.Context) (int64, error) {
	var n int64
	if err := s.Pool.QueryRow(ctx, "SELECT count(*) FROM units WHERE valid_to IS NULL").Scan(&n); err != nil {
		return 0, fmt.Errorf("count units: %w", err)
	}
	return n, nil
}
