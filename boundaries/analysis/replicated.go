package analysis

import (
	"context"
	"fmt"
	"time"
)

// ReplayTimeout bounds how long a node waits for the replica it reads to
// replay a run it made (or found) on the primary; past it the read is
// answered "retry later" (a *store.LagError) rather than held.
const ReplayTimeout = 2 * time.Second

// runLockClass is the first key of the advisory locks on run keys (the
// second is a hash of the key): apart from the migrations' lock.
const runLockClass = 7347021

// lockRun takes a session advisory lock on the primary for the run's key
// (profile, day, scenario), so that nodes needing the same run make it one
// at a time: the others wait, then find it made. The lock lives on a
// connection held for the analysis and goes with it if the node dies.
// The key leaves the units version out: whoever holds the lock analyses
// the primary's current units.
func (r *Runs) lockRun(ctx context.Context, p *Profile, at time.Time, b Boundaries) (func(), error) {
	conn, err := r.st.Primary().Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock analysis run: %w", err)
	}
	key := fmt.Sprintf("%s|%s|%d", p.hash, at.Format("2006-01-02"), b.Scenario)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, runLockClass, key); err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock analysis run %s: %w", key, err)
	}
	return func() {
		_, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, hashtext($2))`, runLockClass, key)
		if err != nil {
			// A connection whose unlock failed may still hold the lock:
			// close it rather than return it to the pool.
			conn.Conn().Close(context.WithoutCancel(ctx)) //nolint:errcheck // closing a broken connection
		}
		conn.Release()
	}, nil
}

// replayed waits until the replicas reads go to show run id: the primary's
// WAL position now is past its commit (ours, or another node's that the
// lock made us wait for). Without read pools it returns at once.
func (r *Runs) replayed(ctx context.Context, id int64) error {
	if !r.st.HasReplicas() {
		return nil
	}
	lsn, err := r.st.PrimaryLSN(ctx)
	if err != nil {
		return fmt.Errorf("analysis run %d: %w", id, err)
	}
	if err := r.st.WaitReplayed(ctx, lsn, ReplayTimeout); err != nil {
		return fmt.Errorf("analysis run %d made on the primary: %w", id, err)
	}
	return nil
}
