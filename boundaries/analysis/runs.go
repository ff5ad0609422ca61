package analysis

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// Runs finds the stored run analysing a set of boundaries on a day under a
// profile, and makes it when the units changed since the last one. Tiles,
// OGC API, downloads, lookups and the API all read statuses through it. It
// is safe for concurrent use; one process keeps one.
//
// Analyses on demand are bounded: one runs at a time, callers asking for
// the same run wait for it rather than start another, at most MaxQueued
// other runs wait (more get ErrBusy), and runs for other days than today
// (ad-hoc dates) beyond KeepAdHoc are pruned, least recently used first.
type Runs struct {
	st *store.Store
	// MaxQueued bounds the distinct analyses waiting for the one running.
	MaxQueued int
	// KeepAdHoc is how many runs of days other than their own day are kept.
	KeepAdHoc int

	// AdHocTTL is how long a run of another day is served from memory,
	// and how long after its last use it is safe from pruning.
	AdHocTTL time.Duration

	// NoIncremental makes every missing run a full analysis (see Advance).
	NoIncremental bool

	run     sync.Mutex // one analysis at a time
	mu      sync.Mutex // guards flights and waiting
	flights map[runKey]*flight
	waiting int
	runs    sync.Map // runKey → cached
}

// A flight is one analysis being made; its callers share its result.
type flight struct {
	done chan struct{}
	id   int64
	err  error
}

// cached is a run id found for a key; entries for ad-hoc days expire, so a
// pruned run is not served from memory for long.
type cached struct {
	id    int64
	until time.Time // zero: until the data version moves
}

type runKey struct {
	profile     string
	at          time.Time
	dataVersion int64
	scenario    int64
}

// Defaults of Runs' bounds.
const (
	DefaultMaxQueued = 8
	DefaultKeepAdHoc = 16
)

// NewRuns returns the run finder of a store.
func NewRuns(st *store.Store) *Runs {
	return &Runs{st: st, MaxQueued: DefaultMaxQueued, KeepAdHoc: DefaultKeepAdHoc,
		flights: map[runKey]*flight{}, AdHocTTL: 5 * time.Minute}
}

// Ensure returns the id of the run of b on a day under p, analysing first
// when there is none for the current units. A failing b.Check (an unknown
// scenario) is returned as is; too many analyses waiting is ErrBusy.
func (r *Runs) Ensure(ctx context.Context, p *Profile, at time.Time, b Boundaries) (int64, error) {
	if at.IsZero() {
		at = boundaries.Today()
	}
	// Hot paths (tile misses, API reads) find the run in memory: the data
	// version moves on every unit write, so a run cached under it is
	// current.
	dv, err := r.st.CurrentDataVersion(ctx)
	if err != nil {
		// Out of reach: the run last used for the key, if this process
		// knows it, still names the right statuses until a write lands.
		if c, ok := r.runs.Load(runKey{p.hash, at, r.st.LastDataVersion(), b.Scenario}); ok && store.Unavailable(err) {
			return c.(cached).id, nil
		}
		return 0, err
	}
	key := runKey{p.hash, at, dv, b.Scenario}
	if c, ok := r.runs.Load(key); ok {
		if c := c.(cached); c.until.IsZero() || time.Now().Before(c.until) {
			return c.id, nil
		}
	}
	id, err := r.found(ctx, p, at, b)
	if err != nil || id != 0 {
		if id != 0 {
			r.remember(key, id)
		}
		return id, err
	}
	return r.make(ctx, key, p, at, b)
}

// found is the run of the units the node reads (0: none). With read pools
// it is looked up on the reader, so that the run matches the units and
// data version the reader holds (a run another node made, or advanced in
// place, that the replica has not replayed is not seen yet, and the one
// it replaced still answers for the older units); the primary is only
// told the run is in use.
func (r *Runs) found(ctx context.Context, p *Profile, at time.Time, b Boundaries) (int64, error) {
	if !r.st.HasReplicas() {
		return r.find(ctx, p, at, b)
	}
	var id int64
	err := r.st.Reader().QueryRow(ctx, `SELECT coalesce((`+latestRunSQL+`), 0)`, p.hash, at, b.Scenario).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("find analysis run on the read pool: %w", err)
	}
	if id != 0 {
		r.touch(ctx, id)
	}
	return id, nil
}

// touch marks a run found on a replica as used on the primary, so pruning
// spares it; losing that is not worth failing a read for.
func (r *Runs) touch(ctx context.Context, id int64) {
	_, err := r.st.Primary().Exec(ctx, `UPDATE analysis_runs SET used_at = now() WHERE id = $1 AND used_at < now() - interval '1 minute'`, id)
	if err != nil {
		slog.Warn("mark analysis run used", "run", id, "err", err)
	}
}

func (r *Runs) remember(key runKey, id int64) {
	c := cached{id: id}
	if !key.at.Equal(boundaries.Today()) {
		c.until = time.Now().Add(r.AdHocTTL)
	}
	r.runs.Store(key, c)
}

// make joins the flight of key, or starts it.
func (r *Runs) make(ctx context.Context, key runKey, p *Profile, at time.Time, b Boundaries) (int64, error) {
	r.mu.Lock()
	if f, ok := r.flights[key]; ok {
		r.mu.Unlock()
		select {
		case <-f.done:
			return f.id, f.err
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if r.waiting >= r.MaxQueued {
		r.mu.Unlock()
		return 0, fmt.Errorf("analysis of %s on %s: %d analyses already waiting: %w", b, at.Format("2006-01-02"), r.waiting, boundaries.ErrBusy)
	}
	f := &flight{done: make(chan struct{})}
	r.flights[key] = f
	r.waiting++
	r.mu.Unlock()

	// The flight runs on its own context: callers that give up do not
	// cancel the run the others wait for.
	f.id, f.err = r.fly(context.WithoutCancel(ctx), p, at, b)
	if f.err == nil {
		r.remember(key, f.id)
	}
	r.mu.Lock()
	delete(r.flights, key)
	r.waiting--
	r.mu.Unlock()
	close(f.done)
	return f.id, f.err
}

// fly makes one run, one analysis at a time per process.
//
// Runs are written on the primary, one at a time per key across every
// node on it (see lockRun); with read pools the run is then waited for on
// the replica reads go to (see replayed), so that Load finds it there.
func (r *Runs) fly(ctx context.Context, p *Profile, at time.Time, b Boundaries) (int64, error) {
	r.run.Lock()
	defer r.run.Unlock()
	unlock, err := r.lockRun(ctx, p, at, b)
	if err != nil {
		return 0, err
	}
	id, err := r.flyLocked(ctx, p, at, b)
	unlock()
	if err != nil {
		return 0, err
	}
	return id, r.replayed(ctx, id)
}

// flyLocked makes the run under the lock, unless another node made it
// while this one waited.
func (r *Runs) flyLocked(ctx context.Context, p *Profile, at time.Time, b Boundaries) (int64, error) {
	if id, err := r.find(ctx, p, at, b); err != nil || id != 0 {
		return id, err
	}
	if b.Check != nil {
		if err := b.Check(ctx); err != nil {
			return 0, err
		}
	}
	// After an edit, the day's live run is brought up to date rather than
	// remade; a failed advance leaves the run as it was, so a full
	// analysis still answers.
	if b.Units == nil && !r.NoIncremental {
		id, ok, err := Advance(ctx, r.st, p, at)
		if ok {
			return id, nil
		}
		if err != nil {
			slog.Warn("incremental analysis failed, running a full one", "err", err)
		}
	}
	a, err := Analyze(ctx, r.st, p, at, b)
	if err != nil {
		return 0, err
	}
	if err := r.prune(ctx); err != nil {
		slog.Warn("prune analysis runs", "err", err)
	}
	return a.RunID, nil
}

// latestRunSQL is the newest complete run of the current units version for
// ($1 profile hash, $2 day, $3 scenario or 0): one query for the primary
// (find) and the replica (found), so both pick the same run.
const latestRunSQL = `SELECT r.id FROM analysis_runs r, meta m
	WHERE r.profile_hash = $1 AND r.at = $2 AND r.units_version = m.units_version AND r.seconds IS NOT NULL
	  AND r.scenario_id IS NOT DISTINCT FROM nullif($3::bigint, 0)
	ORDER BY r.id DESC LIMIT 1`

// find is the newest complete run of the current units version (0: none),
// marked as used.
func (r *Runs) find(ctx context.Context, p *Profile, at time.Time, b Boundaries) (int64, error) {
	var id int64
	err := r.st.Primary().QueryRow(ctx, `WITH r AS (`+latestRunSQL+`),
		u AS (UPDATE analysis_runs x SET used_at = now() FROM r WHERE x.id = r.id AND x.used_at < now() - interval '1 minute')
		SELECT coalesce((SELECT id FROM r), 0)`, p.hash, at, b.Scenario).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("find analysis run: %w", err)
	}
	return id, nil
}

// prune deletes ad-hoc runs beyond KeepAdHoc, least recently used first.
// Kept whatever their number: runs of their own day (the history of the
// live data) and scenario runs. Runs used in the last AdHocTTL stay too,
// since a process may still serve them from memory.
func (r *Runs) prune(ctx context.Context) error {
	tag, err := r.st.Primary().Exec(ctx, `DELETE FROM analysis_runs WHERE id IN (
		SELECT id FROM analysis_runs
		WHERE scenario_id IS NULL AND at <> (generated_at AT TIME ZONE 'UTC')::date AND used_at < now() - $2::interval
		ORDER BY used_at DESC OFFSET $1)`, r.KeepAdHoc, fmt.Sprintf("%d seconds", int(r.AdHocTTL.Seconds())))
	if err != nil {
		return err
	}
	if n := tag.RowsAffected(); n > 0 {
		slog.Info("analysis runs pruned", "runs", n, "kept", r.KeepAdHoc)
	}
	return nil
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
