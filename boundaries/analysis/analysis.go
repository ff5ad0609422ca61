// Package analysis measures units against a policy profile: counts (from
// attributes, building points or areal interpolation), geodesic area,
// density, staffing, a status per unit and the zones where boundaries are
// wrong (crosses_parent, overlap, gap, unowned, noncontiguous, orphan), at
// every level down to grids. Every run is
// stored, keyed by the units version it read, so tiles, OGC API, downloads
// and the API serve the same verdicts. The units analysed are an input: the
// live ones, or a scenario's.
package analysis

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// UnitResult is one unit's measures and verdict in an analysis.
type UnitResult struct {
	Code             string            `json:"code"`
	Name             string            `json:"name"`
	Level            boundaries.Level  `json:"level"`
	ParentCode       *string           `json:"parent_code"`
	Households       *int64            `json:"households"`
	Population       *int64            `json:"population"`
	CountsMethod     *string           `json:"counts_method"`
	AreaKM2          float64           `json:"area_km2"`
	Density          *float64          `json:"density"`
	HouseholdDensity *float64          `json:"household_density"`
	RatioToNormal    *float64          `json:"ratio_to_normal"`
	Status           boundaries.Status `json:"status"`
	Reasons          []string          `json:"reasons"`
	StaffMin         *int64            `json:"staff_min"`
	StaffMax         *int64            `json:"staff_max"`
	OutsideShare     *float64          `json:"outside_share"`

	// cand: compared pairwise for overlaps (kept for Advance).
	cand bool
}

// Zone is a boundary problem with its geometry stored in PostGIS.
type Zone struct {
	ID         string              `json:"id"`
	Kind       boundaries.ZoneKind `json:"kind"`
	Level      boundaries.Level    `json:"level"`
	Codes      []string            `json:"codes"`
	Part       int                 `json:"part,omitempty"`
	AreaM2     float64             `json:"area_m2"`
	Households *int64              `json:"households"`
	Population *int64              `json:"population"`
}

// Analysis is the result of measuring every unit against a profile.
type Analysis struct {
	RunID       int64     `json:"run_id"`
	Profile     string    `json:"profile"`
	At          string    `json:"at"`
	GeneratedAt time.Time `json:"generated_at"`
	Seconds     float64   `json:"seconds"`
	// Scenario is the scenario whose boundaries were analysed (0: live).
	Scenario int64        `json:"scenario,omitempty"`
	Summary  Summary      `json:"summary"`
	Units    []UnitResult `json:"units"`
	Zones    []Zone       `json:"zones"`
}

// Summary counts statuses and zones; slivers are zones under the profile's
// tolerance, counted but not listed.
type Summary struct {
	Status  map[boundaries.Level]map[boundaries.Status]int `json:"status"` // level → status → count
	Zones   map[boundaries.ZoneKind]int                    `json:"zones"`
	Slivers map[boundaries.ZoneKind]int                    `json:"slivers"`
	Points  bool                                           `json:"points"`
}

// Boundaries is the set of unit versions an analysis measures: the live
// units (Live), or a scenario's (see package scenario).
type Boundaries struct {
	// Scenario is stored with the run (0: the live units).
	Scenario int64
	// Units is the SQL of the unit versions valid on a day, a subquery with
	// the columns of units; scenario and at are SQL expressions of the
	// scenario id and the day. Nil for the live units.
	Units func(scenario, at string) string
	// Check, when set, runs before a missing run is computed (does the
	// scenario exist?), not on every read.
	Check func(ctx context.Context) error
}

// Live is the set of live unit versions.
var Live = Boundaries{}

// from is the FROM item of the units, with the scenario and the day as
// SQL expressions.
func (b Boundaries) from(scenario, at string) string {
	if b.Units == nil {
		return "units"
	}
	return "(" + b.Units(scenario, at) + ")"
}

func (b Boundaries) String() string {
	if b.Scenario == 0 {
		return "live"
	}
	return fmt.Sprintf("scenario %d", b.Scenario)
}

// Analyze measures the units of b valid on a day against a profile, finds
// the zones, stores the run and returns it. The geometry work is set-based
// SQL in PostGIS using the GiST index; Go only applies the profile's rules.
// A run changes no cache: it is keyed by the units version it read.
func Analyze(ctx context.Context, st *store.Store, p *Profile, at time.Time, b Boundaries) (*Analysis, error) {
	start := time.Now()
	if at.IsZero() {
		at = boundaries.Today()
	}
	a := &Analysis{Profile: p.Name, At: at.Format("2006-01-02"), Scenario: b.Scenario, Units: []UnitResult{}, Zones: []Zone{},
		Summary: Summary{Status: map[boundaries.Level]map[boundaries.Status]int{}, Zones: map[boundaries.ZoneKind]int{},
			Slivers: map[boundaries.ZoneKind]int{}}}
	err := st.Tx(ctx, func(tx pgx.Tx) error {
		src := "units"
		if b.Units != nil {
			if _, err := tx.Exec(ctx, `CREATE TEMP TABLE scen_units ON COMMIT DROP AS `+b.Units("$1::bigint", "$2::date"), b.Scenario, at); err != nil {
				return fmt.Errorf("units: %w", err)
			}
			src = "scen_units"
		}
		var unitsVersion int64
		if err := tx.QueryRow(ctx, `SELECT units_version FROM meta`).Scan(&unitsVersion); err != nil {
			return err
		}
		// Live runs keep what Advance needs to bring them up to date.
		if err := tx.QueryRow(ctx, `INSERT INTO analysis_runs (profile, profile_hash, at, units_version, scenario_id, reusable)
			VALUES ($1, $2, $3, $4, nullif($5::bigint, 0), $6) RETURNING id, generated_at`, p.Name, p.hash, at, unitsVersion, b.Scenario, b.Units == nil).
			Scan(&a.RunID, &a.GeneratedAt); err != nil {
			return err
		}
		if err := compute(ctx, tx, a.RunID, at, p, src, false); err != nil {
			return err
		}
		if err := judge(ctx, tx, a, p, src, at); err != nil {
			return err
		}
		if err := readZones(ctx, tx, a); err != nil {
			return err
		}
		a.Seconds = time.Since(start).Seconds()
		sum, _ := json.Marshal(a.Summary)
		_, err := tx.Exec(ctx, `UPDATE analysis_runs SET seconds=$2, summary=$3 WHERE id=$1`, a.RunID, a.Seconds, sum)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("analyze (%s, %s, %s): %w", p.Name, a.At, b, err)
	}
	slog.Info("analysis", "profile", p.Name, "at", a.At, "boundaries", b.String(), "units", len(a.Units), "zones", len(a.Zones), "seconds", a.Seconds)
	return a, nil
}

// steps.sql holds the statements of the analysis.
//
//go:embed steps.sql
var stepsSQL string

// step is one named statement of steps.sql.
type step struct{ name, sql string }

var steps = parseSteps(stepsSQL)

// parseSteps splits a file of named statements: "-- step: NAME" at the
// start of a line begins one; the comments above the next step belong to
// it, not to this one.
func parseSteps(file string) []step {
	var out []step
	for _, part := range strings.Split(file, "\n-- step: ")[1:] {
		name, sql, _ := strings.Cut(part, "\n")
		if k := strings.LastIndex(sql, ";\n"); k >= 0 {
			sql = sql[:k+1]
		}
		out = append(out, step{name, sql})
	}
	return out
}

// Compute runs the analysis's statements in tx over table, a table of unit
// versions with the columns of units ("units", a scenario's or a plan's
// working table), so proposals are judged by exactly the same rules. It
// stores the zones of run and leaves its temp tables (au, cnt, zraw …) for
// the caller.
//
// Zones are searched only where they can be: a parent whose children's
// geodesic areas sum to its own and whose children all lie within its
// bounding box has no gap, overlap or crossing child (except a gap and an
// overlap of exactly equal area cancelling out), so the expensive overlays
// (union, difference, relate) run for the few parents that fail that test
// and for units with no parent to compare against.
func Compute(ctx context.Context, tx pgx.Tx, run int64, at time.Time, p *Profile, table string) error {
	return compute(ctx, tx, run, at, p, table, false)
}

// ctxColumns are the context columns of a full analysis: no unit is
// context. A region's table carries its own (see incremental.sql).
const ctxColumns = `false AS ctx, false AS ctx_cand, false AS ctx_pts, NULL::bigint AS ctx_h, NULL::bigint AS ctx_p, NULL::text AS ctx_method`

// compute is Compute over table, a region (with context units) or not.
func compute(ctx context.Context, tx pgx.Tx, run int64, at time.Time, p *Profile, table string, region bool) error {
	// PostGIS's declared function costs push even a region's small plans
	// over jit_above_cost, and compiling them (~150 ms for the
	// non-contiguous step) costs more than running them.
	if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return fmt.Errorf("analysis: %w", err)
	}
	cols := ctxColumns
	if region {
		cols = `u.ctx, u.ctx_cand, u.ctx_pts, u.ctx_h, u.ctx_p, u.ctx_method`
	}
	for _, st := range steps {
		var args []any
		switch st.name {
		case "current units":
			args = []any{at}
		case "zones: store", "zones: slivers":
			args = []any{run, p.MinZoneArea(), p.MinOutsideShare()}
		}
		t0 := time.Now()
		sql := strings.NewReplacer("{{units}}", pgx.Identifier{table}.Sanitize(), "{{ctx}}", cols).Replace(st.sql)
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		slog.Debug("analysis step", "step", st.name, "ms", time.Since(t0).Milliseconds())
	}
	return nil
}

// judge reads the measures, applies the profile in Go and stores the
// results with one COPY. src is the table of the units analysed, for the
// kinds of grids and of their communities (kind-specific grid rules): au
// does not carry kinds, as a plan's working table has none.
func judge(ctx context.Context, tx pgx.Tx, a *Analysis, p *Profile, src string, at time.Time) error {
	kind := func(code string) string {
		return `(SELECT k.kind FROM ` + pgx.Identifier{src}.Sanitize() + ` k WHERE k.code = ` + code +
			` AND k.valid_from <= $1::date AND (k.valid_to IS NULL OR k.valid_to > $1::date) LIMIT 1)`
	}
	rows, err := tx.Query(ctx, `SELECT u.code, u.name, u.level, u.parent_code, c.h, c.p, c.method, u.area_m2 / 1e6,
			c.p / nullif(u.area_m2 / 1e6, 0), c.h / nullif(u.area_m2 / 1e6, 0),
			CASE WHEN u.parent_level IS NOT NULL THEN coalesce(z.area_m2, 0) / nullif(u.area_m2, 0) END,
			EXISTS (SELECT 1 FROM cand x WHERE x.code = u.code),
			CASE WHEN u.level = 'grid' THEN `+kind("u.code")+` END, CASE WHEN u.level = 'grid' THEN `+kind("u.parent_code")+` END,
			coalesce(pc.n, 0)
		FROM au u JOIN cnt c USING (code)
		LEFT JOIN zraw z ON z.kind = 'crosses_parent' AND z.codes[1] = u.code
		LEFT JOIN pc ON pc.code = u.code
		WHERE NOT u.ctx
		ORDER BY `+store.LevelOrder("u")+`, u.code`, at)
	if err != nil {
		return fmt.Errorf("read measures: %w", err)
	}
	for rows.Next() {
		var u UnitResult
		var lvl string
		var kind, parentKind *string
		var points int64
		if err := rows.Scan(&u.Code, &u.Name, &lvl, &u.ParentCode, &u.Households, &u.Population, &u.CountsMethod,
			&u.AreaKM2, &u.Density, &u.HouseholdDensity, &u.OutsideShare, &u.cand, &kind, &parentKind, &points); err != nil {
			rows.Close()
			return fmt.Errorf("read measures: %w", err)
		}
		u.Level = boundaries.Level(lvl)
		parent := ""
		if u.ParentCode != nil {
			parent = *u.ParentCode
		}
		j := p.Judge(Measures{Code: u.Code, Level: u.Level, ParentCode: parent, Households: u.Households, Population: u.Population,
			AreaKM2: u.AreaKM2, Kind: deref(kind), ParentKind: deref(parentKind), Points: points})
		u.Status, u.Reasons, u.StaffMin, u.StaffMax, u.RatioToNormal = j.Status, j.Reasons, j.StaffMin, j.StaffMax, j.RatioToNormal
		a.Units = append(a.Units, u)
		if a.Summary.Status[u.Level] == nil {
			a.Summary.Status[u.Level] = map[boundaries.Status]int{}
		}
		a.Summary.Status[u.Level][u.Status]++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read measures: %w", err)
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"analysis_units"}, []string{"run_id", "code", "level", "households", "population",
		"counts_method", "area_km2", "density", "household_density", "ratio_to_normal", "staff_min", "staff_max", "outside_share", "status", "reasons", "cand"},
		pgx.CopyFromSlice(len(a.Units), func(i int) ([]any, error) {
			u := a.Units[i]
			return []any{a.RunID, u.Code, string(u.Level), u.Households, u.Population, u.CountsMethod, u.AreaKM2, u.Density,
				u.HouseholdDensity, u.RatioToNormal, u.StaffMin, u.StaffMax, u.OutsideShare, u.Status, u.Reasons, u.cand}, nil
		}))
	if err != nil {
		return fmt.Errorf("store results: %w", err)
	}
	var pts bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM points)`).Scan(&pts); err != nil {
		return err
	}
	a.Summary.Points = pts
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// zonesOf reads the zones of a run, by kind, codes and part.
func zonesOf(ctx context.Context, q querier, run int64) ([]Zone, error) {
	rows, err := q.Query(ctx, `SELECT id, kind, level, codes, part, area_m2, households, population FROM zones WHERE run_id = $1
		ORDER BY kind, codes, part`, run)
	if err != nil {
		return nil, fmt.Errorf("analysis run %d zones: %w", run, err)
	}
	zs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Zone, error) {
		var z Zone
		err := r.Scan(&z.ID, &z.Kind, &z.Level, &z.Codes, &z.Part, &z.AreaM2, &z.Households, &z.Population)
		return z, err
	})
	if err != nil {
		return nil, fmt.Errorf("analysis run %d zones: %w", run, err)
	}
	return zs, nil
}

func readZones(ctx context.Context, tx pgx.Tx, a *Analysis) error {
	zs, err := zonesOf(ctx, tx, a.RunID)
	if err != nil {
		return err
	}
	a.Zones = append(a.Zones, zs...)
	for _, z := range zs {
		a.Summary.Zones[z.Kind]++
	}
	// Slivers: zones below the tolerance, counted not listed.
	srows, err := tx.Query(ctx, `SELECT kind, count(*) FROM analysis_slivers WHERE run_id = $1 GROUP BY kind`, a.RunID)
	if err != nil {
		return err
	}
	defer srows.Close()
	for srows.Next() {
		var k boundaries.ZoneKind
		var n int
		if err := srows.Scan(&k, &n); err != nil {
			return err
		}
		a.Summary.Slivers[k] = n
	}
	sort.SliceStable(a.Zones, func(i, j int) bool { return a.Zones[i].Kind < a.Zones[j].Kind })
	return srows.Err()
}
