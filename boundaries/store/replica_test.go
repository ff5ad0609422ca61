package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries/pgtest/pgcluster"
)

// cluster is the test's primary and standby.
type cluster = pgcluster.Cluster

func startCluster(t *testing.T) *cluster { return pgcluster.Start(t, 20000) }

// eventually polls cond every 10 ms for at most d and says how long it took.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func bump(t *testing.T, st *Store) int64 {
	t.Helper()
	ctx := context.Background()
	if err := st.Tx(ctx, func(tx pgx.Tx) error { return BumpDataVersion(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
	v, err := st.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestReplicaReads runs a Store on a real primary and hot standby: no DDL
// on the standby, the version as the standby replays it, waits for
// replay, and reads moving to the primary when the standby lags or stops
// (and back).
func TestReplicaReads(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	t.Logf("primary and standby up in %s", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	st, err := Open(ctx, c.Primary, c.Standby)
	if err != nil {
		t.Fatalf("open with a standby as reader: %v", err)
	}
	defer st.Close()
	st.SetMaxReplicaLag(time.Second)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if st.ReadingPrimary() || st.Reader() == st.Primary() {
		t.Fatalf("reads go to the primary with a healthy standby: %+v", st.ReplicaStatus())
	}
	testStandbyNoDDL(t, c, st)
	v1 := testVersionFollowsReplay(t, st)
	testWaitReplayed(t, st)
	testPausedReplay(t, c, st, v1)
	testStoppedStandby(t, c, st)
	t.Logf("whole test %s", time.Since(start).Round(time.Millisecond))
}

// testStandbyNoDDL opens the standby as if it were the primary (a node
// pointed at a standby): connecting runs no DDL, Migrate refuses clearly
// and CheckSchema passes once the migrations are replayed.
func testStandbyNoDDL(t *testing.T, c *cluster, st *Store) {
	ctx := context.Background()
	lsn, err := st.PrimaryLSN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WaitReplayed(ctx, lsn, 5*time.Second); err != nil {
		t.Fatalf("migrations not replayed: %v", err)
	}
	ro, err := Open(ctx, c.Standby)
	if err != nil {
		t.Fatalf("open the standby as primary: %v", err)
	}
	defer ro.Close()
	var n int
	if err := ro.Primary().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("read the standby: %d migrations, %v", n, err)
	}
	if err := ro.Migrate(ctx); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Migrate on a standby = %v, want ErrReadOnly", err)
	}
	if err := ro.CheckSchema(ctx); err != nil {
		t.Errorf("CheckSchema on the replayed standby: %v", err)
	}
	log, err := os.ReadFile(filepath.Join(c.Dir, "pg", "standby.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), "read-only transaction") {
		t.Errorf("the standby refused a write from a connection:\n%s", log)
	}
	// A database without the migrations: CheckSchema names them.
	if _, err := st.Primary().Exec(ctx, "CREATE DATABASE bare"); err != nil {
		t.Fatal(err)
	}
	bare, err := Open(ctx, strings.Replace(c.Primary, "/jiedao?", "/bare?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	var se *SchemaError
	if err := bare.CheckSchema(ctx); !errors.As(err, &se) || len(se.Pending) < 15 || !strings.Contains(err.Error(), "0001_units.sql") {
		t.Errorf("CheckSchema on a bare database = %v, want a SchemaError naming every migration", err)
	}
}

// testVersionFollowsReplay: a version bumped on the primary is the
// reader's version within 2 s, polled on the standby.
func testVersionFollowsReplay(t *testing.T, st *Store) int64 {
	v := bump(t, st)
	took := eventually(t, 2*time.Second, "ReadVersion reaches the primary's", func() bool { return st.ReadVersion() >= v })
	t.Logf("version %d visible through the standby after %s", v, took.Round(time.Millisecond))
	if cur, err := st.CurrentDataVersion(context.Background()); err != nil || cur != v {
		t.Errorf("CurrentDataVersion = %d, %v; want %d", cur, err, v)
	}
	v = bump(t, st)
	start := time.Now()
	if err := st.WaitVersion(context.Background(), v, 2*time.Second); err != nil || st.ReadVersion() < v {
		t.Fatalf("WaitVersion(%d) = %v, ReadVersion %d", v, err, st.ReadVersion())
	}
	t.Logf("WaitVersion(%d) right after the write: %s", v, time.Since(start).Round(time.Millisecond))
	if err := st.WaitVersion(context.Background(), st.ReadVersion()+100, time.Second); !errors.Is(err, ErrVersionAhead) {
		t.Errorf("WaitVersion of a future version = %v, want ErrVersionAhead", err)
	}
	return st.ReadVersion()
}

// testWaitReplayed: a row committed on the primary is readable through
// Reader (the standby) once WaitReplayed returns.
func testWaitReplayed(t *testing.T, st *Store) {
	ctx := context.Background()
	if _, err := st.Primary().Exec(ctx, "CREATE TABLE store_test_marks (id int)"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := st.Primary().Exec(ctx, "INSERT INTO store_test_marks VALUES ($1)", i); err != nil {
			t.Fatal(err)
		}
		lsn, err := st.PrimaryLSN(ctx)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := st.WaitReplayed(ctx, lsn, 2*time.Second); err != nil {
			t.Fatalf("WaitReplayed(%s): %v", lsn, err)
		}
		took := time.Since(start)
		r := st.Reader()
		if r == st.Primary() {
			t.Fatal("reading the primary, want the standby")
		}
		var n int
		if err := r.QueryRow(ctx, "SELECT count(*) FROM store_test_marks WHERE id = $1", i).Scan(&n); err != nil || n != 1 {
			t.Fatalf("row %d on the standby after WaitReplayed: %d, %v", i, n, err)
		}
		if i == 0 {
			t.Logf("WaitReplayed: %s", took.Round(time.Millisecond))
		}
	}
}

// testPausedReplay: with replay paused the node keeps serving the
// standby's version (nothing newer), then past the lag limit reads the
// primary and says so; resumed, it reads the standby again.
func testPausedReplay(t *testing.T, c *cluster, st *Store, v1 int64) {
	ctx := context.Background()
	sb, err := pgx.Connect(ctx, c.Standby)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	if _, err := sb.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	// A requested pause holds before the next record is replayed.
	eventually(t, 2*time.Second, "replay paused", func() bool {
		var s string
		return sb.QueryRow(ctx, "SELECT pg_get_wal_replay_pause_state()").Scan(&s) == nil && s != "not paused"
	})
	old := st.ReadVersion()
	v2 := bump(t, st)
	wrote := time.Now()
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if got := st.ReadVersion(); got != old || st.ReadingPrimary() {
			t.Fatalf("while the standby is paused and within the lag limit: version %d (want %d), reading primary %v", got, old, st.ReadingPrimary())
		}
	}
	var le *LagError
	if err := st.WaitVersion(ctx, v2, 150*time.Millisecond); !errors.As(err, &le) || !errors.Is(err, ErrReplicaLagging) || le.RetryAfter < time.Second {
		t.Fatalf("WaitVersion while paused = %v, want a LagError", err)
	}
	eventually(t, 3*time.Second, "fallback to the primary", func() bool {
		return st.ReadingPrimary() && st.Reader() == st.Primary() && st.ReadVersion() >= v2
	})
	t.Logf("reads moved to the primary %s after the write the paused standby lacks (limit %s)",
		time.Since(wrote).Round(time.Millisecond), st.MaxReplicaLag())
	rs := st.ReplicaStatus()
	if len(rs) != 1 || !rs[0].Up || !rs[0].Paused || rs[0].Reading || rs[0].Lag <= time.Second || rs[0].Version != old {
		t.Errorf("status of the paused standby: %+v", rs)
	}
	if lsn, err := st.PrimaryLSN(ctx); err != nil || st.WaitReplayed(ctx, lsn, 10*time.Millisecond) != nil {
		t.Errorf("WaitReplayed while reading the primary should return at once: %v", err)
	}
	if _, err := sb.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "reading the standby again", func() bool { return !st.ReadingPrimary() && st.Reader() != st.Primary() })
	if got := st.ReadVersion(); got < v2 || got < v1 {
		t.Errorf("version after resuming = %d, want at least %d: versions never go back", got, v2)
	}
}

// testStoppedStandby: a stopped standby moves reads to the primary without
// errors, and a restarted one is read again.
func testStoppedStandby(t *testing.T, c *cluster, st *Store) {
	ctx := context.Background()
	// Reads running while it stops: one on a connection the shutdown cuts
	// fails, and Failover says when a retry goes elsewhere.
	stop := make(chan struct{})
	done := make(chan [2]int)
	go func() {
		var n, failed int
		for {
			select {
			case <-stop:
				done <- [2]int{n, failed}
				return
			default:
			}
			read := func() error {
				var x int
				return st.Reader().QueryRow(ctx, "SELECT count(*) FROM store_test_marks").Scan(&x)
			}
			err := read()
			if err != nil && st.Failover(ctx, err) {
				err = read()
			}
			if err != nil {
				failed++
				t.Logf("read failed after Failover: %v", err)
			}
			n++
		}
	}()
	if out, err := c.Script("stop", "standby"); err != nil {
		t.Fatalf("stop standby: %v\n%s", err, out)
	}
	took := eventually(t, 3*time.Second, "fallback after the standby stopped", func() bool {
		rs := st.ReplicaStatus()
		return st.ReadingPrimary() && len(rs) == 1 && !rs[0].Up
	})
	close(stop)
	counts := <-done
	t.Logf("reads moved to the primary %s after the standby stopped; %d reads meanwhile", took.Round(time.Millisecond), counts[0])
	if counts[1] > 0 {
		t.Errorf("%d of %d reads failed while the standby stopped, retried after Failover", counts[1], counts[0])
	}
	for range 20 {
		var n int
		if err := st.Reader().QueryRow(ctx, "SELECT count(*) FROM store_test_marks").Scan(&n); err != nil {
			t.Fatalf("read with the standby down: %v", err)
		}
		if _, err := st.CurrentDataVersion(ctx); err != nil || st.Degraded() {
			t.Fatalf("data version with the standby down: %v (degraded %v)", err, st.Degraded())
		}
	}
	if out, err := c.Script("start", "standby"); err != nil {
		t.Fatalf("start standby: %v\n%s", err, out)
	}
	eventually(t, 5*time.Second, "reading the restarted standby", func() bool { return !st.ReadingPrimary() })
	var n int
	if err := st.Reader().QueryRow(ctx, "SELECT count(*) FROM store_test_marks").Scan(&n); err != nil || n != 5 {
		t.Errorf("read from the restarted standby: %d, %v", n, err)
	}
}
