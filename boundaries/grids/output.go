package grids

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// gridRow is one numbered part of gpart with what its unit and reason need.
type gridRow struct {
	u              plan.Unit
	community, reg string
	method         *string
	tower, whole   bool
	kept           bool
	k              int
	maxPoint       *int64
	communityName  string
}

// partsSQL reads the numbered parts that are not unchanged, with their
// measures; geometries in full precision, so the grids of a community
// still cover it exactly once rounded to text.
const partsSQL = `SELECT p.code, c.street, c.name, c.provisional OR p.code !~ '^[0-9]{15}$', p.h, p.p, a / 1e6,
		coalesce(4 * pi() * a / nullif(per ^ 2, 0), 0), coalesce(a / nullif(ST_Area(ST_ConvexHull(p.geom)::geography), 0), 0),
		ST_AsGeoJSON(p.geom, 15), p.on_barriers, p.base, coalesce(p.replaces, '{}'),
		p.community, p.region, p.method, p.tower, p.k,
		CASE WHEN p.tower THEN (SELECT max(pt.households) FROM points pt WHERE pt.geom && p.geom AND ST_Intersects(p.geom, pt.geom)) END,
		p.region = p.community, p.kept
	FROM (SELECT *, ST_Area(geom::geography) AS a, ST_Perimeter(geom::geography) AS per FROM gpart WHERE NOT unchanged) p
	JOIN gcomm c ON c.code = p.community
	ORDER BY p.code`

// readParts reads partsSQL.
func (g *gen) readParts(ctx context.Context) ([]gridRow, error) {
	rows, err := g.tx.Query(ctx, partsSQL)
	if err != nil {
		return nil, fmt.Errorf("grids: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (gridRow, error) {
		var x gridRow
		var gj string
		u := &x.u
		err := r.Scan(&u.Code, &u.Street, &x.communityName, &u.Provisional, &u.Households, &u.Population, &u.AreaKM2, &u.PolsbyPopper,
			&u.HullRatio, &gj, &u.BoundaryOnBarriers, &u.BaseVersion, &u.Replaces, &x.community, &x.reg, &x.method,
			&x.tower, &x.k, &x.maxPoint, &x.whole, &x.kept)
		u.Geometry = json.RawMessage(gj)
		return x, err
	})
}

// fill reads the grids into the plan: units with their status and reason,
// one operation per community, the issues, and the live grids the plan
// replaces (removed).
func (g *gen) fill(ctx context.Context, pl *plan.Plan) error {
	rs, err := g.readParts(ctx)
	if err != nil {
		return err
	}
	if g.div != nil {
		pl.MethodNote, pl.BoundaryOnBarriers = g.div.MethodNote, g.div.BoundaryOnBarriers
	}
	byComm := map[string][]string{}
	methods := map[string]map[string]bool{}
	for _, x := range rs {
		u := g.unit(x, "generate")
		pl.Units = append(pl.Units, u)
		byComm[x.community] = append(byComm[x.community], u.Code)
		if methods[x.community] == nil {
			methods[x.community] = map[string]bool{}
		}
		if x.method != nil {
			methods[x.community][*x.method] = true
		}
		g.count(pl, u)
	}
	pl.UnitsChanged = len(pl.Units)
	comms := make([]string, 0, len(byComm))
	for c := range byComm {
		comms = append(comms, c)
	}
	sort.Strings(comms)
	for _, c := range comms {
		var ms []string
		for m := range methods[c] {
			ms = append(ms, m)
		}
		sort.Strings(ms)
		pl.Ops = append(pl.Ops, plan.Op{Seq: len(pl.Ops) + 1, Kind: "grids", From: []string{c}, To: byComm[c],
			Method: strings.Join(ms, "; "), Note: fmt.Sprintf("%d grids", len(byComm[c]))})
	}
	pl.Removed, err = g.replaced(ctx)
	return err
}

// count adds a grid out of range to the plan's remaining and issues.
func (g *gen) count(pl *plan.Plan, u plan.Unit) {
	switch u.Status {
	case boundaries.Undersized:
		pl.Remaining.Undersized++
	case boundaries.Oversized:
		pl.Remaining.Oversized++
	default:
		return
	}
	pl.Infeasible = append(pl.Infeasible, plan.Issue{Code: u.Code, Status: string(u.Status), Reason: strings.Join(u.Reasons, "; ")})
}

// unit is the plan unit of a grid row, judged against the rules and, when
// out of range, explained.
func (g *gen) unit(x gridRow, op string) plan.Unit {
	u := x.u
	u.Level, u.ParentCode, u.Op = boundaries.Grid, x.community, op
	u.Name = fmt.Sprintf("%s第%03d网格", x.communityName, seq(u.Code))
	u.Reasons = []string{}
	if u.Households == nil {
		u.Status = boundaries.Unknown
		return u
	}
	h := *u.Households
	d := (float64(h) - g.rules.Target) / g.rules.Target
	u.Deviation = &d
	u.Status = boundaries.Normal
	if g.rules.In(h) {
		return u
	}
	u.Status = boundaries.Oversized
	if g.rules.Min > 0 && float64(h) < g.rules.Min {
		u.Status = boundaries.Undersized
	}
	u.Reasons = []string{g.reason(x, h)}
	return u
}

// reason explains a grid out of range.
func (g *gen) reason(x gridRow, h int64) string {
	rng := g.rules.rangeText()
	where := "the ground here"
	if x.whole {
		where = "the community"
	}
	switch {
	case x.kept:
		return fmt.Sprintf("kept as it was, with %d households (%s)", h, rng)
	case x.tower && x.maxPoint != nil:
		return fmt.Sprintf("holds a building point of %d households, above the maximum %.0f: a building point is never divided, so its grid is that point's %s",
			*x.maxPoint, g.rules.Max, g.towerBy)
	case x.k == 1 && g.rules.Min > 0 && float64(h) < g.rules.Min:
		return fmt.Sprintf("%s has %d households, under the minimum %.0f: one grid", where, h, g.rules.Min)
	case x.k == 1:
		return fmt.Sprintf("%s has %d households: one grid is over the maximum and two would be under the minimum (%s)", where, h, rng)
	}
	// The blocks say why in their own words (too few, one too big); the
	// other methods' notes only say the parts did not fit.
	if g.div != nil {
		if n, ok := g.div.Notes[x.reg]; ok && strings.Contains(n, "block") {
			return n
		}
	}
	return fmt.Sprintf("the building points of %s cannot be grouped into %d connected grids all within %s households", where, x.k, rng)
}

// replaced lists the live grids of the regenerated communities that no
// new grid keeps, with their versions.
func (g *gen) replaced(ctx context.Context) ([]units.Base, error) {
	rows, err := g.tx.Query(ctx, `SELECT o.code, o.version_id FROM units o JOIN gcomm c ON c.code = o.parent_code AND c.has_grids
		WHERE o.level = 'grid' AND `+store.AsOf("o", 1)+` AND NOT EXISTS (SELECT 1 FROM gpart p WHERE p.unchanged AND p.code = o.code)
		ORDER BY o.code`, g.at)
	if err != nil {
		return nil, fmt.Errorf("replaced grids: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[units.Base])
	if err != nil {
		return nil, fmt.Errorf("replaced grids: %w", err)
	}
	if out == nil {
		out = []units.Base{}
	}
	return out, nil
}
