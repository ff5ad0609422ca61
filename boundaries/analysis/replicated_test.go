package analysis_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
)

// Two nodes (two stores, two Runs) on one primary asking for the same
// missing run at once make it once: the advisory lock on the run's key
// makes the second wait, and its re-check finds the run made.
func TestRunsOneAtATimeAcrossNodes(t *testing.T) {
	ctx := context.Background()
	a := pgtest.SmallDemo(t)
	b, err := store.Open(ctx, a.Primary().Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	p, err := analysis.LoadProfile("")
	if err != nil {
		t.Fatal(err)
	}
	day := boundaries.Today().AddDate(0, 0, -5)
	nodes := []*analysis.Runs{analysis.NewRuns(a), analysis.NewRuns(b)}
	ids := make(chan int64, 6)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			id, err := nodes[i%2].Ensure(ctx, p, day, analysis.Live)
			if err != nil {
				t.Error(err)
			}
			ids <- id
		})
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		seen[id] = true
	}
	var n int
	if err := a.Primary().QueryRow(ctx, `SELECT count(*) FROM analysis_runs WHERE at = $1`, day).Scan(&n); err != nil || n != 1 || len(seen) != 1 {
		t.Fatalf("two nodes made %d runs for the day (%v), callers got %v; want one run shared", n, err, seen)
	}
	// No lock is left behind on the primary.
	var locks int
	if err := a.Primary().QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 7347021`).Scan(&locks); err != nil || locks != 0 {
		t.Fatalf("%d run locks held after the runs (%v)", locks, err)
	}
}
