package store

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// The data version counts writes to units (imports, edits, adoptions):
// caches of anything derived from units key on it, so a write is seen by
// the very next read and nothing needs a purge. Only unit writes move it;
// an analysis run is keyed by the units version it read, so storing one
// leaves every cache valid.
//
// Three readings of it:
//   - DataVersion: the primary's, now (one query): what was last committed.
//   - ReadVersion: the version every pool Reader returns holds, from
//     memory. On a single node it follows the primary by LISTEN/NOTIFY
//     (Watch); with read pools it is polled on the replicas read from,
//     since NOTIFY is not replayed on standbys, and it never goes back.
//   - CurrentDataVersion: ReadVersion, or a query when it is not being
//     followed. Caches key on it.

// DataVersion reads the data version from the primary.
func (s *Store) DataVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.primary.QueryRow(ctx, "SELECT data_version FROM meta").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read data version: %w", err)
	}
	return v, nil
}

// BumpDataVersion records a write to units inside its transaction:
// analysis runs keyed on the units version are recomputed and caches
// keyed on the data version miss. A trigger notifies the listeners (on
// the primary; replicas see the new row once they replay it).
func BumpDataVersion(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "UPDATE meta SET data_version = data_version + 1, units_version = units_version + 1")
	if err != nil {
		return fmt.Errorf("bump data version: %w", err)
	}
	return nil
}

// Watch keeps an in-memory copy of the data version, updated by
// LISTEN/NOTIFY, until ctx ends. Hot paths (tile cache keys) then read it
// without a round trip; while the listener is down they fall back to a
// query, so a cache is never keyed on a stale version. With read pools it
// does nothing: the replica monitor follows the version from Open to
// Close, and a notification from the primary would name a version the
// replica may not have replayed.
func (s *Store) Watch(ctx context.Context) {
	if len(s.replicas) > 0 {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.stopWatch = append(s.stopWatch, cancel)
	s.mu.Unlock()
	go func() {
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			err := s.listen(ctx)
			// After a good connection the next failure is a new outage:
			// retry quickly again.
			if s.watching.Swap(false) {
				backoff = 100 * time.Millisecond
			}
			if ctx.Err() != nil {
				return
			}
			slog.Warn("data version listener stopped; retrying", "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(2*backoff, 10*time.Second)
		}
	}()
}

func (s *Store) listen(ctx context.Context) error {
	conn, err := s.primary.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN jiedao_data_version"); err != nil {
		return err
	}
	var v int64
	if err := conn.QueryRow(ctx, "SELECT data_version FROM meta").Scan(&v); err != nil {
		return err
	}
	s.noteVersion(v)
	s.watching.Store(true)
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			conn.Conn().Close(context.Background()) //nolint:errcheck // do not return a LISTENing conn to the pool
			return err
		}
		if v, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
			s.noteVersion(v)
		}
	}
}

// noteVersion raises the cached version (notifications may arrive late or
// out of order; versions only grow).
func (s *Store) noteVersion(v int64) {
	for {
		cur := s.version.Load()
		if v <= cur || s.version.CompareAndSwap(cur, v) {
			return
		}
	}
}

// CurrentDataVersion is the data version the node's reads see (see
// ReadVersion), from memory while it is followed; else it asks the
// database, so that an outage is an error the caller can answer stale.
func (s *Store) CurrentDataVersion(ctx context.Context) (int64, error) {
	if st := s.state.Load(); st != nil {
		if st.followed {
			return st.version, nil
		}
		// The monitor failed its last check: the version held stays
		// true of every reader, but only if a reader answers.
		var v int64
		if err := s.Reader().QueryRow(ctx, "SELECT data_version FROM meta").Scan(&v); err != nil {
			return 0, fmt.Errorf("read data version: %w", err)
		}
		return st.version, nil
	}
	if s.watching.Load() {
		return s.version.Load(), nil
	}
	v, err := s.DataVersion(ctx)
	if err == nil {
		s.noteVersion(v)
	}
	return v, err
}

// SyncVersion reads the data version after a write of this process, so
// its own next read never waits for the notification. With read pools it
// only asks for an early check: the replica must replay the write first
// (WaitVersion waits for that).
func (s *Store) SyncVersion(ctx context.Context) {
	if len(s.replicas) > 0 {
		s.poke()
		return
	}
	if v, err := s.DataVersion(context.WithoutCancel(ctx)); err == nil {
		s.noteVersion(v)
	}
}

// ReadVersion is the data version the node's reads see, from memory (0:
// not read yet): on a single node the primary's as last notified, with
// read pools the lowest the replicas read from have replayed (or the
// primary's while reading it). Every pool Reader returns holds at least
// this version, so it is the one to key caches on.
func (s *Store) ReadVersion() int64 {
	if st := s.state.Load(); st != nil {
		return st.version
	}
	return s.version.Load()
}

// LastDataVersion is the data version last seen (0: never), for reads that
// may be answered from memory while the database is out of reach.
func (s *Store) LastDataVersion() int64 { return s.ReadVersion() }

// Degraded reports that the data version is not being followed (the
// listener is down, or with read pools no replica nor the primary answered
// the last check: usually the database is down): what is answered from
// memory may be stale.
func (s *Store) Degraded() bool {
	if st := s.state.Load(); st != nil {
		return !st.followed
	}
	return !s.watching.Load()
}
