package boundaries

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/geo"
)

// PlanOptions choose the day and the area a plan covers: one street, the
// streets of a district, or all streets.
type PlanOptions struct {
	At       time.Time
	Street   string
	District string
	All      bool
	// Seed makes provisional codes of split parts reproducible.
	Seed int64
}

// PlanUnit is one community as the plan leaves it.
type PlanUnit struct {
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
	Status       string   `json:"status"`
	Reasons      []string `json:"reasons"`
	// BaseVersion is the live version the plan changed (nil for a new
	// code): a scenario made of the plan refuses adoption if it moved on.
	BaseVersion *int64 `json:"base_version_id"`
	// Geometry is the unit's GeoJSON geometry (7 decimals), for the
	// geojson output and tests; not part of the JSON plan.
	Geometry json.RawMessage `json:"-"`
}

// PlanOp is one operation of a plan.
type PlanOp struct {
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

// PlanIssue is a community the plan could not bring within the rules,
// with the reason.
type PlanIssue struct {
	Code   string `json:"code"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// PlanRemaining re-runs the analysis on the planned geometries.
type PlanRemaining struct {
	Undersized int            `json:"undersized"`
	Oversized  int            `json:"oversized"`
	Zones      map[string]int `json:"zones"`
}

// Plan is a redistricting proposal: operations and the units they leave.
type Plan struct {
	Profile         string        `json:"profile"`
	At              string        `json:"at"`
	Scope           string        `json:"scope"`
	Seed            int64         `json:"seed"`
	Order           string        `json:"order"`
	Ops             []PlanOp      `json:"operations"`
	Units           []PlanUnit    `json:"units"` // resulting units that changed
	HouseholdsMoved int64         `json:"households_moved"`
	UnitsChanged    int           `json:"units_changed"`
	Before          PlanRemaining `json:"before"`
	Remaining       PlanRemaining `json:"remaining"`
	Infeasible      []PlanIssue   `json:"infeasible"`
	// Removed are the live communities the plan's merges take away, with
	// the versions it read.
	Removed []ScenarioBase `json:"removed"`
}

// ErrEmptyScope is returned by Plan when the street or district asked for
// has no street on the plan's day.
var ErrEmptyScope = errors.New("no street in scope")

// PlanOrder documents the order in which operations are applied.
const PlanOrder = "reassign (crosses_parent, overlap, gap, noncontiguous), then merge undersized, then split oversized; each sees the result of the previous ones"

// SplitMethodStraight, SplitMethodVoronoi and SplitMethodGrid name the
// partition methods, tried in this order.
const (
	SplitMethodStraight = "recursive bisection by straight cuts between building points"
	SplitMethodVoronoi  = "partition of Voronoi cells of building points into connected parts"
	SplitMethodGrid     = "partition of a grid over the community into connected parts, weighted by area"
)

// planner holds one plan's state; the working geometries live in the temp
// table pw of its transaction, so units is never touched (the transaction
// is rolled back at the end).
type planner struct {
	tx     pgx.Tx
	p      *Profile
	opt    PlanOptions
	at     time.Time
	plan   *Plan
	reason map[string]string
	lastOp map[string]string
}

// Plan proposes operations that bring the communities of a street, a
// district or the whole city within the profile and repair the zones the
// analysis finds. Nothing is written: the work happens in temp tables of a
// transaction that is rolled back.
func (s *Store) Plan(ctx context.Context, p *Profile, opt PlanOptions) (*Plan, error) {
	start := time.Now()
	at := opt.At
	if at.IsZero() {
		at = Today()
	}
	scope := "all"
	switch {
	case opt.Street != "":
		scope = "street " + opt.Street
	case opt.District != "":
		scope = "district " + opt.District
	case !opt.All:
		return nil, invalid("plan: choose a street, a district or all")
	}
	pl := &Plan{Profile: p.Name, At: at.Format("2006-01-02"), Scope: scope, Seed: opt.Seed, Order: PlanOrder,
		Ops: []PlanOp{}, Units: []PlanUnit{}, Infeasible: []PlanIssue{}, Removed: []ScenarioBase{}}
	tx, err := s.Pool.Begin(ctx)
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
	pn := &planner{tx: tx, p: p, opt: opt, at: at, plan: pl, reason: map[string]string{}, lastOp: map[string]string{}}
	steps := []struct {
		name string
		f    func(context.Context) error
	}{
		{"load", pn.load}, {"analysis", pn.initial}, {"reassign", pn.reassign}, {"merge", pn.merge},
		{"split", pn.split}, {"tidy", func(ctx context.Context) error { return pn.tidy(ctx, "reassign", nil) }},
		{"results", pn.results},
	}
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
		WHERE u.level = 'street' AND `+asOf("u", 1), pn.at); err != nil {
		return err
	}
	if err := pn.exec(ctx, `CREATE TEMP TABLE pw ON COMMIT DROP AS
		SELECT u.code, u.name, u.parent_code AS street, u.households::bigint AS h, u.population::bigint AS p, u.provisional,
			ST_Multi(u.geom)::geometry(MultiPolygon, 4326) AS geom, false AS scope, false AS touched, u.version_id AS vid
		FROM units u WHERE u.level = 'community' AND `+asOf("u", 1), pn.at); err != nil {
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
	status  map[string]Judgement
	remain  PlanRemaining
	hasZone bool
}

// check runs the analysis's own SQL (analyzeSQL) on the working
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
		VALUES ($1, $2, $3, (SELECT units_version FROM meta)) RETURNING id`, pn.p.Name, pn.p.hash, pn.at).Scan(&run); err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	if err := analyzeSQL(ctx, pn.tx, run, pn.at, pn.p, "plan_units"); err != nil {
		return nil, err
	}
	// Zones as analyze lists them (over the tolerances), in scope.
	if err := pn.exec(ctx, `CREATE TEMP TABLE pz ON COMMIT DROP AS
		SELECT z.kind, z.codes, z.part, z.geom, z.area_m2 FROM zraw z
		WHERE z.area_m2 >= $1 AND (z.kind <> 'crosses_parent' OR z.area_m2 >= $2 * z.unit_area)
		  AND (z.level = 'community' AND EXISTS (SELECT 1 FROM pw WHERE pw.code = z.codes[1] AND pw.scope)
		    OR z.level = 'street' AND EXISTS (SELECT 1 FROM ps WHERE ps.code = z.codes[1] AND ps.scope))`,
		pn.p.minZoneArea(), pn.p.minOutsideShare()); err != nil {
		return nil, fmt.Errorf("zones: %w", err)
	}
	c := &planCheck{status: map[string]Judgement{}, remain: PlanRemaining{Zones: map[string]int{}}}
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
		j := pn.p.Judge(Measures{Code: code, Level: Community, Households: h, Population: p, AreaKM2: area})
		c.status[code] = j
		counts[code] = hp{h, p}
		switch j.Status {
		case "undersized":
			c.remain.Undersized++
		case "oversized":
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
	return c, pn.exec(ctx, `DROP TABLE plan_units, au, pa, pc, ic, cnt, suspect, cand, zraw`)
}

func (pn *planner) initial(ctx context.Context) error {
	c, err := pn.check(ctx)
	if err != nil {
		return err
	}
	pn.plan.Before = c.remain
	return nil
}

func (pn *planner) add(op PlanOp) {
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

// piece is a geometry (EWKB) to move between communities.
type piece struct {
	g    []byte
	area float64
}

// move takes a piece from one community (or from nobody) and gives it to
// another (or to nobody: dropped). Households follow the building points
// in the piece, never more than the giver has. It returns the households
// moved.
func (pn *planner) move(ctx context.Context, g []byte, from, to string) (int64, error) {
	var ph, pp int64
	if err := pn.tx.QueryRow(ctx, `SELECT coalesce(sum(households), 0)::bigint, coalesce(sum(population), 0)::bigint
		FROM points WHERE ST_Intersects(geom, ST_GeomFromEWKB($1))`, g).Scan(&ph, &pp); err != nil {
		return 0, fmt.Errorf("households of a piece: %w", err)
	}
	if from != "" {
		var h, p *int64
		if err := pn.tx.QueryRow(ctx, `UPDATE pw SET geom = ST_Multi(ST_CollectionExtract(ST_Difference(geom, ST_GeomFromEWKB($2)), 3)),
				touched = true WHERE code = $1
			RETURNING h, p`, from, g).Scan(&h, &p); err != nil {
			return 0, fmt.Errorf("take from %s: %w", from, err)
		}
		if h != nil {
			ph = min(ph, *h)
		}
		if p != nil {
			pp = min(pp, *p)
		}
		if err := pn.exec(ctx, `UPDATE pw SET h = h - $2, p = p - $3 WHERE code = $1`, from, ph, pp); err != nil {
			return 0, err
		}
	}
	if to != "" {
		if err := pn.exec(ctx, `UPDATE pw SET geom = ST_Multi(ST_CollectionExtract(ST_Union(geom, ST_GeomFromEWKB($2)), 3)),
				h = h + $3, p = p + $4, touched = true WHERE code = $1`, to, g, ph, pp); err != nil {
			return 0, fmt.Errorf("give to %s: %w", to, err)
		}
	}
	return ph, nil
}

// neighbour finds the community of a street sharing the longest edge with
// a piece ("" when none shares an edge; a corner does not count).
func (pn *planner) neighbour(ctx context.Context, g []byte, street string, exclude []string) (string, error) {
	var code string
	err := pn.tx.QueryRow(ctx, `WITH x AS (SELECT ST_GeomFromEWKB($1) AS g)
		SELECT n.code FROM pw n, x WHERE n.street = $2 AND NOT n.code = ANY($3) AND n.geom && ST_Expand(x.g, 1e-9)
		  AND ST_Relate(n.geom, x.g, '****1****')
		ORDER BY ST_Length(ST_CollectionExtract(ST_Intersection(ST_Boundary(n.geom), ST_Boundary(x.g)), 2)::geography) DESC, n.code
		LIMIT 1`, g, street, append([]string{}, exclude...)).Scan(&code)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return code, err
}

func (pn *planner) pieces(ctx context.Context, sql string, args ...any) ([]piece, error) {
	rows, err := pn.tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (piece, error) {
		var p piece
		return p, r.Scan(&p.g, &p.area)
	})
}

type zoneRef struct {
	kind  string
	codes []string
	part  int
	g     []byte
}

// reassign repairs the zones of the initial analysis, in the order
// crosses_parent, overlap, gap, then non-contiguous pieces. Each repair
// recomputes its geometry from the working communities, so it sees the
// repairs before it.
func (pn *planner) reassign(ctx context.Context) error {
	rows, err := pn.tx.Query(ctx, `SELECT kind, codes, part, ST_AsEWKB(geom) FROM pz WHERE kind IN ('crosses_parent', 'overlap', 'gap')
		ORDER BY array_position(ARRAY['crosses_parent','overlap','gap'], kind), codes, part`)
	if err != nil {
		return err
	}
	zs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (zoneRef, error) {
		var z zoneRef
		return z, r.Scan(&z.kind, &z.codes, &z.part, &z.g)
	})
	if err != nil {
		return err
	}
	for _, z := range zs {
		id := z.kind + ":" + joinCodes(z.codes)
		if z.part > 0 {
			id += ":" + strconv.Itoa(z.part)
		}
		var err error
		switch z.kind {
		case "crosses_parent":
			err = pn.fixCrossing(ctx, id, z.codes[0])
		case "overlap":
			err = pn.fixOverlap(ctx, id, z.codes[0], z.codes[1])
		case "gap":
			err = pn.fixGap(ctx, id, z.codes[0], z.g)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
	}
	return pn.tidy(ctx, "reassign", nil)
}

func joinCodes(c []string) string {
	out := ""
	for i, s := range c {
		if i > 0 {
			out += "+"
		}
		out += s
	}
	return out
}

// fixCrossing clips a community to its street. Each piece outside goes to
// the street holding most of it: whatever the communities of that street
// already cover stays theirs, the rest goes to the community of that street
// sharing the longest edge with it; a piece outside every street is
// dropped.
func (pn *planner) fixCrossing(ctx context.Context, id, code string) error {
	ps, err := pn.pieces(ctx, `SELECT ST_AsEWKB(d.geom), ST_Area(d.geom::geography) FROM pw c JOIN ps s ON s.code = c.street,
		ST_Dump(ST_CollectionExtract(ST_Difference(c.geom, s.geom), 3)) d WHERE c.code = $1 ORDER BY d.path`, code)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.area < 1 {
			continue
		}
		var street string
		var residual []byte
		var rarea float64
		err := pn.tx.QueryRow(ctx, `WITH x AS (SELECT ST_GeomFromEWKB($1) AS g)
			SELECT s.code, ST_AsEWKB(r.g), coalesce(ST_Area(r.g::geography), 0)
			FROM ps s, x, LATERAL (SELECT ST_CollectionExtract(ST_Difference(ST_Intersection(x.g, s.geom),
				coalesce((SELECT ST_Union(c.geom) FROM pw c WHERE c.street = s.code AND c.code <> $2 AND c.geom && x.g), 'POLYGON EMPTY'::geometry)), 3) AS g) r
			WHERE s.geom && x.g AND ST_Relate(s.geom, x.g, '2********')
			ORDER BY ST_Area(ST_Intersection(x.g, s.geom)::geography) DESC, s.code LIMIT 1`, p.g, code).Scan(&street, &residual, &rarea)
		if errors.Is(err, pgx.ErrNoRows) {
			moved, err := pn.move(ctx, p.g, code, "")
			if err != nil {
				return err
			}
			pn.add(PlanOp{Kind: "reassign", Zone: id, From: []string{code}, HouseholdsMoved: moved, AreaM2: p.area,
				Note: "part outside every street dropped (community clipped to its street)"})
			continue
		}
		if err != nil {
			return err
		}
		moved, err := pn.move(ctx, p.g, code, "")
		if err != nil {
			return err
		}
		op := PlanOp{Kind: "reassign", Zone: id, From: []string{code}, HouseholdsMoved: moved, AreaM2: p.area,
			Note: "part outside its street goes to street " + street}
		if rarea >= 1 {
			to, err := pn.neighbour(ctx, residual, street, nil)
			if err != nil {
				return err
			}
			if to == "" {
				op.Note += "; no community of that street shares an edge with the uncovered part, left as a gap"
				pn.note(code, "part outside its street: no neighbour in street "+street+" shares an edge")
			} else if _, err := pn.move(ctx, residual, "", to); err != nil {
				return err
			} else {
				op.To = []string{to}
				op.Note += " (uncovered part to " + to + ", the rest already covered by its communities)"
			}
		} else {
			op.Note += " (already covered by its communities)"
		}
		pn.add(op)
	}
	return nil
}

// fixOverlap gives an overlap to one side. Rule: the side whose street
// covers more of the overlap keeps it; when both are of the same street (or
// cover it equally) the smaller code keeps it. The other side gives it up,
// with the households of the building points in it.
func (pn *planner) fixOverlap(ctx context.Context, id, a, b string) error {
	var g []byte
	var area float64
	var keep string
	err := pn.tx.QueryRow(ctx, `WITH o AS (SELECT ST_CollectionExtract(ST_Intersection(x.geom, y.geom), 3) AS g, x.street AS sa, y.street AS sb
			FROM pw x, pw y WHERE x.code = $1 AND y.code = $2)
		SELECT ST_AsEWKB(o.g), coalesce(ST_Area(o.g::geography), 0),
			CASE WHEN coalesce(ST_Area(ST_Intersection(o.g, sb.geom)), 0) > coalesce(ST_Area(ST_Intersection(o.g, sa.geom)), 0) + 1e-12 THEN $2 ELSE $1 END
		FROM o LEFT JOIN ps sa ON sa.code = o.sa LEFT JOIN ps sb ON sb.code = o.sb`, a, b).Scan(&g, &area, &keep)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if area < 1 {
		return nil
	}
	lose := b
	if keep == b {
		lose = a
	}
	moved, err := pn.move(ctx, g, lose, "")
	if err != nil {
		return err
	}
	pn.add(PlanOp{Kind: "reassign", Zone: id, From: []string{lose}, To: []string{keep}, HouseholdsMoved: moved, AreaM2: area,
		Note: "overlap kept by " + keep + " (its street covers more of it, else the smaller code)"})
	return nil
}

// fixGap gives each piece of a gap (what is still uncovered of it) to the
// community of the street sharing the longest edge with it.
func (pn *planner) fixGap(ctx context.Context, id, street string, g []byte) error {
	ps, err := pn.pieces(ctx, `WITH x AS (SELECT ST_GeomFromEWKB($1) AS g)
		SELECT ST_AsEWKB(d.geom), ST_Area(d.geom::geography) FROM x,
			ST_Dump(ST_CollectionExtract(ST_Difference(x.g, coalesce((SELECT ST_Union(c.geom) FROM pw c WHERE c.geom && x.g), 'POLYGON EMPTY'::geometry)), 3)) d
		ORDER BY d.path`, g)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.area < 1 {
			continue
		}
		to, err := pn.neighbour(ctx, p.g, street, nil)
		if err != nil {
			return err
		}
		if to == "" {
			pn.plan.Infeasible = append(pn.plan.Infeasible, PlanIssue{Code: street, Status: "gap",
				Reason: fmt.Sprintf("%s: no neighbour in the same street shares an edge with a gap of %.0f m²", id, p.area)})
			continue
		}
		moved, err := pn.move(ctx, p.g, "", to)
		if err != nil {
			return err
		}
		pn.add(PlanOp{Kind: "reassign", Zone: id, To: []string{to}, HouseholdsMoved: moved, AreaM2: p.area,
			Note: "gap to the community of the street sharing the longest edge"})
	}
	return nil
}

// tidy makes communities contiguous: the largest piece (parts touching at
// a corner are one piece, as in analyze) stays, every other piece goes to
// the community of the same street sharing the longest edge with it. only,
// when set, limits both the communities and the receivers (split parts);
// an empty kind records no operation (the split accounts for its parts).
func (pn *planner) tidy(ctx context.Context, kind string, only []string) error {
	type stray struct {
		code, street string
		g            []byte
		area         float64
	}
	// Two forms of the filter, so a split's tidy-up uses the code index
	// instead of reading every working geometry.
	filter := "scope"
	args := []any{}
	if only != nil {
		filter = "code = ANY($1)"
		args = append(args, only)
	}
	rows, err := pn.tx.Query(ctx, `WITH parts AS (
			SELECT code, street, g, ST_ClusterDBSCAN(g, 0, 1) OVER (PARTITION BY code) AS cid FROM (
				SELECT code, street, (ST_Dump(geom)).geom AS g FROM (SELECT * FROM pw WHERE `+filter+` OFFSET 0) w
				WHERE ST_NumGeometries(geom) > 1) d),
		pieces AS (SELECT code, street, cid, ST_Union(g) AS g FROM parts GROUP BY code, street, cid),
		ranked AS (SELECT *, row_number() OVER (PARTITION BY code ORDER BY ST_Area(g) DESC, ST_XMin(g), ST_YMin(g)) AS rk FROM pieces)
		SELECT code, street, ST_AsEWKB(g), ST_Area(g::geography) FROM ranked WHERE rk > 1 ORDER BY code, ST_XMin(g), ST_YMin(g)`, args...)
	if err != nil {
		return err
	}
	strays, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stray, error) {
		var s stray
		return s, r.Scan(&s.code, &s.street, &s.g, &s.area)
	})
	if err != nil {
		return err
	}
	for _, s := range strays {
		exclude := []string{s.code}
		var to string
		if only != nil {
			// Receivers limited to the given set.
			err = pn.tx.QueryRow(ctx, `WITH x AS (SELECT ST_GeomFromEWKB($1) AS g)
				SELECT n.code FROM pw n, x WHERE n.code = ANY($2) AND n.code <> $3 AND ST_Relate(n.geom, x.g, '****1****')
				ORDER BY ST_Length(ST_CollectionExtract(ST_Intersection(ST_Boundary(n.geom), ST_Boundary(x.g)), 2)::geography) DESC, n.code
				LIMIT 1`, s.g, only, s.code).Scan(&to)
			if errors.Is(err, pgx.ErrNoRows) {
				err = nil
			}
		} else {
			to, err = pn.neighbour(ctx, s.g, s.street, exclude)
		}
		if err != nil {
			return err
		}
		if to == "" {
			pn.note(s.code, "non-contiguous: no neighbour in the same street shares an edge with a detached part")
			continue
		}
		moved, err := pn.move(ctx, s.g, s.code, to)
		if err != nil {
			return err
		}
		if kind == "" {
			continue // part of an operation that accounts for it
		}
		pn.add(PlanOp{Kind: kind, Zone: "noncontiguous:" + s.code, From: []string{s.code}, To: []string{to}, HouseholdsMoved: moved,
			AreaM2: s.area, Note: "detached part to the neighbour of the same street sharing the longest edge"})
	}
	return nil
}

// merge joins each undersized community (smallest first) with one
// neighbour of the same street sharing an edge: the one whose merged
// households come closest to normal without exceeding the maximum, on ties
// the more compact result (Polsby-Popper), then the smaller code. The
// larger of the two keeps its code.
//
// It runs in rounds of two statements (the candidates of every pending
// community, then all accepted merges) instead of several per community.
// A round decides a community only when neither it nor any of its
// candidates was merged earlier in the round or is a candidate of a
// community deferred earlier in the round; the others wait for the next
// round. So every decision sees what the one-by-one order (h, code) would
// show it, and the plan is the same, operations in the same order.
func (pn *planner) merge(ctx context.Context) error {
	c := pn.p.Community
	if !c.MinHouseholds.on() {
		return nil
	}
	rows, err := pn.tx.Query(ctx, `SELECT code FROM pw WHERE scope AND h < $1 AND street IN (SELECT code FROM ps) ORDER BY h, code`, c.MinHouseholds.v())
	if err != nil {
		return err
	}
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	normal := c.NormalHouseholds.v()
	if !c.NormalHouseholds.on() {
		normal = c.MinHouseholds.v()
	}
	// NULL when the rule is off; only used to skip Polsby-Popper of
	// candidates that cannot be chosen (Go applies the rule itself).
	var maxH, maxP *float64
	if c.MaxHouseholds.on() {
		v := c.MaxHouseholds.v()
		maxH = &v
	}
	if c.MaxPopulation.on() {
		v := c.MaxPopulation.v()
		maxP = &v
	}
	type cand struct {
		code string
		h    int64
		p    *int64
		pp   *float64 // nil when the merge would exceed a maximum
	}
	type hp struct {
		h int64
		p *int64
	}
	type merged struct {
		i          int // position in codes: the one-by-one order
		code, with string
		keep, gone string
		h, mh      int64
		pp         float64
		moved      int64 // households of the one merged away
		area       float64
	}
	var done []merged
	pending := make([]int, len(codes))
	for i := range pending {
		pending[i] = i
	}
	for round := 1; len(pending) > 0; round++ {
		names := make([]string, len(pending))
		for k, i := range pending {
			names[k] = codes[i]
		}
		rows, err := pn.tx.Query(ctx, `SELECT code, h, p FROM pw WHERE code = ANY($1)`, names)
		if err != nil {
			return err
		}
		state := map[string]hp{}
		for rows.Next() {
			var code string
			var x hp
			if err := rows.Scan(&code, &x.h, &x.p); err != nil {
				rows.Close()
				return err
			}
			state[code] = x
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// Candidates of every pending community; the union is built only
		// for merges within the maxima (OFFSET 0: built once, not once per
		// use).
		rows, err = pn.tx.Query(ctx, `SELECT a.code, n.code, n.h, n.p,
				CASE WHEN u.g IS NOT NULL THEN coalesce(4 * pi() * ST_Area(u.g::geography) / nullif(ST_Perimeter(u.g::geography) ^ 2, 0), 0) END
			FROM pw a JOIN pw n ON n.street = a.street AND n.code <> a.code AND n.geom && a.geom AND ST_Relate(a.geom, n.geom, '****1****'),
			LATERAL (SELECT CASE WHEN ($2::float8 IS NULL OR (a.h + n.h)::float8 <= $2)
					AND NOT (a.p IS NOT NULL AND n.p IS NOT NULL AND $3::float8 IS NOT NULL AND (a.p + n.p)::float8 > $3)
				THEN ST_Union(a.geom, n.geom) END AS g OFFSET 0) u
			WHERE a.code = ANY($1) AND n.h IS NOT NULL ORDER BY a.code, n.code`, names, maxH, maxP)
		if err != nil {
			return err
		}
		cands := map[string][]cand{}
		for rows.Next() {
			var a string
			var x cand
			if err := rows.Scan(&a, &x.code, &x.h, &x.p, &x.pp); err != nil {
				rows.Close()
				return err
			}
			cands[a] = append(cands[a], x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// dirty: merged this round, or a deferred community and its
		// candidates (its merge, still to come, may change them).
		dirty := map[string]bool{}
		var next []int
		var accepted []merged
		for _, i := range pending {
			code := codes[i]
			st, ok := state[code]
			if !ok {
				continue // merged away already
			}
			cs := cands[code]
			if dirty[code] || slices.ContainsFunc(cs, func(x cand) bool { return dirty[x.code] }) {
				dirty[code] = true
				for _, x := range cs {
					dirty[x.code] = true
				}
				next = append(next, i)
				continue
			}
			h, p := st.h, st.p
			if float64(h) >= c.MinHouseholds.v() {
				continue
			}
			if len(cs) == 0 {
				pn.note(code, "undersized: no neighbour in the same street shares an edge")
				continue
			}
			best := -1
			for k, x := range cs {
				m := float64(h + x.h)
				if c.MaxHouseholds.on() && m > c.MaxHouseholds.v() {
					continue
				}
				if p != nil && x.p != nil && c.MaxPopulation.on() && float64(*p+*x.p) > c.MaxPopulation.v() {
					continue
				}
				if x.pp == nil {
					return fmt.Errorf("merge %s: no Polsby-Popper for candidate %s", code, x.code)
				}
				if best < 0 {
					best = k
					continue
				}
				d, bd := math.Abs(m-normal), math.Abs(float64(h+cs[best].h)-normal)
				if d < bd || d == bd && *x.pp > *cs[best].pp {
					best = k
				}
			}
			if best < 0 {
				pn.note(code, fmt.Sprintf("undersized: every neighbour of the same street sharing an edge would exceed %g households (or the population maximum) after merging", c.MaxHouseholds.v()))
				continue
			}
			x := cs[best]
			mg := merged{i: i, code: code, with: x.code, keep: x.code, gone: code, h: h, mh: h + x.h, pp: *x.pp}
			if h > x.h {
				mg.keep, mg.gone = code, x.code
			}
			dirty[code], dirty[x.code] = true, true
			accepted = append(accepted, mg)
		}
		slog.Debug("plan merge round", "round", round, "pending", len(pending), "merged", len(accepted), "deferred", len(next))
		if len(accepted) > 0 {
			keeps := make([]string, len(accepted))
			gones := make([]string, len(accepted))
			for k, m := range accepted {
				keeps[k], gones[k] = m.keep, m.gone
			}
			// No code appears twice in a round, so the update and the delete
			// touch different rows.
			rows, err := pn.tx.Query(ctx, `WITH m AS (SELECT * FROM unnest($1::text[], $2::text[]) m(keep, gone)),
				upd AS (UPDATE pw k SET geom = ST_Multi(ST_CollectionExtract(ST_Union(k.geom, g.geom), 3)),
						h = k.h + g.h, p = CASE WHEN k.p IS NULL AND g.p IS NULL THEN NULL ELSE coalesce(k.p, 0) + coalesce(g.p, 0) END, touched = true
					FROM m JOIN pw g ON g.code = m.gone WHERE k.code = m.keep
					RETURNING m.gone, g.h, ST_Area(g.geom::geography)),
				del AS (DELETE FROM pw WHERE code IN (SELECT gone FROM m))
				SELECT gone, h, st_area FROM upd`, keeps, gones)
			if err != nil {
				return fmt.Errorf("merge round %d: %w", round, err)
			}
			type goneRow struct {
				h    int64
				area float64
			}
			got := map[string]goneRow{}
			for rows.Next() {
				var g string
				var x goneRow
				if err := rows.Scan(&g, &x.h, &x.area); err != nil {
					rows.Close()
					return err
				}
				got[g] = x
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("merge round %d: %w", round, err)
			}
			for _, m := range accepted {
				g, ok := got[m.gone]
				if !ok {
					return fmt.Errorf("merge %s into %s: not applied", m.gone, m.keep)
				}
				m.moved, m.area = g.h, g.area
				delete(pn.reason, m.gone)
				done = append(done, m)
			}
		}
		pending = next
	}
	// Operations in the one-by-one order.
	sort.Slice(done, func(a, b int) bool { return done[a].i < done[b].i })
	for _, m := range done {
		pn.add(PlanOp{Kind: "merge", From: []string{m.code, m.with}, To: []string{m.keep}, HouseholdsMoved: m.moved, AreaM2: m.area,
			Note: fmt.Sprintf("%s (%d households) joins %s; merged %d households (normal %g), Polsby-Popper %.3f", m.code, m.h, m.with, m.mh, normal, m.pp)})
	}
	return nil
}

// split cuts each oversized community into k = ceil(households / normal)
// parts (at least 2, more when population needs it), each one piece,
// minimising imbalance first and then non-compactness (partCost). Methods
// in order, the next one for communities the previous could not split
// within range:
//   - straight cuts: recursive bisection of the community (one polygon) by
//     straight lines between its building points, each crossing the piece
//     it cuts once (cut.go; the planar geometry is geo/planar.go);
//   - Voronoi cells of the building points clipped to the community, each
//     carrying its points' households, grouped into connected parts
//     (partition.go): for any shape, e.g. a community in several pieces;
//   - a grid of about 8k cells weighted by area, likewise, when there are
//     no points.
//
// Splits are independent of each other (each touches only its community
// and its new parts), so they run set-based: the sub-units of every
// oversized community are loaded in a few statements per method, the
// partition runs in Go, and the parts are written back, tidied and counted
// in a handful of statements for all communities at once.
func (pn *planner) split(ctx context.Context) error {
	c := pn.p.Community
	if !c.MaxHouseholds.on() && !c.MaxPopulation.on() {
		return nil
	}
	maxH, maxP := math.Inf(1), math.Inf(1)
	if c.MaxHouseholds.on() {
		maxH = c.MaxHouseholds.v()
	}
	if c.MaxPopulation.on() {
		maxP = c.MaxPopulation.v()
	}
	rows, err := pn.tx.Query(ctx, `SELECT code, street, h, p FROM pw WHERE scope AND street IN (SELECT code FROM ps)
		AND (h > $1 OR p > $2) ORDER BY code`, maxH, maxP)
	if err != nil {
		return err
	}
	type job struct {
		code, street string
		hp, pp       *int64
		h, p         float64
		k            int
		parts        []splitPart
		method       int // -1: none yet; else an index in methods
		codes        []string
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*job, error) {
		var o job
		return &o, r.Scan(&o.code, &o.street, &o.hp, &o.pp)
	})
	if err != nil {
		return err
	}
	if len(jobs) == 0 {
		return nil
	}
	for _, j := range jobs {
		if j.hp != nil {
			j.h = float64(*j.hp)
		}
		if j.pp != nil {
			j.p = float64(*j.pp)
		}
		j.k = 2
		if c.NormalHouseholds.on() && c.NormalHouseholds.v() > 0 {
			j.k = max(j.k, int(math.Ceil(j.h/c.NormalHouseholds.v())))
		}
		if c.NormalPopulation.on() && c.NormalPopulation.v() > 0 {
			j.k = max(j.k, int(math.Ceil(j.p/c.NormalPopulation.v())))
		}
		j.method = -1
	}
	// Whether a part with this share of the community is within range.
	fits := func(j *job, share float64) bool {
		ph := j.h * share
		if c.MaxHouseholds.on() && ph > c.MaxHouseholds.v() || c.MinHouseholds.on() && ph < c.MinHouseholds.v() {
			return false
		}
		return !c.MaxPopulation.on() || j.p*share <= c.MaxPopulation.v()
	}
	if err := pn.exec(ctx, `DROP TABLE IF EXISTS pcell; CREATE TEMP TABLE pcell (code text, m int, id int, geom geometry, w float8)`); err != nil {
		return err
	}
	methods := []string{SplitMethodStraight, SplitMethodVoronoi, SplitMethodGrid}
	pending := jobs
	for m := range methods {
		if len(pending) == 0 {
			break
		}
		codes := make([]string, len(pending))
		ks := make([]int32, len(pending))
		for i, j := range pending {
			codes[i], ks[i] = j.code, int32(j.k)
		}
		t0 := time.Now()
		var cs map[string]*subunits
		var ss map[string]*straight
		if m == 0 {
			ss, err = pn.straightAll(ctx, codes)
		} else {
			cs, err = pn.cellsAll(ctx, m, codes, ks)
		}
		if err != nil {
			return err
		}
		slog.Debug("plan split sub-units", "method", m, "communities", len(codes), "ms", time.Since(t0).Milliseconds())
		t0 = time.Now()
		var next []*job
		for _, j := range pending {
			fit := func(share float64) bool { return fits(j, share) }
			var parts []splitPart
			if m == 0 {
				parts = ss[j.code].split(j.k, fit)
			} else {
				parts = cs[j.code].split(j.k, fit)
			}
			ok := false
			var total float64
			for _, p := range parts {
				total += p.w
			}
			if total > 0 {
				ok = true
				for _, p := range parts {
					ok = ok && fit(p.w/total)
				}
				if j.method < 0 || ok {
					j.parts, j.method = parts, m
				}
			}
			if !ok {
				next = append(next, j)
			}
		}
		slog.Debug("plan split partition", "method", m, "communities", len(codes), "ms", time.Since(t0).Milliseconds())
		pending = next
	}
	// Part 0 keeps the code; the others get provisional codes. One row
	// per cell of a part in pparts, or its region in pregion.
	var done []*job
	var prow, rrow [][]any
	group := map[string][]string{}
	var allCodes []string
	for _, j := range jobs {
		if j.method < 0 {
			pn.note(j.code, "oversized: too few sub-units to split")
			continue
		}
		j.codes = make([]string, len(j.parts))
		j.codes[0] = j.code
		for i := 1; i < len(j.parts); i++ {
			j.codes[i] = planCode(pn.opt.Seed, j.street, j.code, i)
		}
		for i, p := range j.parts {
			if p.region != "" {
				rrow = append(rrow, []any{j.codes[i], j.code, int32(i), int32(j.method), p.region})
			}
			for _, id := range p.ids {
				prow = append(prow, []any{j.codes[i], j.code, int32(i), int32(j.method), int32(id)})
			}
			group[j.codes[i]] = j.codes
		}
		allCodes = append(allCodes, j.codes...)
		done = append(done, j)
	}
	if len(done) == 0 {
		return nil
	}
	if err := pn.exec(ctx, `DROP TABLE IF EXISTS pparts, pregion, pmap; CREATE TEMP TABLE pparts (code text, orig text, part int, m int, id int);
		CREATE TEMP TABLE pregion (code text, orig text, part int, m int, wkt text)`); err != nil {
		return err
	}
	if _, err := pn.tx.CopyFrom(ctx, pgx.Identifier{"pparts"}, []string{"code", "orig", "part", "m", "id"}, pgx.CopyFromRows(prow)); err != nil {
		return fmt.Errorf("parts: %w", err)
	}
	if _, err := pn.tx.CopyFrom(ctx, pgx.Identifier{"pregion"}, []string{"code", "orig", "part", "m", "wkt"}, pgx.CopyFromRows(rrow)); err != nil {
		return fmt.Errorf("parts: %w", err)
	}
	// A part made of cells is their union; a part cut by straight lines is
	// the community inside its region.
	if err := pn.exec(ctx, `CREATE INDEX ON pcell (code, m, id); ANALYZE pcell; ANALYZE pparts;
		CREATE TEMP TABLE pmap AS SELECT DISTINCT code, orig, part, m FROM pparts UNION SELECT code, orig, part, m FROM pregion;
		CREATE TEMP TABLE pgeo AS SELECT a.code, a.orig, a.part, ST_Multi(ST_CollectionExtract(ST_Union(c.geom), 3)) AS geom
			FROM pparts a JOIN pcell c ON c.code = a.orig AND c.m = a.m AND c.id = a.id WHERE a.m > 0 GROUP BY a.code, a.orig, a.part
		UNION ALL
		SELECT r.code, r.orig, r.part, ST_Multi(ST_CollectionExtract(ST_Intersection(o.geom, ST_GeomFromText(r.wkt, 4326)), 3))
			FROM pregion r JOIN pw o ON o.code = r.orig;
		UPDATE pw SET geom = g.geom, touched = true FROM pgeo g WHERE g.part = 0 AND pw.code = g.code;
		INSERT INTO pw (code, name, street, h, p, provisional, geom, scope, touched)
			SELECT g.code, o.name || '(' || g.part + 1 || ')', o.street, 0, 0, true, g.geom, true, true
			FROM pgeo g JOIN pw o ON o.code = g.orig WHERE g.part > 0 ORDER BY g.orig, g.part;
		DROP TABLE pgeo; ANALYZE pw`); err != nil {
		return fmt.Errorf("write parts: %w", err)
	}
	// Parts must be contiguous: stray pieces go to the adjacent part of
	// the same split.
	t0 := time.Now()
	if err := pn.tidySplit(ctx, allCodes, group); err != nil {
		return err
	}
	slog.Debug("plan split tidy", "ms", time.Since(t0).Milliseconds())
	// Households by the weights inside each part: building points, or
	// cells (a cell cut by the tidy-up shares its weight by area); largest
	// remainder so they add up.
	rows, err = pn.tx.Query(ctx, `SELECT a.code, coalesce(sum(CASE WHEN a.m = 0 THEN CASE WHEN ST_Intersects(pw.geom, c.geom) THEN c.w ELSE 0 END
			ELSE c.w * ST_Area(ST_Intersection(pw.geom, c.geom)) / nullif(ST_Area(c.geom), 0) END), 0),
			max(ST_Area(pw.geom::geography))
		FROM pmap a JOIN pw ON pw.code = a.code LEFT JOIN pcell c ON c.code = a.orig AND c.m = a.m AND c.geom && pw.geom GROUP BY a.code`)
	if err != nil {
		return err
	}
	wt := map[string]float64{}
	areas := map[string]float64{}
	for rows.Next() {
		var cd string
		var w, a float64
		if err := rows.Scan(&cd, &w, &a); err != nil {
			rows.Close()
			return err
		}
		wt[cd], areas[cd] = w, a
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var ucodes []string
	var uh, up []*int64
	for _, j := range done {
		ws := make([]float64, len(j.codes))
		for i, cd := range j.codes {
			ws[i] = wt[cd]
		}
		hs := shares(j.hp, ws)
		ps := shares(j.pp, ws)
		var moved int64
		var area float64
		for i, cd := range j.codes {
			ucodes, uh, up = append(ucodes, cd), append(uh, hs[i]), append(up, ps[i])
			if i > 0 {
				if hs[i] != nil {
					moved += *hs[i]
				}
				area += areas[cd]
			}
		}
		// AreaM2 is the area of the new parts (what leaves the original code).
		op := PlanOp{Kind: "split", From: []string{j.code}, To: j.codes, HouseholdsMoved: moved, AreaM2: area, Method: methods[j.method],
			Note: fmt.Sprintf("%d households into %d parts", int64(j.h), len(j.codes))}
		for _, x := range hs {
			if x != nil && (c.MinHouseholds.on() && float64(*x) < c.MinHouseholds.v() || c.MaxHouseholds.on() && float64(*x) > c.MaxHouseholds.v()) {
				r := fmt.Sprintf("split of %s: parts cannot all be within range with the available sub-units", j.code)
				for _, cd := range j.codes {
					pn.note(cd, r)
				}
				op.Note += "; " + r
				break
			}
		}
		pn.add(op)
	}
	return pn.exec(ctx, `UPDATE pw SET h = u.h, p = u.p FROM unnest($1::text[], $2::bigint[], $3::bigint[]) u(code, h, p) WHERE pw.code = u.code`,
		ucodes, uh, up)
}

// tidySplit is tidy for the parts of splits: strays of a part go only to
// another part of the same split (group maps each part to its split's
// parts).
func (pn *planner) tidySplit(ctx context.Context, codes []string, group map[string][]string) error {
	type stray struct {
		code string
		g    []byte
	}
	rows, err := pn.tx.Query(ctx, `WITH parts AS (
			SELECT code, g, ST_ClusterDBSCAN(g, 0, 1) OVER (PARTITION BY code) AS cid FROM (
				SELECT code, (ST_Dump(geom)).geom AS g FROM (SELECT * FROM pw WHERE code = ANY($1) OFFSET 0) w
				WHERE ST_NumGeometries(geom) > 1) d),
		pieces AS (SELECT code, cid, ST_Union(g) AS g FROM parts GROUP BY code, cid),
		ranked AS (SELECT *, row_number() OVER (PARTITION BY code ORDER BY ST_Area(g) DESC, ST_XMin(g), ST_YMin(g)) AS rk FROM pieces)
		SELECT code, ST_AsEWKB(g) FROM ranked WHERE rk > 1 ORDER BY code, ST_XMin(g), ST_YMin(g)`, codes)
	if err != nil {
		return err
	}
	strays, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stray, error) {
		var s stray
		return s, r.Scan(&s.code, &s.g)
	})
	if err != nil {
		return err
	}
	// The original per-split order: splits by code, each split's strays
	// by part code.
	for _, s := range strays {
		var to string
		err = pn.tx.QueryRow(ctx, `WITH x AS (SELECT ST_GeomFromEWKB($1) AS g)
			SELECT n.code FROM pw n, x WHERE n.code = ANY($2) AND n.code <> $3 AND ST_Relate(n.geom, x.g, '****1****')
			ORDER BY ST_Length(ST_CollectionExtract(ST_Intersection(ST_Boundary(n.geom), ST_Boundary(x.g)), 2)::geography) DESC, n.code
			LIMIT 1`, s.g, group[s.code], s.code).Scan(&to)
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
		if err != nil {
			return err
		}
		if to == "" {
			pn.note(s.code, "non-contiguous: no neighbour in the same street shares an edge with a detached part")
			continue
		}
		if _, err := pn.move(ctx, s.g, s.code, to); err != nil {
			return err
		}
	}
	return nil
}

// shares distributes a total by weights, largest remainder first (ties by
// index), so parts add up exactly.
func shares(total *int64, ws []float64) []*int64 {
	out := make([]*int64, len(ws))
	if total == nil {
		return out
	}
	var sum float64
	for _, w := range ws {
		sum += w
	}
	vals := make([]int64, len(ws))
	type rem struct {
		i int
		r float64
	}
	var rems []rem
	var given int64
	for i, w := range ws {
		x := float64(*total) / float64(len(ws))
		if sum > 0 {
			x = float64(*total) * w / sum
		}
		vals[i] = int64(math.Floor(x))
		given += vals[i]
		rems = append(rems, rem{i, x - math.Floor(x)})
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for j := 0; given < *total && j < len(rems); j++ {
		vals[rems[j].i]++
		given++
	}
	for i := range vals {
		v := vals[i]
		out[i] = &v
	}
	return out
}

// straightAll loads, for straight cuts, the communities that are one
// polygon and their building points (one per location, with the
// households there); the points also go to pcell (method 0) to count the
// parts.
func (pn *planner) straightAll(ctx context.Context, codes []string) (map[string]*straight, error) {
	out := map[string]*straight{}
	rows, err := pn.tx.Query(ctx, `SELECT code, ST_AsGeoJSON(ST_GeometryN(geom, 1), 15), ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)
		FROM pw WHERE code = ANY($1) AND ST_NumGeometries(geom) = 1`, codes)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var code, gj string
		var x0, y0, x1, y1 float64
		if err := rows.Scan(&code, &gj, &x0, &y0, &x1, &y1); err != nil {
			rows.Close()
			return nil, err
		}
		var g struct{ Coordinates [][][2]float64 }
		if err := json.Unmarshal([]byte(gj), &g); err != nil {
			rows.Close()
			return nil, fmt.Errorf("community %s: %w", code, err)
		}
		st := &straight{f: geo.NewFrame(x0, y0, x1, y1)}
		st.lo, st.hi = st.f.XY(x0, y0), st.f.XY(x1, y1)
		for _, r := range g.Coordinates {
			ring := make([]geo.XY, 0, len(r))
			for _, p := range r[:len(r)-1] {
				ring = append(ring, st.f.XY(p[0], p[1]))
			}
			st.pg = append(st.pg, ring)
		}
		out[code] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := pn.exec(ctx, `INSERT INTO pcell SELECT code, 0, row_number() OVER (PARTITION BY code ORDER BY x, y), ST_SetSRID(ST_MakePoint(x, y), 4326), w FROM (
			SELECT c.code, ST_X(pt.geom) AS x, ST_Y(pt.geom) AS y, sum(pt.households) AS w
			FROM pw c JOIN points pt ON ST_Intersects(c.geom, pt.geom) AND pt.households > 0 WHERE c.code = ANY($1) GROUP BY 1, 2, 3) x`, codes); err != nil {
		return nil, fmt.Errorf("points: %w", err)
	}
	rows, err = pn.tx.Query(ctx, `SELECT code, id, ST_X(geom), ST_Y(geom), w FROM pcell WHERE m = 0 AND code = ANY($1) ORDER BY code, id`, codes)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var code string
		var id int
		var x, y, w float64
		if err := rows.Scan(&code, &id, &x, &y, &w); err != nil {
			rows.Close()
			return nil, err
		}
		if st := out[code]; st != nil {
			st.ids = append(st.ids, id)
			st.pts = append(st.pts, weighted{st.f.XY(x, y), w})
		}
	}
	rows.Close()
	return out, rows.Err()
}

// cellsAll builds the sub-units of the given communities (with their k)
// by one method (1: Voronoi, 2: grid) in the temp table pcell and returns
// them by community: cells with a representative point (longitude,
// latitude), weight, area and perimeter, and their shared edges.
func (pn *planner) cellsAll(ctx context.Context, m int, codes []string, ks []int32) (map[string]*subunits, error) {
	var err error
	if m == 1 {
		// One cell per distinct point location (Voronoi merges duplicates);
		// a cell carries the households of the points inside it.
		err = pn.exec(ctx, `WITH c AS MATERIALIZED (SELECT code, geom FROM pw WHERE code = ANY($1)),
			pts AS (SELECT c.code, ST_Collect(pt.geom ORDER BY ST_X(pt.geom), ST_Y(pt.geom)) AS g
				FROM c JOIN points pt ON ST_Intersects(c.geom, pt.geom) AND pt.households > 0 GROUP BY c.code),
			v AS (SELECT c.code, c.geom AS cg, (ST_Dump(ST_VoronoiPolygons(pts.g, 0, ST_Expand(c.geom, 0.01)))).geom AS g FROM pts JOIN c USING (code)),
			cl AS (SELECT v.code, ST_CollectionExtract(ST_Intersection(v.g, v.cg), 3) AS g,
				(SELECT sum(pt.households) FROM points pt WHERE pt.households > 0 AND ST_Intersects(v.g, pt.geom) AND ST_Intersects(v.cg, pt.geom)) AS w FROM v)
			INSERT INTO pcell SELECT code, 1, row_number() OVER (PARTITION BY code ORDER BY ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g)), g, w FROM cl
			WHERE NOT ST_IsEmpty(g) AND w > 0`, codes)
	} else {
		// About 8k square cells over each community, weighted by area.
		err = pn.exec(ctx, `WITH c AS MATERIALIZED (SELECT pw.code, pw.geom, sqrt(ST_Area(pw.geom) / (j.k * 8)) AS size
				FROM pw JOIN unnest($1::text[], $2::int[]) j(code, k) ON j.code = pw.code),
			g AS (SELECT c.code, ST_CollectionExtract(ST_Intersection(sq.geom, c.geom), 3) AS g FROM c, ST_SquareGrid(c.size, c.geom) sq
				WHERE ST_Intersects(sq.geom, c.geom))
			INSERT INTO pcell SELECT code, 2, row_number() OVER (PARTITION BY code ORDER BY ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g)), g, ST_Area(g::geography) FROM g
			WHERE NOT ST_IsEmpty(g) AND ST_Area(g) > 0`, codes, ks)
	}
	if err != nil {
		return nil, fmt.Errorf("cells: %w", err)
	}
	rows, err := pn.tx.Query(ctx, `SELECT code, id, ST_X(pt), ST_Y(pt), w, ST_Area(geom::geography), ST_Perimeter(geom::geography) FROM (
			SELECT code, id, ST_PointOnSurface(geom) AS pt, w, geom FROM pcell WHERE m = $1 AND code = ANY($2)) x ORDER BY code, id`, m, codes)
	if err != nil {
		return nil, err
	}
	out := map[string]*subunits{}
	type key struct {
		code string
		id   int
	}
	at := map[key]int{}
	for rows.Next() {
		var code string
		var x cell
		if err := rows.Scan(&code, &x.id, &x.x, &x.y, &x.w, &x.area, &x.perim); err != nil {
			rows.Close()
			return nil, err
		}
		u := out[code]
		if u == nil {
			u = &subunits{}
			out[code] = u
		}
		at[key{code, x.id}] = len(u.c)
		u.c = append(u.c, x)
		u.nb = append(u.nb, nil)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Shared edges between the cells of a community, so parts can be kept
	// connected and their perimeters known without building them.
	rows, err = pn.tx.Query(ctx, `SELECT * FROM (SELECT a.code, a.id, b.id,
			ST_Length(ST_CollectionExtract(ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom)), 2)::geography) AS l
		FROM pcell a JOIN pcell b ON b.code = a.code AND b.m = a.m AND b.id > a.id AND b.geom && a.geom
		WHERE a.m = $1 AND a.code = ANY($2)) x WHERE l > 0 ORDER BY 1, 2, 3`, m, codes)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var code string
		var a, b int
		var l float64
		if err := rows.Scan(&code, &a, &b, &l); err != nil {
			rows.Close()
			return nil, err
		}
		u, i, j := out[code], at[key{code, a}], at[key{code, b}]
		u.nb[i] = append(u.nb[i], edge{j, l})
		u.nb[j] = append(u.nb[j], edge{i, l})
	}
	rows.Close()
	return out, rows.Err()
}

// planCode is a split part's provisional code, P<street>-<10 hex> like
// ProvisionalCode, from the seed, the original code and the part index, so
// the same seed gives the same codes.
func planCode(seed int64, street, code string, part int) string {
	h := sha256.New()
	fmt.Fprintf(h, "plan\x00%d\x00%s\x00%d", seed, code, part)
	return "P" + street + "-" + hex.EncodeToString(h.Sum(nil))[:10]
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
		var u PlanUnit
		var g string
		if err := rows.Scan(&u.Code, &u.Street, &u.Name, &u.Provisional, &u.Households, &u.Population, &u.AreaKM2,
			&u.PolsbyPopper, &u.HullRatio, &g, &u.BaseVersion); err != nil {
			rows.Close()
			return err
		}
		u.Geometry = json.RawMessage(g)
		if u.Households != nil && c.NormalHouseholds.on() && c.NormalHouseholds.v() > 0 {
			d := (float64(*u.Households) - c.NormalHouseholds.v()) / c.NormalHouseholds.v()
			u.Deviation = &d
		}
		u.Op = pn.lastOp[u.Code]
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
	if merged := mergedCodes(pn.plan); len(merged) > 0 {
		rows, err := pn.tx.Query(ctx, `SELECT code, version_id FROM units u WHERE code = ANY($1) AND `+asOf("u", 2)+` ORDER BY code`, merged, pn.at)
		if err != nil {
			return err
		}
		if pn.plan.Removed, err = pgx.CollectRows(rows, pgx.RowToStructByPos[ScenarioBase]); err != nil {
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
		if j.Status != "undersized" && j.Status != "oversized" {
			continue
		}
		r, ok := pn.reason[code]
		if !ok {
			r = "no operation could fix it: " + joinReasons(j.Reasons)
			var orphan bool
			if err := pn.tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM ps JOIN pw ON pw.street = ps.code WHERE pw.code = $1)`, code).Scan(&orphan); err != nil {
				return err
			}
			if orphan {
				r = "its street is not loaded (orphan), so it has no neighbour in the same street"
			}
		}
		pn.plan.Infeasible = append(pn.plan.Infeasible, PlanIssue{Code: code, Status: j.Status, Reason: r})
	}
	sort.SliceStable(pn.plan.Infeasible, func(a, b int) bool { return pn.plan.Infeasible[a].Code < pn.plan.Infeasible[b].Code })
	return nil
}

func joinReasons(r []string) string {
	out := ""
	for i, s := range r {
		if i > 0 {
			out += "; "
		}
		out += s
	}
	return out
}
