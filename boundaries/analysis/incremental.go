package analysis

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// incremental.sql finds the region of units a set of changes can affect.
//
//go:embed incremental.sql
var incrementalSQL string

var incrementalSteps = parseSteps(incrementalSQL)

// MinFullShare is the share of the units re-analysed above which Advance
// leaves the work to a full analysis: past it the region's bookkeeping
// costs more than it saves (an import touching a district, a new day).
const MinFullShare = 0.25

// Advance brings the newest live run of a day under p up to the current
// units by re-analysing only what the changes since can affect: the
// changed units, the children of their parents, the units overlapping
// their old or new geometry, and everything above those (the sums), with
// their neighbours as context. The rest of the run is kept. The run is
// updated in place and keyed on the current units version, so readers
// find it as they would a new one (and caches keyed on the data version
// have moved on). The result equals a full analysis's.
//
// It returns false, changing nothing, when there is no run to advance
// (none for the day, or made before runs kept what this needs), when
// something other than units changed (building points, count areas),
// when the loaded levels changed, or when the region is over MinFullShare
// of the units.
func Advance(ctx context.Context, st *store.Store, p *Profile, at time.Time) (int64, bool, error) {
	start := time.Now()
	if at.IsZero() {
		at = boundaries.Today()
	}
	var run int64
	var region, total int
	err := pgx.BeginTxFunc(ctx, st.Primary(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var v0, v1 int64
		var sum []byte
		err := tx.QueryRow(ctx, `SELECT r.id, r.units_version, m.units_version, r.summary FROM analysis_runs r, meta m
			WHERE r.profile_hash = $1 AND r.at = $2 AND r.scenario_id IS NULL AND r.reusable AND r.seconds IS NOT NULL
			  AND r.units_version < m.units_version
			ORDER BY r.units_version DESC, r.id DESC LIMIT 1 FOR UPDATE OF r`, p.hash, at).Scan(&run, &v0, &v1, &sum)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNoAdvance
		}
		if err != nil {
			return fmt.Errorf("find run: %w", err)
		}
		var s Summary
		if err := json.Unmarshal(sum, &s); err != nil {
			return fmt.Errorf("run %d summary: %w", run, err)
		}
		// Every units version since must be changes to units alone: a
		// points or count-areas import moves it without a change row.
		var covered int64
		if err := tx.QueryRow(ctx, `SELECT count(DISTINCT units_version) FROM changes WHERE units_version > $1 AND units_version <= $2`,
			v0, v1).Scan(&covered); err != nil {
			return fmt.Errorf("changes: %w", err)
		}
		if covered != v1-v0 {
			slog.Debug("no incremental analysis: units versions without changes", "from", v0, "to", v1, "covered", covered)
			return errNoAdvance
		}
		lit := strings.NewReplacer("$1", "'"+at.Format("2006-01-02")+"'::date", "$2", strconv.FormatInt(run, 10),
			"$3", strconv.FormatInt(v0, 10), "$4", strconv.FormatInt(v1, 10))
		for _, stp := range incrementalSteps {
			t0 := time.Now()
			if _, err := tx.Exec(ctx, lit.Replace(stp.sql)); err != nil {
				return fmt.Errorf("region: %s: %w", stp.name, err)
			}
			slog.Debug("incremental analysis step", "step", stp.name, "ms", time.Since(t0).Milliseconds())
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM rc`).Scan(&region); err != nil {
			return fmt.Errorf("region: %w", err)
		}
		total = s.units()
		if float64(region) > MinFullShare*float64(total) || !sameLevels(ctx, tx, s) {
			slog.Debug("no incremental analysis: region too large or levels changed", "region", region, "units", total)
			return errNoAdvance
		}
		removed, err := removeRegion(ctx, tx, run)
		if err != nil {
			return err
		}
		a := &Analysis{RunID: run, Summary: Summary{Status: map[boundaries.Level]map[boundaries.Status]int{},
			Zones: map[boundaries.ZoneKind]int{}, Slivers: map[boundaries.ZoneKind]int{}}}
		if err := compute(ctx, tx, run, at, p, "region", true); err != nil {
			return err
		}
		if err := judge(ctx, tx, a, p, "region", at); err != nil {
			return err
		}
		added, err := regionZones(ctx, tx, run)
		if err != nil {
			return err
		}
		s.add(a.Summary, removed, added)
		sum, _ = json.Marshal(s)
		_, err = tx.Exec(ctx, `UPDATE analysis_runs SET units_version = $2, summary = $3, seconds = $4, generated_at = now(),
			used_at = now(), advanced = advanced + 1 WHERE id = $1`, run, v1, sum, time.Since(start).Seconds())
		return err
	})
	if errors.Is(err, errNoAdvance) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("advance analysis (%s, %s): %w", p.Name, at.Format("2006-01-02"), err)
	}
	slog.Info("analysis advanced", "profile", p.Name, "at", at.Format("2006-01-02"), "run", run,
		"units", region, "of", total, "seconds", time.Since(start).Seconds())
	return run, true, nil
}

// errNoAdvance rolls back an Advance that leaves the work to a full run.
var errNoAdvance = errors.New("no incremental analysis")

// units is the number of units a summary counts.
func (s Summary) units() int {
	n := 0
	for _, m := range s.Status {
		for _, k := range m {
			n += k
		}
	}
	return n
}

// sameLevels says whether the levels loaded are those the run saw: orphans
// are judged against them, everywhere.
func sameLevels(ctx context.Context, tx pgx.Tx, s Summary) bool {
	var levels []string
	if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(level), '{}') FROM lv`).Scan(&levels); err != nil {
		return false
	}
	if len(levels) != len(s.Status) {
		return false
	}
	for _, l := range levels {
		if _, ok := s.Status[boundaries.Level(l)]; !ok {
			return false
		}
	}
	return true
}

// counts are the statuses, zones and slivers of part of a run.
type counts struct {
	status  map[boundaries.Level]map[boundaries.Status]int
	zones   map[boundaries.ZoneKind]int
	slivers map[boundaries.ZoneKind]int
}

// removeRegion deletes the run's results of the region's units and of the
// changed codes (retired ones are in no region), counting what goes.
func removeRegion(ctx context.Context, tx pgx.Tx, run int64) (counts, error) {
	c := counts{status: map[boundaries.Level]map[boundaries.Status]int{}}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE gone ON COMMIT DROP AS SELECT code FROM rc UNION SELECT code FROM dc; ANALYZE gone`); err != nil {
		return c, fmt.Errorf("region: %w", err)
	}
	rows, err := tx.Query(ctx, `WITH d AS (DELETE FROM analysis_units a USING gone g WHERE a.run_id = $1 AND a.code = g.code
		RETURNING a.level, a.status) SELECT level, status, count(*) FROM d GROUP BY 1, 2`, run)
	if err != nil {
		return c, fmt.Errorf("remove region units: %w", err)
	}
	for rows.Next() {
		var l boundaries.Level
		var st boundaries.Status
		var n int
		if err := rows.Scan(&l, &st, &n); err != nil {
			rows.Close()
			return c, fmt.Errorf("remove region units: %w", err)
		}
		if c.status[l] == nil {
			c.status[l] = map[boundaries.Status]int{}
		}
		c.status[l][st] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("remove region units: %w", err)
	}
	if c.zones, err = kindCounts(ctx, tx, `WITH d AS (DELETE FROM zones WHERE run_id = $1
		AND codes && (SELECT array_agg(code) FROM gone) RETURNING kind) SELECT kind, count(*) FROM d GROUP BY kind`, run); err != nil {
		return c, fmt.Errorf("remove region zones: %w", err)
	}
	if c.slivers, err = kindCounts(ctx, tx, `WITH d AS (DELETE FROM analysis_slivers WHERE run_id = $1
		AND codes && (SELECT array_agg(code) FROM gone) RETURNING kind) SELECT kind, count(*) FROM d GROUP BY kind`, run); err != nil {
		return c, fmt.Errorf("remove region slivers: %w", err)
	}
	return c, nil
}

// regionZones counts the zones and slivers the region's analysis stored.
func regionZones(ctx context.Context, tx pgx.Tx, run int64) (counts, error) {
	var c counts
	var err error
	if c.zones, err = kindCounts(ctx, tx, `SELECT kind, count(*) FROM zones WHERE run_id = $1
		AND codes && (SELECT array_agg(code) FROM rc) GROUP BY kind`, run); err != nil {
		return c, fmt.Errorf("region zones: %w", err)
	}
	if c.slivers, err = kindCounts(ctx, tx, `SELECT kind, count(*) FROM analysis_slivers WHERE run_id = $1
		AND codes && (SELECT array_agg(code) FROM rc) GROUP BY kind`, run); err != nil {
		return c, fmt.Errorf("region slivers: %w", err)
	}
	return c, nil
}

func kindCounts(ctx context.Context, tx pgx.Tx, sql string, run int64) (map[boundaries.ZoneKind]int, error) {
	rows, err := tx.Query(ctx, sql, run)
	if err != nil {
		return nil, err
	}
	m := map[boundaries.ZoneKind]int{}
	var k boundaries.ZoneKind
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&k, &n}, func() error { m[k] = n; return nil }); err != nil {
		return nil, err
	}
	return m, nil
}

// add applies a region's analysis to the run's summary: what was removed
// goes, the region's statuses (from judge) and zones come. Zero counts are
// dropped, as a full analysis never writes them.
func (s *Summary) add(region Summary, removed, added counts) {
	if s.Status == nil {
		s.Status = map[boundaries.Level]map[boundaries.Status]int{}
	}
	apply := func(from map[boundaries.Level]map[boundaries.Status]int, sign int) {
		for l, m := range from {
			if s.Status[l] == nil {
				s.Status[l] = map[boundaries.Status]int{}
			}
			for st, n := range m {
				s.Status[l][st] += sign * n
			}
		}
	}
	apply(removed.status, -1)
	apply(region.Status, 1)
	for l, m := range s.Status {
		for st, n := range m {
			if n == 0 {
				delete(m, st)
			}
		}
		if len(m) == 0 {
			delete(s.Status, l)
		}
	}
	s.Zones = addKinds(s.Zones, removed.zones, added.zones)
	s.Slivers = addKinds(s.Slivers, removed.slivers, added.slivers)
	s.Points = region.Points
}

func addKinds(m, minus, plus map[boundaries.ZoneKind]int) map[boundaries.ZoneKind]int {
	if m == nil {
		m = map[boundaries.ZoneKind]int{}
	}
	for k, n := range minus {
		m[k] -= n
	}
	for k, n := range plus {
		m[k] += n
	}
	for k, n := range m {
		if n == 0 {
			delete(m, k)
		}
	}
	return m
}
