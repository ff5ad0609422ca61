package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrReplicaLagging means the replica reads go to did not reach what was
// waited for in time: the caller should answer "retry later" (see
// LagError.RetryAfter), not an error of its own.
var ErrReplicaLagging = errors.New("the read replica lags behind the primary")

// ErrVersionAhead means a data version was asked for that the primary does
// not have yet: waiting would not help.
var ErrVersionAhead = errors.New("the data version asked for does not exist yet")

// LagError is ErrReplicaLagging with its figures.
type LagError struct {
	What   string        // what was waited for: an LSN or a data version
	Lag    time.Duration // of the most lagging replica read from
	Waited time.Duration
	// RetryAfter is when to try again: by then the replica has caught up
	// or, beyond MaxReplicaLag, reads have moved to the primary.
	RetryAfter time.Duration
}

func (e *LagError) Error() string {
	return fmt.Sprintf("waited %s for the read replica to reach %s: it lags %s",
		e.Waited.Round(time.Millisecond), e.What, e.Lag.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrReplicaLagging) true.
func (e *LagError) Is(target error) bool { return target == ErrReplicaLagging }

// PrimaryLSN is the primary's WAL insert position now. Taken after a
// commit (or after seeing a row another node committed) it is at or past
// that commit, so a replica that has replayed it shows the row. Taken
// inside the writing transaction it would not be: the commit record is
// written after it.
func (s *Store) PrimaryLSN(ctx context.Context) (LSN, error) {
	var t string
	if err := s.primary.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&t); err != nil {
		return 0, fmt.Errorf("primary WAL position: %w", err)
	}
	return ParseLSN(t)
}

// WaitReplayed waits until every replica reads go to has replayed lsn (a
// PrimaryLSN), at most timeout; then Reader shows what was committed
// before it. Replicas not read from yet join only once past it. Without
// replicas, or while reading the primary, it returns at once. After the
// timeout the error is a *LagError (errors.Is ErrReplicaLagging).
func (s *Store) WaitReplayed(ctx context.Context, lsn LSN, timeout time.Duration) error {
	if len(s.replicas) == 0 {
		return nil
	}
	for {
		cur := s.minLSN.Load()
		if uint64(lsn) <= cur || s.minLSN.CompareAndSwap(cur, uint64(lsn)) {
			break
		}
	}
	return s.waitFor(ctx, timeout, "LSN "+lsn.String(), func(st *readState) bool {
		if st.fallback {
			return true
		}
		for _, l := range st.lsns {
			if l < lsn {
				return false
			}
		}
		return true
	})
}

// WaitVersion waits until ReadVersion is at least v, at most timeout, for
// read-your-writes: a write answers with its new data version and the
// next read asks for it. An error is a *LagError after the timeout, or
// ErrVersionAhead at once when even the primary is not at v.
func (s *Store) WaitVersion(ctx context.Context, v int64, timeout time.Duration) error {
	if s.ReadVersion() >= v {
		return nil
	}
	st := s.state.Load()
	if st == nil || st.primaryVersion < v {
		cur, err := s.DataVersion(ctx)
		if err != nil {
			return fmt.Errorf("wait for data version %d: %w", v, err)
		}
		if st == nil {
			s.noteVersion(cur)
		}
		if cur < v {
			return fmt.Errorf("wait for data version %d: the primary is at %d: %w", v, cur, ErrVersionAhead)
		}
		if st == nil {
			return nil
		}
	}
	return s.waitFor(ctx, timeout, fmt.Sprintf("data version %d", v), func(st *readState) bool { return st.version >= v })
}

// waitFor waits for a check whose verdict satisfies done, checking fast
// meanwhile.
func (s *Store) waitFor(ctx context.Context, timeout time.Duration, what string, done func(*readState) bool) error {
	start := time.Now()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	s.poke()
	for {
		st := s.state.Load()
		if done(st) {
			return nil
		}
		select {
		case <-st.changed:
		case <-timer.C:
			return s.lagError(st, what, time.Since(start))
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		}
	}
}

func (s *Store) lagError(st *readState, what string, waited time.Duration) *LagError {
	var lag time.Duration
	for _, l := range st.lags {
		lag = max(lag, l)
	}
	// Whole seconds, as Retry-After has them; at most until reads would
	// move to the primary.
	retry := max(time.Second, s.MaxReplicaLag()-lag)
	retry = time.Duration(math.Ceil(retry.Seconds())) * time.Second
	return &LagError{What: what, Lag: lag, Waited: waited, RetryAfter: retry}
}
