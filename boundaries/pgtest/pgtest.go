// Package pgtest gives each test its own fresh PostGIS database, cloned from
// a migrated template (CREATE DATABASE … TEMPLATE takes milliseconds), so
// tests against the real database are isolated and can run in parallel.
//
// The server comes from DATABASE_URL (make test starts a private cluster and
// sets it). Without it the test is skipped, unless JIEDAO_REQUIRE_DB is set,
// in which case it fails: CI must never pass by skipping the database.
package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/data"
)

var counter atomic.Int64

// URL returns the admin DATABASE_URL or skips/fails the test.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("DATABASE_URL")
	if u == "" {
		if os.Getenv("JIEDAO_REQUIRE_DB") != "" {
			t.Fatal("DATABASE_URL is not set but JIEDAO_REQUIRE_DB is: run tests with `make test`")
		}
		t.Skip("DATABASE_URL not set: skipping PostGIS test (run `make test` to start PostGIS)")
	}
	return u
}

// NewDatabase creates a fresh migrated database and returns its URL; it is
// dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := URL(t)
	ctx := context.Background()
	tmpl, err := ensureTemplate(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: template: %v", err)
	}
	name := fmt.Sprintf("jiedao_t_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, counter.Add(1))
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{tmpl}.Sanitize())
		// Another package may be cloning the same template at this moment.
		if err == nil || attempt > 50 || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)") //nolint:errcheck
	})
	return withDatabase(admin, name)
}

// NewStore opens a Store on a fresh database.
func NewStore(t testing.TB) (*store.Store, string) {
	t.Helper()
	u := NewDatabase(t)
	s, err := store.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("pgtest: open: %v", err)
	}
	t.Cleanup(s.Close)
	return s, u
}

func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + db
	return u.String()
}

// ensureTemplate creates (once per migration set) a migrated template
// database named after a hash of the migrations, so a changed migration
// gets a new template.
func ensureTemplate(ctx context.Context, admin string) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(data.Migrations, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(data.Migrations, p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", err
	}
	name := "jiedao_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12]
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7347002)"); err != nil {
		return "", err
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(7347002)") //nolint:errcheck
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname=$1 AND datistemplate)", name).Scan(&ok); err != nil {
		return "", err
	}
	if ok {
		return name, nil
	}
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	s, err := store.Open(ctx, withDatabase(admin, name))
	if err != nil {
		return "", err
	}
	err = s.Migrate(ctx)
	s.Close()
	if err != nil {
		return "", err
	}
	// Marked as template only once complete, so a crash mid-way is redone.
	if _, err := conn.Exec(ctx, "UPDATE pg_database SET datistemplate = true WHERE datname=$1", name); err != nil {
		return "", err
	}
	return name, nil
}

// SharedData returns the folder ../shared/data/<sub> beside the repository
// (or $JIEDAO_SHARED_DATA/<sub>), skipping the test when it is absent: the
// real data is never copied into the repository.
func SharedData(t testing.TB, sub string) string {
	t.Helper()
	base := os.Getenv("JIEDAO_SHARED_DATA")
	if base == "" {
		dir, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(dir + "/go.mod"); err == nil {
				break
			}
			parent := dir[:strings.LastIndex(dir, "/")]
			if parent == "" || parent == dir {
				t.Skip("real data: repository root not found")
			}
			dir = parent
		}
		base = dir[:strings.LastIndex(dir, "/")] + "/shared/data"
	}
	p := base + "/" + sub
	if _, err := os.Stat(p); err != nil {
		t.Skipf("real data %s not found (it lives in ../shared/data beside the repository): skipping", p)
	}
	return p
}
