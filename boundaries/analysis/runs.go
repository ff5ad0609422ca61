package analysis

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// Runs finds the stored run analysing a set of boundaries on a day under a
// profile, and makes it when the units changed since the last one. Tiles,
// OGC API, downloads, lookups and the API all read statuses through it. It
// is safe for concurrent use; one process keeps one.
type Runs struct {
	st *store.Store
	// mu makes one analysis at a time per process: concurrent requests
	// wait for the first and then find its run.
	mu   sync.Mutex
	runs sync.Map // runKey → run id
}

type runKey struct {
	profile     string
	at          time.Time
	dataVersion int64
	scenario    int64
}

// NewRuns returns the run finder of a store.
func NewRuns(st *store.Store) *Runs { return &Runs{st: st} }

// Ensure returns the id of the run of b on a day under p, analysing first
// when there is none for the current units. A failing b.Check (an unknown
// scenario) is returned as is.
func (r *Runs) Ensure(ctx context.Context, p *Profile, at time.Time, b Boundaries) (int64, error) {
	if at.IsZero() {
		at = boundaries.Today()
	}
	// Hot paths (tile misses, API reads) find the run in memory: the data
	// version moves on every unit write, so a run cached under it is
	// current.
	dv, err := r.st.CurrentDataVersion(ctx)
	if err != nil {
		return 0, err
	}
	key := runKey{p.hash, at, dv, b.Scenario}
	if id, ok := r.runs.Load(key); ok {
		return id.(int64), nil
	}
	id, err := r.find(ctx, p, at, b)
	if err != nil || id != 0 {
		if id != 0 {
			r.runs.Store(key, id)
		}
		return id, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, err := r.find(ctx, p, at, b); err != nil || id != 0 {
		return id, err
	}
	if b.Check != nil {
		if err := b.Check(ctx); err != nil {
			return 0, err
		}
	}
	a, err := Analyze(ctx, r.st, p, at, b)
	if err != nil {
		return 0, err
	}
	return a.RunID, nil
}

// find is the newest complete run of the current units version (0: none).
func (r *Runs) find(ctx context.Context, p *Profile, at time.Time, b Boundaries) (int64, error) {
	var id int64
	err := r.st.Primary().QueryRow(ctx, `SELECT coalesce((SELECT r.id FROM analysis_runs r, meta m
		WHERE r.profile_hash = $1 AND r.at = $2 AND r.units_version = m.units_version AND r.seconds IS NOT NULL
		  AND r.scenario_id IS NOT DISTINCT FROM nullif($3::bigint, 0)
		ORDER BY r.id DESC LIMIT 1), 0)`, p.hash, at, b.Scenario).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("find analysis run: %w", err)
	}
	return id, nil
}

// Current returns the analysis of b on a day under a profile, from the
// stored run when the units have not changed since.
func (r *Runs) Current(ctx context.Context, p *Profile, at time.Time, b Boundaries) (*Analysis, error) {
	id, err := r.Ensure(ctx, p, at, b)
	if err != nil {
		return nil, err
	}
	return Load(ctx, r.st, id, b)
}
