package analysis_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// Callers asking for the same missing run share one analysis; past the
// queue bound a new one is refused with ErrBusy; ad-hoc days beyond the
// budget are pruned while today's run stays.
func TestRunsBounded(t *testing.T) {
	ctx := context.Background()
	s := pgtest.SmallDemo(t)
	p, err := analysis.LoadProfile("")
	if err != nil {
		t.Fatal(err)
	}
	runs := analysis.NewRuns(s)
	day := boundaries.Today().AddDate(0, 0, -3)
	ids := make(chan int64, 6)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			id, err := runs.Ensure(ctx, p, day, analysis.Live)
			if err != nil {
				t.Error(err)
			}
			ids <- id
		})
	}
	wg.Wait()
	close(ids)
	first := int64(0)
	for id := range ids {
		if first == 0 {
			first = id
		}
		if id != first {
			t.Fatalf("callers got runs %d and %d, want one shared run", first, id)
		}
	}
	var n int
	if err := s.Primary().QueryRow(ctx, `SELECT count(*) FROM analysis_runs WHERE at = $1`, day).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d runs stored for the day (%v), want 1", n, err)
	}

	busy := analysis.NewRuns(s)
	busy.MaxQueued = 0
	if _, err := busy.Ensure(ctx, p, day.AddDate(0, 0, -1), analysis.Live); !errors.Is(err, boundaries.ErrBusy) {
		t.Fatalf("with no room: %v, want ErrBusy", err)
	}
	if id, err := busy.Ensure(ctx, p, day, analysis.Live); err != nil || id != first {
		t.Fatalf("a stored run is found even when busy: %d %v", id, err)
	}

	prune := analysis.NewRuns(s)
	prune.KeepAdHoc, prune.AdHocTTL = 1, 0
	if _, err := prune.Ensure(ctx, p, boundaries.Today(), analysis.Live); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := prune.Ensure(ctx, p, day.AddDate(0, 0, -10-i), analysis.Live); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // distinct used_at
	}
	var adhoc, today int
	if err := s.Primary().QueryRow(ctx, `SELECT count(*) FILTER (WHERE at <> current_date), count(*) FILTER (WHERE at = $1)
		FROM analysis_runs`, boundaries.Today()).Scan(&adhoc, &today); err != nil {
		t.Fatal(err)
	}
	// The newest ad-hoc run is the one just made (not pruned by its own
	// analysis), plus at most KeepAdHoc older ones.
	if adhoc > 2 || today != 1 {
		t.Fatalf("%d ad-hoc runs and %d of today kept, want ≤ 2 and 1", adhoc, today)
	}
}
