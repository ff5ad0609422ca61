// Package plan proposes adjustments that bring communities within a
// profile: reassign the zones the analysis finds, merge undersized
// communities, split oversized ones (the search is package partition).
// A plan writes nothing: it works on temp tables of a transaction that is
// rolled back, and is judged by the analysis's own SQL. Its documents (the
// JSON plan, the GeoJSON of its units) are what scenarios are made of.
package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/dispatch"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// Options choose the day and the area a plan covers: one street, the
// streets of a district, or all streets.
type Options struct {
	At       time.Time
	Street   string
	District string
	All      bool
	// Seed makes provisional codes of split parts reproducible.
	Seed int64
	// Method chooses how oversized communities are split: SplitAuto ("" is
	// auto), SplitBlocks or SplitCuts.
	Method string
	// Rebalance "street" re-partitions each street in scope with a
	// community out of range from its blocks, instead of merges and
	// splits (rebalance.go).
	Rebalance string
}

// Unit is one community as the plan leaves it.
type Unit struct {
	Code         string   `json:"code"`
	Street       string   `json:"street"`
	Name         string   `json:"name"`
	Provisional  bool     `json:"provisional"`
	Households   *int64   `json:"households"`
	Population   *int64   `json:"population"`
	Deviation    *float64 `json:"deviation"` // (households - normal) / normal
	AreaKM2      float64  `json:"area_km2"`
	PolsbyPopper float64  `json:"polsby_popper"` // 4πA/P², geodesic
	HullRatio    float64  `json:"hull_ratio"`    // A / A(convex hull)
	Op           string   `json:"op"`            // last operation that changed it
	// BoundaryOnBarriers is the share of a split part's new boundary that
	// lies on barriers (roads, rivers, railways); null when none are loaded.
	BoundaryOnBarriers *float64          `json:"boundary_on_barriers"`
	Status             boundaries.Status `json:"status"`
	Reasons            []string          `json:"reasons"`
	// BaseVersion is the live version the plan changed (nil for a new
	// code): a scenario made of the plan refuses adoption if it moved on.
	BaseVersion *int64 `json:"base_version_id"`
	// Level, ParentCode and Replaces are set for units below communities
	// (grids, package grids): the level, the community, and the codes of
	// the live units the unit takes over (old → new in history).
	Level      boundaries.Level `json:"level,omitempty"`
	ParentCode string           `json:"parent_code,omitempty"`
	Replaces   []string         `json:"replaces,omitempty"`
	// Geometry is the unit's GeoJSON geometry (7 decimals), for the
	// geojson output and tests; not part of the JSON plan.
	Geometry json.RawMessage `json:"-"`
}

// Op is one operation of a plan.
type Op struct {
	Seq             int      `json:"seq"`
	Kind            string   `json:"kind"` // reassign, merge, split
	Zone            string   `json:"zone,omitempty"`
	From            []string `json:"from"`
	To              []string `json:"to"`
	HouseholdsMoved int64    `json:"households_moved"`
	AreaM2          float64  `json:"area_m2"`
	Method          string   `json:"method,omitempty"`
	Note            string   `json:"note,omitempty"`
}

// Issue is a community the plan could not bring within the rules,
// with the reason.
type Issue struct {
	Code   string `json:"code"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// Remaining re-runs the analysis on the planned geometries.
type Remaining struct {
	Undersized int            `json:"undersized"`
	Oversized  int            `json:"oversized"`
	Zones      map[string]int `json:"zones"`
}

// Plan is a redistricting proposal: operations and the units they leave.
type Plan struct {
	Profile    string `json:"profile"`
	At         string `json:"at"`
	Scope      string `json:"scope"`
	Seed       int64  `json:"seed"`
	Method     string `json:"method"`                // auto, blocks or cuts
	MethodNote string `json:"method_note,omitempty"` // e.g. no barriers: cuts
	// BoundaryOnBarriers is the share of all new split boundaries (by
	// length) on barriers; null when none are loaded or nothing was split.
	BoundaryOnBarriers *float64  `json:"boundary_on_barriers"`
	Order              string    `json:"order"`
	Ops                []Op      `json:"operations"`
	Units              []Unit    `json:"units"` // resulting units that changed
	HouseholdsMoved    int64     `json:"households_moved"`
	UnitsChanged       int       `json:"units_changed"`
	Before             Remaining `json:"before"`
	Remaining          Remaining `json:"remaining"`
	Infeasible         []Issue   `json:"infeasible"`
	// Removed are the live communities the plan's merges take away, with
	// the versions it read.
	Removed []units.Base `json:"removed"`
	// Disputes are the hotline dispute spots in scope and what the plan
	// did about each (disputes.go).
	Disputes []DisputeNote `json:"disputes"`
}

// ErrEmptyScope is returned by Plan when the street or district asked for
// has no street on the plan's day.
var ErrEmptyScope = errors.New("no street in scope")

// Order documents the order in which operations are applied.
const Order = "reassign (crosses_parent, overlap, gap, noncontiguous; then the ground of disputed boundaries, where hotline tickets were reassigned), then merge undersized, then split oversized; each sees the result of the previous ones"

// MethodStraight, MethodVoronoi and MethodGrid name the
// partition methods, tried in this order.
const (
	MethodStraight = "recursive bisection by straight cuts between building points"
	MethodVoronoi  = "partition of Voronoi cells of building points into connected parts"
	MethodGrid     = "partition of a grid over the community into connected parts, weighted by area"
	MethodBlocks   = "partition of blocks (the faces roads, rivers and railways cut the community into) into connected parts"
)

// planner holds one plan's state; the working geometries live in the temp
// table pw of its transaction, so units is never touched (the transaction
// is rolled back at the end).
type planner struct {
	tx     pgx.Tx
	p      *analysis.Profile
	opt    Options
	at     time.Time
	plan   *Plan
	reason map[string]string
	lastOp map[string]string
	// barriers says whether barriers are loaded (nil: not asked yet);
	// onBar is each split part's boundary_on_barriers.
	barriers   *bool
	onBar      map[string]float64
	barrierLen [2]float64 // new boundary on barriers, and in all (m)
	// pointsFirst (Divide) keeps a split its building points gave, even out
	// of range, rather than a grid weighted by area: the grid is only for
	// units the points could not split.
	pointsFirst bool
	// noBarrierShare (Divide) skips measuring the parts' boundary on barriers.
	noBarrierShare bool
	// spots are the hotline dispute spots of the tickets' period
	// (disputes.go).
	spots      []dispatch.Spot
	spotPeriod dispatch.Period
}

// Propose proposes operations that bring the communities of a street, a
// district or the whole city within the profile and repair the zones the
// analysis finds. Nothing is written: the work happens in temp tables of a
// transaction that is rolled back.
func Propose(ctx context.Context, st *store.Store, p *analysis.Profile, opt Options) (*Plan, error) {
	start := time.Now()
	at := opt.At
	if at.IsZero() {
		at = boundaries.Today()
	}
	scope := "all"
	switch {
	case opt.Street != "":
		scope = "street " + opt.Street
	case opt.District != "":
		scope = "district " + opt.District
	case !opt.All:
		return nil, boundaries.Invalid("plan: choose a street, a district or all")
	}
	if opt.Method == "" {
		opt.Method = SplitAuto
	}
	if !slices.Contains(SplitChoices, opt.Method) {
		return nil, boundaries.Invalid("plan: method %q: want one of %s", opt.Method, strings.Join(SplitChoices, ", "))
	}
	if opt.Rebalance != "" && opt.Rebalance != RebalanceStreet {
		return nil, boundaries.Invalid("plan: rebalance %q: want %q", opt.Rebalance, RebalanceStreet)
	}
	pl := &Plan{Profile: p.Name, At: at.Format("2006-01-02"), Scope: scope, Seed: opt.Seed, Order: Order, Method: opt.Method,
		Ops: []Op{}, Units: []Unit{}, Infeasible: []Issue{}, Removed: []units.Base{}, Disputes: []DisputeNote{}}
	// The dispute spots are read before the plan's transaction: they are
	// the stored tickets', drawn with the plan's day.
	spots, period, err := dispatch.Disputes(ctx, st, dispatch.Period{}, at, 0)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	tx, err := st.Primary().Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	// Always rolled back: a plan is a proposal.
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Many small statements with PostGIS's high function costs: JIT
	// compilation would cost more (~0.5 s each) than running them.
	if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	pn := &planner{tx: tx, p: p, opt: opt, at: at, plan: pl, reason: map[string]string{}, lastOp: map[string]string{},
		onBar: map[string]float64{}, spots: spots, spotPeriod: period}
	type step struct {
		name string
		f    func(context.Context) error
	}
	resize := []step{{"merge", pn.merge}, {"split", pn.split}}
	if opt.Rebalance == RebalanceStreet {
		resize = []step{{"rebalance", pn.rebalance}}
	}
	steps := append([]step{{"load", pn.load}, {"analysis", pn.initial}, {"reassign", pn.reassign}, {"disputes", pn.disputes}}, resize...)
	steps = append(steps, step{"tidy", func(ctx context.Context) error { return pn.tidy(ctx, "reassign", nil) }}, step{"results", pn.results})
	for _, st := range steps {
		t0 := time.Now()
		if err := st.f(ctx); err != nil {
			return nil, fmt.Errorf("plan (%s, %s): %s: %w", p.Name, scope, st.name, err)
		}
		slog.Debug("plan step", "step", st.name, "ms", time.Since(t0).Milliseconds())
	}
	slog.Info("plan", "profile", p.Name, "scope", scope, "ops", len(pl.Ops), "seconds", time.Since(start).Seconds())
	return pl, nil
}

func (pn *planner) exec(ctx context.Context, sql string, args ...any) error {
	_, err := pn.tx.Exec(ctx, sql, args...)
	return err
}

// load copies the current streets and communities into temp tables: ps
// (streets) and pw (communities, the working geometries).
func (pn *planner) load(ctx context.Context) error {
	if err := pn.exec(ctx, `CREATE TEMP TABLE ps ON COMMIT DROP AS
		SELECT u.code, u.name, u.parent_code AS district, u.geom, false AS scope FROM units u
		WHERE u.level = 'street' AND `+store.AsOf("u", 1), pn.at); err != nil {
		return err
	}
	if err := pn.exec(ctx, `CREATE TEMP TABLE pw ON COMMIT DROP AS
		SELECT u.code, u.name, u.parent_code AS street, u.households::bigint AS h, u.population::bigint AS p, u.provisional,
			ST_Multi(u.geom)::geometry(MultiPolygon, 4326) AS geom, false AS scope, false AS touched, u.version_id AS vid
		FROM units u WHERE u.level = 'community' AND `+store.AsOf("u", 1), pn.at); err != nil {
		return err
	}
	var err error
	switch {
	case pn.opt.Street != "":
		err = pn.exec(ctx, `UPDATE ps SET scope = true WHERE code = $1`, pn.opt.Street)
	case pn.opt.District != "":
		err = pn.exec(ctx, `UPDATE ps SET scope = true WHERE district = $1`, pn.opt.District)
	default:
		err = pn.exec(ctx, `UPDATE ps SET scope = true`)
	}
	if err != nil {
		return err
	}
	var n int
	if err := pn.tx.QueryRow(ctx, `SELECT count(*) FROM ps WHERE scope`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s on %s: %w", pn.plan.Scope, pn.plan.At, ErrEmptyScope)
	}
	// With --all, communities whose street is missing (orphans) are in
	// scope too; geometry cannot fix them but they are counted.
	if err := pn.exec(ctx, `UPDATE pw SET scope = true WHERE street IN (SELECT code FROM ps WHERE scope)
			OR ($1 AND street NOT IN (SELECT code FROM ps))`, pn.opt.All); err != nil {
		return err
	}
	return pn.exec(ctx, `CREATE INDEX ON pw USING gist (geom); CREATE INDEX ON pw (code); CREATE INDEX ON pw (street);
		CREATE INDEX ON ps USING gist (geom); ANALYZE pw; ANALYZE ps`)
}

type planCheck struct {
	status map[string]analysis.Judgement
	remain Remaining
}

// check runs the analysis's own SQL (analysis.Compute) on the working
// geometries, so the plan is judged by exactly the rules of analyze: the
// temp table plan_units holds the streets and the working communities with
// their counts as attributes, in the columns of units. The zones it finds are kept in pz; its other
// temp tables are dropped so it can run again in the same transaction.
func (pn *planner) check(ctx context.Context) (*planCheck, error) {
	if err := pn.exec(ctx, `DROP TABLE IF EXISTS pz`); err != nil {
		return nil, err
	}
	if err := pn.exec(ctx, `CREATE TEMP TABLE plan_units ON COMMIT DROP AS
		SELECT code, name, 'street'::text AS level, district AS parent_code, NULL::bigint AS households, NULL::bigint AS population,
			geom, ST_Area(geom::geography) AS area_m2, $1::date AS valid_from, NULL::date AS valid_to FROM ps
		UNION ALL
		SELECT code, name, 'community', street, h, p, geom, ST_Area(geom::geography), $1::date, NULL::date FROM pw WHERE NOT ST_IsEmpty(geom)`, pn.at); err != nil {
		return nil, fmt.Errorf("working units: %w", err)
	}
	var run int64
	if err := pn.tx.QueryRow(ctx, `INSERT INTO analysis_runs (profile, profile_hash, at, units_version)
		VALUES ($1, $2, $3, (SELECT units_version FROM meta)) RETURNING id`, pn.p.Name, pn.p.Hash(), pn.at).Scan(&run); err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	if err := analysis.Compute(ctx, pn.tx, run, pn.at, pn.p, "plan_units"); err != nil {
		return nil, err
	}
	// Zones as analyze lists them (over the tolerances), in scope.
	if err := pn.exec(ctx, `CREATE TEMP TABLE pz ON COMMIT DROP AS
		SELECT z.kind, z.codes, z.part, z.geom, z.area_m2 FROM zraw z
		WHERE z.area_m2 >= $1 AND (z.kind <> 'crosses_parent' OR z.area_m2 >= $2 * z.unit_area)
		  AND (z.level = 'community' AND EXISTS (SELECT 1 FROM pw WHERE pw.code = z.codes[1] AND pw.scope)
		    OR z.level = 'street' AND EXISTS (SELECT 1 FROM ps WHERE ps.code = z.codes[1] AND ps.scope))`,
		pn.p.MinZoneArea(), pn.p.MinOutsideShare()); err != nil {
		return nil, fmt.Errorf("zones: %w", err)
	}
	c := &planCheck{status: map[string]analysis.Judgement{}, remain: Remaining{Zones: map[string]int{}}}
	rows, err := pn.tx.Query(ctx, `SELECT c.code, c.h, c.p, a.area_m2 / 1e6 FROM cnt c JOIN au a USING (code)
		JOIN pw ON pw.code = c.code AND pw.scope WHERE c.level = 'community' ORDER BY c.code`)
	if err != nil {
		return nil, err
	}
	type hp struct {
		h, p *int64
	}
	counts := map[string]hp{}
	for rows.Next() {
		var code string
		var h, p *int64
		var area float64
		if err := rows.Scan(&code, &h, &p, &area); err != nil {
			rows.Close()
			return nil, err
		}
		j := pn.p.Judge(analysis.Measures{Code: code, Level: boundaries.Community, Households: h, Population: p, AreaKM2: area})
		c.status[code] = j
		counts[code] = hp{h, p}
		switch j.Status {
		case boundaries.Undersized:
			c.remain.Undersized++
		case boundaries.Oversized:
			c.remain.Oversized++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	zr, err := pn.tx.Query(ctx, `SELECT kind, count(*) FROM pz GROUP BY kind ORDER BY kind`)
	if err != nil {
		return nil, err
	}
	for zr.Next() {
		var k string
		var n int
		if err := zr.Scan(&k, &n); err != nil {
			zr.Close()
			return nil, err
		}
		c.remain.Zones[k] = n
	}
	zr.Close()
	if err := zr.Err(); err != nil {
		return nil, err
	}
	// Counts derived by analyze (points, interpolation) become the working
	// attributes, so later steps move households explicitly.
	// One statement, and only rows whose counts change: a row update
	// rewrites the tuple and its gist entry, so thousands of single-row
	// updates took most of a beijing plan's time.
	codes := make([]string, 0, len(counts))
	hs := make([]*int64, 0, len(counts))
	ps := make([]*int64, 0, len(counts))
	for code, v := range counts {
		codes, hs, ps = append(codes, code), append(hs, v.h), append(ps, v.p)
	}
	if err := pn.exec(ctx, `UPDATE pw SET h = u.h, p = u.p FROM unnest($1::text[], $2::bigint[], $3::bigint[]) u(code, h, p)
		WHERE pw.code = u.code AND (pw.h IS DISTINCT FROM u.h OR pw.p IS DISTINCT FROM u.p)`, codes, hs, ps); err != nil {
		return nil, err
	}
	return c, pn.exec(ctx, `DROP TABLE plan_units, au, lv, pa, pc, ic, cnt, suspect, cand, zraw`)
}

func (pn *planner) initial(ctx context.Context) error {
	c, err := pn.check(ctx)
	if err != nil {
		return err
	}
	pn.plan.Before = c.remain
	return nil
}

func (pn *planner) add(op Op) {
	op.Seq = len(pn.plan.Ops) + 1
	if op.From == nil {
		op.From = []string{}
	}
	if op.To == nil {
		op.To = []string{}
	}
	pn.plan.Ops = append(pn.plan.Ops, op)
	pn.plan.HouseholdsMoved += op.HouseholdsMoved
	for _, c := range op.To {
		pn.lastOp[c] = op.Kind
	}
	for _, c := range op.From {
		if _, ok := pn.lastOp[c]; !ok {
			pn.lastOp[c] = op.Kind
		}
	}
}

// note records why a community could not be fixed; the first reason wins.
func (pn *planner) note(code, reason string) {
	if _, ok := pn.reason[code]; !ok {
		pn.reason[code] = reason
	}
}

// results re-runs the analysis on the planned geometries and measures the
// units that changed.
func (pn *planner) results(ctx context.Context) error {
	chk, err := pn.check(ctx)
	if err != nil {
		return err
	}
	pn.plan.Remaining = chk.remain
	c := pn.p.Community
	rows, err := pn.tx.Query(ctx, `SELECT code, coalesce(street, ''), name, provisional, h, p, a / 1e6,
			coalesce(4 * pi() * a / nullif(per ^ 2, 0), 0), coalesce(a / nullif(ST_Area(ST_ConvexHull(geom)::geography), 0), 0),
			ST_AsGeoJSON(geom, 7), vid
		FROM (SELECT *, ST_Area(geom::geography) AS a, ST_Perimeter(geom::geography) AS per FROM pw WHERE touched) x ORDER BY code`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var u Unit
		var g string
		if err := rows.Scan(&u.Code, &u.Street, &u.Name, &u.Provisional, &u.Households, &u.Population, &u.AreaKM2,
			&u.PolsbyPopper, &u.HullRatio, &g, &u.BaseVersion); err != nil {
			rows.Close()
			return err
		}
		u.Geometry = json.RawMessage(g)
		if u.Households != nil && c.NormalHouseholds.On() && c.NormalHouseholds.Float() > 0 {
			d := (float64(*u.Households) - c.NormalHouseholds.Float()) / c.NormalHouseholds.Float()
			u.Deviation = &d
		}
		u.Op = pn.lastOp[u.Code]
		if v, ok := pn.onBar[u.Code]; ok {
			u.BoundaryOnBarriers = &v
		}
		j := chk.status[u.Code]
		u.Status, u.Reasons = j.Status, j.Reasons
		if u.Reasons == nil {
			u.Reasons = []string{}
		}
		pn.plan.Units = append(pn.plan.Units, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	pn.plan.UnitsChanged = len(pn.plan.Units)
	if merged := pn.plan.mergedCodes(); len(merged) > 0 {
		rows, err := pn.tx.Query(ctx, `SELECT code, version_id FROM units u WHERE code = ANY($1) AND `+store.AsOf("u", 2)+` ORDER BY code`, merged, pn.at)
		if err != nil {
			return err
		}
		if pn.plan.Removed, err = pgx.CollectRows(rows, pgx.RowToStructByPos[units.Base]); err != nil {
			return err
		}
	}
	// Every community still out of range carries a reason.
	codes := make([]string, 0, len(chk.status))
	for code := range chk.status {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		j := chk.status[code]
		if !j.Status.Flagged() {
			continue
		}
		r, ok := pn.reason[code]
		if !ok {
			r = "no operation could fix it: " + strings.Join(j.Reasons, "; ")
			var orphan bool
			if err := pn.tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM ps JOIN pw ON pw.street = ps.code WHERE pw.code = $1)`, code).Scan(&orphan); err != nil {
				return err
			}
			if orphan {
				r = "its street is not loaded (orphan), so it has no neighbour in the same street"
			}
		}
		pn.plan.Infeasible = append(pn.plan.Infeasible, Issue{Code: code, Status: string(j.Status), Reason: r})
	}
	sort.SliceStable(pn.plan.Infeasible, func(a, b int) bool { return pn.plan.Infeasible[a].Code < pn.plan.Infeasible[b].Code })
	return nil
}
