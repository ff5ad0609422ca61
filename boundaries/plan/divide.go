package plan

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
)

// Divide is the split of a plan offered to other levels: it cuts any units
// into k parts each with the same methods, in the same order, as a plan
// splits an oversized community (blocks where barriers are loaded, else
// straight cuts between building points, Voronoi cells, a grid), under
// rules given by the caller instead of the profile's community section.
// Grids are made with it.

// DivideRules are the sizes the parts of a Divide keep to; 0 sets no rule.
type DivideRules struct {
	MinHouseholds, MaxHouseholds, NormalHouseholds float64
	MaxPopulation, NormalPopulation                float64
}

// DivideOptions are how a Divide cuts: the rules, the method (SplitAuto
// when ""), the seed of the search, and whether to measure each part's new
// boundary on barriers (BoundaryOnBarriers; one geodesic buffer per part,
// the slowest step when parts are many).
type DivideOptions struct {
	Rules        DivideRules
	Method       string
	Seed         int64
	BarrierShare bool
}

// Division is what a Divide did beyond the parts it wrote to pdiv.
type Division struct {
	Method     string // auto, blocks or cuts, as asked
	MethodNote string // e.g. no barriers loaded: cuts
	// Notes are, by key, why a unit's parts are not all within the rules
	// (the first reason).
	Notes map[string]string
	// BoundaryOnBarriers is the share of the new boundaries (by length) on
	// barriers; nil when none are loaded, nothing was cut or it was not
	// asked for.
	BoundaryOnBarriers *float64
}

// Divide cuts the units src yields into ks[key] parts each (a key missing
// from ks, or with k < 2, stays whole). src is a query in tx returning
// (key text, name text, geom geometry, households bigint, population
// bigint) in EPSG:4326, one row per key; args are its parameters. The
// parts go to the temp table pdiv (key, part, geom, households,
// population, method, on_barriers), part 0 first, dropped at commit; a
// unit's parts are connected, cover it, and share its households and
// population by the building points (or blocks, or area) in them.
// Divide uses the plan's working tables (pw and the split's), so it must
// not run inside a Propose.
func Divide(ctx context.Context, tx pgx.Tx, p *analysis.Profile, src string, args []any, ks map[string]int, o DivideOptions) (*Division, error) {
	r, method := o.Rules, o.Method
	if method == "" {
		method = SplitAuto
	}
	if !slices.Contains(SplitChoices, method) {
		return nil, boundaries.Invalid("divide: method %q: want one of %s", method, strings.Join(SplitChoices, ", "))
	}
	rp := *p
	num := func(v float64) analysis.Number {
		if v > 0 {
			return analysis.Number{Value: &v}
		}
		return analysis.Number{}
	}
	c := &rp.Community
	c.MinHouseholds, c.MaxHouseholds, c.NormalHouseholds = num(r.MinHouseholds), num(r.MaxHouseholds), num(r.NormalHouseholds)
	c.MaxPopulation, c.NormalPopulation = num(r.MaxPopulation), num(r.NormalPopulation)
	pn := &planner{tx: tx, p: &rp, opt: Options{Method: method, Seed: o.Seed}, plan: &Plan{Method: method, Ops: []Op{}},
		reason: map[string]string{}, lastOp: map[string]string{}, onBar: map[string]float64{}, pointsFirst: true, noBarrierShare: !o.BarrierShare}
	jobs, err := pn.divideLoad(ctx, src, args, ks)
	if err != nil {
		return nil, fmt.Errorf("divide: %w", err)
	}
	var out *splitRows
	if len(jobs) > 0 {
		if out, err = pn.splitRun(ctx, jobs); err != nil {
			return nil, fmt.Errorf("divide: %w", err)
		}
	}
	d := &Division{Method: method, MethodNote: pn.plan.MethodNote, Notes: map[string]string{}, BoundaryOnBarriers: pn.plan.BoundaryOnBarriers}
	if err := pn.divideWrite(ctx, out, d); err != nil {
		return nil, fmt.Errorf("divide: %w", err)
	}
	return d, nil
}

// divideLoad makes pw of the caller's units and the split jobs of those
// to cut (by key).
func (pn *planner) divideLoad(ctx context.Context, src string, args []any, ks map[string]int) ([]*splitJob, error) {
	if err := pn.exec(ctx, `SET LOCAL jit = off`); err != nil {
		return nil, err
	}
	if err := pn.exec(ctx, `DROP TABLE IF EXISTS pw, pdiv`); err != nil {
		return nil, err
	}
	if err := pn.exec(ctx, `CREATE TEMP TABLE pw ON COMMIT DROP AS
		SELECT s.key::text AS code, s.name::text AS name, s.key::text AS street, s.households::bigint AS h, s.population::bigint AS p,
			false AS provisional, ST_Multi(ST_CollectionExtract(ST_Force2D(s.geom), 3))::geometry(MultiPolygon, 4326) AS geom,
			true AS scope, false AS touched, NULL::bigint AS vid
		FROM (`+src+`) s(key, name, geom, households, population)`, args...); err != nil {
		return nil, fmt.Errorf("units: %w", err)
	}
	if err := pn.exec(ctx, `CREATE INDEX ON pw USING gist (geom); CREATE INDEX ON pw (code); ANALYZE pw`); err != nil {
		return nil, err
	}
	rows, err := pn.tx.Query(ctx, `SELECT code, h, p, count(*) OVER (PARTITION BY code) FROM pw ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("units: %w", err)
	}
	var jobs []*splitJob
	for rows.Next() {
		j := &splitJob{method: -1}
		var n int
		if err := rows.Scan(&j.code, &j.hp, &j.pp, &n); err != nil {
			rows.Close()
			return nil, err
		}
		if n > 1 {
			rows.Close()
			return nil, boundaries.Invalid("divide: unit key %q appears more than once", j.code)
		}
		j.street, j.k = j.code, ks[j.code]
		if j.hp != nil {
			j.h = float64(*j.hp)
		}
		if j.pp != nil {
			j.p = float64(*j.pp)
		}
		if j.k >= 2 {
			jobs = append(jobs, j)
		}
	}
	rows.Close()
	return jobs, rows.Err()
}

// divideWrite writes pdiv: each job's parts in order, every other unit
// whole as its part 0; and the notes by key.
func (pn *planner) divideWrite(ctx context.Context, out *splitRows, d *Division) error {
	// Empty, not nil: a nil array is NULL, and NOT x = ANY(NULL) keeps no row.
	codes, keys, methods := []string{}, []string{}, []string{}
	parts, onBar := []int32{}, []*float64{}
	if out != nil {
		for _, j := range out.done {
			for i, cd := range j.codes {
				codes, keys, parts, methods = append(codes, cd), append(keys, j.code), append(parts, int32(i)), append(methods, splitMethods[j.method])
				var ob *float64
				if v, ok := pn.onBar[cd]; ok {
					ob = &v
				}
				onBar = append(onBar, ob)
			}
		}
	}
	if err := pn.exec(ctx, `CREATE TEMP TABLE pdiv ON COMMIT DROP AS
		SELECT m.key, m.part, pw.geom, pw.h AS households, pw.p AS population, m.method, m.on_barriers
		FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::float8[]) m(code, key, part, method, on_barriers)
		JOIN pw ON pw.code = m.code
		UNION ALL
		SELECT pw.code, 0, pw.geom, pw.h, pw.p, NULL, NULL FROM pw
		WHERE NOT pw.code = ANY($2) AND NOT pw.code = ANY($1)`, codes, keys, parts, methods, onBar); err != nil {
		return fmt.Errorf("parts: %w", err)
	}
	if err := pn.exec(ctx, `CREATE INDEX ON pdiv (key, part); ANALYZE pdiv`); err != nil {
		return err
	}
	keyOf := map[string]string{}
	for i, cd := range codes {
		keyOf[cd] = keys[i]
	}
	cs := make([]string, 0, len(pn.reason))
	for cd := range pn.reason {
		cs = append(cs, cd)
	}
	sort.Strings(cs)
	for _, cd := range cs {
		k, ok := keyOf[cd]
		if !ok {
			k = cd // a unit no method could cut
		}
		if _, seen := d.Notes[k]; !seen {
			d.Notes[k] = pn.reason[cd]
		}
	}
	return nil
}

// Shares distributes a total by weights, largest remainder first (ties by
// index), so the parts add up exactly; nil stays nil.
func Shares(total *int64, ws []float64) []*int64 { return shares(total, ws) }
