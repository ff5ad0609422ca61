package dispatch

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jiedao/jiedao/boundaries/store"
)

// Version names the state the disputes are computed from: the
// reassignments (append-only, so their count and last id), the tickets'
// period and the units' data version (the spots are drawn with the
// units). It moves whenever Disputes over the whole period may answer
// differently, so callers key caches and ETags on it.
func Version(ctx context.Context, st *store.Store) (int64, error) {
	dv, err := st.CurrentDataVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("disputes version: %w", err)
	}
	var maxID, n int64
	var lo, hi *time.Time
	if err := st.Reader().QueryRow(ctx, `SELECT coalesce(max(id), 0), count(*), (SELECT min(time) FROM tickets), (SELECT max(time) FROM tickets)
		FROM ticket_disputes`).Scan(&maxID, &n, &lo, &hi); err != nil {
		return 0, fmt.Errorf("disputes version: %w", err)
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d", dv, maxID, n)
	if lo != nil {
		fmt.Fprintf(h, "/%d/%d", lo.UnixNano(), hi.UnixNano())
	}
	return int64(h.Sum64() >> 1), nil
}

// WorkloadVersion is Version and the tickets' count: a ticket stored
// inside the period changes the workload but no spot.
func WorkloadVersion(ctx context.Context, st *store.Store) (int64, error) {
	v, err := Version(ctx, st)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := st.Reader().QueryRow(ctx, `SELECT count(*) FROM tickets`).Scan(&n); err != nil {
		return 0, fmt.Errorf("workload version: %w", err)
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d", v, n)
	return int64(h.Sum64() >> 1), nil
}

// spotCache keeps the last few whole-period answers: the map asks for the
// findings on every pan and zoom, and the disputes statement (gaps cut out
// of streets, shared lines) costs far more than filtering its answer.
var spotCache struct {
	sync.Mutex
	entries []cachedSpots
}

type cachedSpots struct {
	st      *store.Store
	day     string
	version int64
	spots   []Spot
	period  Period
}

const spotCacheEntries = 4

// AllSpots is Disputes over the stored tickets' whole period, drawn with
// the boundaries of day at, every spot (up to DefaultSpots), ranked by
// tickets; with the version it was computed at. The slice is shared:
// callers must not modify it.
func AllSpots(ctx context.Context, st *store.Store, at time.Time) ([]Spot, Period, int64, error) {
	v, err := Version(ctx, st)
	if err != nil {
		return nil, Period{}, 0, err
	}
	day := at.Format(time.DateOnly)
	spotCache.Lock()
	for _, e := range spotCache.entries {
		if e.st == st && e.day == day && e.version == v {
			spotCache.Unlock()
			return e.spots, e.period, v, nil
		}
	}
	spotCache.Unlock()
	spots, p, err := Disputes(ctx, st, Period{}, at, DefaultSpots)
	if err != nil {
		return nil, Period{}, 0, err
	}
	spotCache.Lock()
	defer spotCache.Unlock()
	spotCache.entries = append(spotCache.entries, cachedSpots{st: st, day: day, version: v, spots: spots, period: p})
	if len(spotCache.entries) > spotCacheEntries {
		spotCache.entries = spotCache.entries[1:]
	}
	return spots, p, v, nil
}

// String is the period as two days, the end inclusive: "2024-01-01 – 2024-06-30".
func (p Period) String() string {
	if p.Since.IsZero() {
		return ""
	}
	return p.Since.In(beijing).Format(time.DateOnly) + " – " + p.Until.Add(-time.Nanosecond).In(beijing).Format(time.DateOnly)
}
