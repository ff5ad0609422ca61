package grids

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// RenumberRule is how a community's grids are renumbered as a whole.
const RenumberRule = "renumbering a community takes its live grids in the order of the numbering rule; each keeps its code while the codes " +
	"so far increase along that order (and are under the community's code); from the first grid out of order on, every grid gets " +
	"a new code, the community's next free numbers in order, so codes increase west→east, north→south and no code is reused. " +
	"A grid whose code changes is retired and created again under its new code with the same ground (old → new in history). " + OrderRule

// Renumber proposes new codes for a community's live grids on day at (by
// RenumberRule): a plan of the grids whose code changes (each replacing
// its old code) removing the old codes, to adopt through a scenario with
// an approval like any other change of units. A community whose codes
// already follow the order gives a plan of no units.
func Renumber(ctx context.Context, st *store.Store, p *analysis.Profile, community string, at time.Time) (*plan.Plan, error) {
	if at.IsZero() {
		at = boundaries.Today()
	}
	if community == "" {
		return nil, boundaries.Invalid("grids renumber: a community code is required")
	}
	rules, err := RulesOf(p, 0)
	if err != nil {
		return nil, boundaries.Invalid("grids: %v", err)
	}
	tx, err := st.Primary().Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("grids: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	g := &gen{tx: tx, p: p, rules: rules, at: at, method: plan.SplitAuto}
	pl := &plan.Plan{Profile: p.Name, At: at.Format("2006-01-02"), Scope: "community " + community, Method: "renumber",
		Order: RenumberRule, Ops: []plan.Op{}, Units: []plan.Unit{}, Infeasible: []plan.Issue{}, Removed: []units.Base{},
		Before: plan.Remaining{Zones: map[string]int{}}, Remaining: plan.Remaining{Zones: map[string]int{}}}
	n, err := g.renumberLoad(ctx, community)
	if err != nil {
		return nil, fmt.Errorf("grids renumber %s: %w", community, err)
	}
	if n == 0 {
		return nil, boundaries.Invalid("grids renumber: community %s has no grids on %s", community, pl.At)
	}
	moved, err := g.renumberCodes(ctx, community)
	if err != nil {
		return nil, fmt.Errorf("grids renumber %s: %w", community, err)
	}
	if moved == 0 {
		pl.MethodNote = "the codes already follow the numbering rule: nothing to renumber"
		return pl, nil
	}
	rs, err := g.readParts(ctx)
	if err != nil {
		return nil, err
	}
	var from, to []string
	for _, x := range rs {
		u := g.unit(x, "renumber")
		pl.Units = append(pl.Units, u)
		from, to = append(from, u.Replaces...), append(to, u.Code)
	}
	pl.UnitsChanged = len(pl.Units)
	pl.Ops = append(pl.Ops, plan.Op{Seq: 1, Kind: "renumber", From: from, To: to, Note: fmt.Sprintf("%d of %d grids get new codes", len(to), n)})
	rows, err := tx.Query(ctx, `SELECT old[1], base0 FROM gpart WHERE NOT unchanged ORDER BY old[1]`)
	if err != nil {
		return nil, fmt.Errorf("grids renumber %s: %w", community, err)
	}
	if pl.Removed, err = pgx.CollectRows(rows, pgx.RowToStructByPos[units.Base]); err != nil {
		return nil, fmt.Errorf("grids renumber %s: %w", community, err)
	}
	return pl, nil
}

// renumberLoad makes gcomm of the community and gpart of its live grids
// (as kept grids with their codes); it returns how many there are.
func (g *gen) renumberLoad(ctx context.Context, community string) (int, error) {
	if _, err := g.tx.Exec(ctx, `CREATE TEMP TABLE gcomm ON COMMIT DROP AS
		SELECT u.code, u.name, coalesce(u.parent_code, '') AS street, u.provisional, u.geom, u.households, u.population, true AS has_grids
		FROM units u WHERE u.level = 'community' AND u.code = $1 AND `+store.AsOf("u", 2), community, g.at); err != nil {
		return 0, err
	}
	if _, err := g.tx.Exec(ctx, `CREATE TEMP TABLE gpart ON COMMIT DROP AS
		SELECT row_number() OVER (ORDER BY o.code)::int AS id, o.parent_code AS community, o.parent_code AS area, o.parent_code AS region,
			0 AS part, o.geom, o.households::bigint AS h, o.population::bigint AS p, NULL::text AS method, NULL::float8 AS on_barriers,
			false AS tower, 1 AS k, o.code, o.version_id AS base, false AS unchanged, NULL::text[] AS replaces, true AS kept,
			ARRAY[o.code] AS old, o.version_id AS base0
		FROM units o JOIN gcomm c ON c.code = o.parent_code WHERE o.level = 'grid' AND `+store.AsOf("o", 1), g.at); err != nil {
		return 0, err
	}
	var n int
	err := g.tx.QueryRow(ctx, `SELECT count(*) FROM gpart`).Scan(&n)
	return n, err
}

// renumberCodes applies RenumberRule to gpart: grids kept are marked
// unchanged, the others get new codes replacing their old ones; it
// returns how many change.
func (g *gen) renumberCodes(ctx context.Context, community string) (int, error) {
	used, err := issued(ctx, g.tx, "gpart")
	if err != nil {
		return 0, err
	}
	rows, err := g.tx.Query(ctx, `SELECT o.id, t.code FROM (`+orderSQL("gpart", "true")+`) o(community, id, rank) JOIN gpart t ON t.id = o.id ORDER BY o.rank`)
	if err != nil {
		return 0, fmt.Errorf("order: %w", err)
	}
	type cur struct {
		id   int
		code string
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cur, error) {
		var c cur
		return c, r.Scan(&c.id, &c.code)
	})
	if err != nil {
		return 0, fmt.Errorf("order: %w", err)
	}
	nx := next(used)
	var keep, ids []int32
	var codes []string
	last, broken := 0, false
	for _, c := range cs {
		s := seq(c.code)
		if !broken && c.code == Code(community, s) && s > last {
			last = s
			keep = append(keep, int32(c.id))
			continue
		}
		broken = true
		code, err := nx.take(community)
		if err != nil {
			return 0, err
		}
		ids, codes = append(ids, int32(c.id)), append(codes, code)
	}
	if _, err := g.tx.Exec(ctx, `UPDATE gpart SET unchanged = true WHERE id = ANY($1)`, keep); err != nil {
		return 0, err
	}
	if _, err := g.tx.Exec(ctx, `UPDATE gpart t SET code = u.code, base = NULL, replaces = ARRAY[t.code]
		FROM unnest($1::int[], $2::text[]) u(id, code) WHERE t.id = u.id`, ids, codes); err != nil {
		return 0, err
	}
	return len(ids), nil
}
