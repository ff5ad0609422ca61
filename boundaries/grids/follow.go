package grids

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// Grids follow their community: when a scenario changes communities, each
// live grid of a changed or removed community (or lying mostly under a
// changed one) is
//   - kept where it lies wholly in one new community (outside it at most
//     keepM2 or keepShare of its area; a part outside over 1 m² is clipped
//     off), re-coded with the next free number of that community when it
//     is not the grid's community any more;
//   - regenerated where it is cut: the ground of a new community that no
//     kept grid covers is cut into grids like a generation, numbered after
//     the community's codes. A piece of it under the profile's minimum
//     zone area is added to the kept grid sharing the longest edge with it.
// The grids that are re-coded or cut are removed; each new grid lists the
// codes it replaces (old → new).

// The tolerance of "wholly in": the part of a grid outside its new
// community is at most keepM2 m², or keepShare of the grid.
const (
	keepM2    = 1.0
	keepShare = 0.001
)

// Community is a community as a scenario proposes it.
type Community struct {
	Code, Name, Parent string
	Provisional        bool
	Households         *int64
	Population         *int64
	Geometry           json.RawMessage // GeoJSON, WGS84
}

// Following is what a scenario proposes for the grids of the communities
// it changes: grid units (new codes with Replaces, or a kept grid's code
// with a new geometry and its BaseVersion) and the live grids it removes.
type Following struct {
	Units   []plan.Unit
	Removed []units.Base
}

// Follow proposes the grids of communities cs (the scenario's) and of the
// communities it removes, judged under the profile named (loaded only
// when there are live grids to follow). Nothing is written.
func Follow(ctx context.Context, st *store.Store, profile string, at time.Time, cs []Community, removed []string) (*Following, error) {
	out := &Following{Units: []plan.Unit{}, Removed: []units.Base{}}
	if len(cs) == 0 && len(removed) == 0 {
		return out, nil
	}
	if at.IsZero() {
		at = boundaries.Today()
	}
	var live bool
	if err := st.Primary().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM units u WHERE u.level = 'grid' AND `+store.AsOf("u", 1)+`)`, at).Scan(&live); err != nil {
		return nil, fmt.Errorf("grids: %w", err)
	}
	if !live {
		return out, nil
	}
	p, err := analysis.LoadProfile(profile)
	if err != nil {
		return nil, boundaries.Invalid("grids of the scenario: profile: %v", err)
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
	g := &gen{tx: tx, p: p, rules: rules, method: plan.SplitAuto, seed: 1, at: at}
	n, err := g.followLoad(ctx, cs, removed)
	if err != nil || n == 0 {
		return out, err
	}
	steps := []func(context.Context) error{g.checkMethod, g.followKeep, g.followRest, g.cut, g.followKept,
		func(ctx context.Context) error { return number(ctx, tx, "gpart") }, g.followReplaces}
	for _, f := range steps {
		if err := f(ctx); err != nil {
			return nil, fmt.Errorf("grids of the scenario: %w", err)
		}
	}
	rs, err := g.readParts(ctx)
	if err != nil {
		return nil, err
	}
	for _, x := range rs {
		out.Units = append(out.Units, g.unit(x, "follow"))
	}
	rows, err := tx.Query(ctx, `SELECT code, version_id FROM gold WHERE NOT kept OR recode ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("grids of the scenario: %w", err)
	}
	if out.Removed, err = pgx.CollectRows(rows, pgx.RowToStructByPos[units.Base]); err != nil {
		return nil, fmt.Errorf("grids of the scenario: %w", err)
	}
	if out.Removed == nil {
		out.Removed = []units.Base{}
	}
	return out, nil
}

// followLoad makes gcomm of the proposed communities and gold of the live
// grids to follow; it returns how many grids there are.
func (g *gen) followLoad(ctx context.Context, cs []Community, removed []string) (int, error) {
	if _, err := g.tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return 0, err
	}
	codes, names, parents, gj := make([]string, len(cs)), make([]string, len(cs)), make([]string, len(cs)), make([]string, len(cs))
	prov := make([]bool, len(cs))
	hs, ps := make([]*int64, len(cs)), make([]*int64, len(cs))
	for i, c := range cs {
		codes[i], names[i], parents[i], gj[i], prov[i], hs[i], ps[i] = c.Code, c.Name, c.Parent, string(c.Geometry), c.Provisional, c.Households, c.Population
	}
	if _, err := g.tx.Exec(ctx, `CREATE TEMP TABLE gcomm ON COMMIT DROP AS
		SELECT c.code, c.name, c.street, c.provisional,
			ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(c.gj), 4326)), 3)) AS geom,
			c.households, c.population, true AS has_grids
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::bigint[], $7::bigint[])
			c(code, name, street, gj, provisional, households, population)`, codes, names, parents, gj, prov, hs, ps); err != nil {
		return 0, boundaries.Invalid("grids of the scenario: community geometry: %v", err)
	}
	if _, err := g.tx.Exec(ctx, `CREATE INDEX ON gcomm USING gist (geom); CREATE INDEX ON gcomm (code); ANALYZE gcomm`); err != nil {
		return 0, err
	}
	// The grids of the changed and removed communities, and any grid a
	// changed community takes more than 1 m² and 1% of.
	if _, err := g.tx.Exec(ctx, `CREATE TEMP TABLE gold ON COMMIT DROP AS
		SELECT o.code, o.version_id, o.parent_code, o.geom, o.households, o.population, ST_Area(o.geom::geography) AS a,
			NULL::text AS home, 0::float8 AS inside, false AS kept, false AS recode, false AS changed
		FROM units o WHERE o.level = 'grid' AND `+store.AsOf("o", 1)+` AND (o.parent_code = ANY($2) OR o.parent_code = ANY($3)
			OR EXISTS (SELECT 1 FROM gcomm c WHERE c.geom && o.geom AND ST_Intersects(c.geom, o.geom)
				AND ST_Area(ST_Intersection(c.geom, o.geom)::geography) > greatest(1, 0.01 * ST_Area(o.geom::geography))));
		`, g.at, codes, append([]string{}, removed...)); err != nil {
		return 0, fmt.Errorf("grids to follow: %w", err)
	}
	if _, err := g.tx.Exec(ctx, `CREATE INDEX ON gold USING gist (geom); ANALYZE gold`); err != nil {
		return 0, err
	}
	var n int
	if err := g.tx.QueryRow(ctx, `SELECT count(*) FROM gold`).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

// followKeep finds each old grid's new community (the one it overlaps
// most) and whether it is kept there, re-coded, or clipped.
func (g *gen) followKeep(ctx context.Context) error {
	_, err := g.tx.Exec(ctx, `UPDATE gold o SET home = h.code, inside = h.ov FROM (
			SELECT DISTINCT ON (o.code) o.code AS oc, c.code, ST_Area(ST_Intersection(c.geom, o.geom)::geography) AS ov
			FROM gold o JOIN gcomm c ON c.geom && o.geom AND ST_Intersects(c.geom, o.geom)
			ORDER BY o.code, ov DESC, c.code) h
		WHERE o.code = h.oc;
		UPDATE gold SET kept = true, recode = home IS DISTINCT FROM parent_code
		WHERE home IS NOT NULL AND a - inside <= greatest(`+fmt.Sprint(keepM2)+`, `+fmt.Sprint(keepShare)+` * a);
		UPDATE gold o SET geom = ST_Multi(ST_CollectionExtract(ST_Intersection(o.geom, c.geom), 3)), changed = true
		FROM gcomm c WHERE o.kept AND c.code = o.home AND o.a - o.inside > `+fmt.Sprint(keepM2))
	return err
}

// followRest makes garea: the ground of each community a followed grid
// lies in that no kept grid covers, piece by piece, with its share of the
// community's households; pieces under the minimum zone area go to the
// kept grid sharing the longest edge with them.
func (g *gen) followRest(ctx context.Context) error {
	if _, err := g.tx.Exec(ctx, `CREATE TEMP TABLE grest ON COMMIT DROP AS
		SELECT c.code AS community, row_number() OVER (PARTITION BY c.code ORDER BY ST_XMin(d.geom), ST_YMin(d.geom)) AS n,
			ST_Multi(d.geom) AS geom, ST_Area(d.geom::geography) AS a
		FROM gcomm c LEFT JOIN (SELECT home, ST_Union(geom) AS u FROM gold WHERE kept GROUP BY home) k ON k.home = c.code
		CROSS JOIN LATERAL ST_Dump(ST_CollectionExtract(CASE WHEN k.u IS NULL THEN c.geom ELSE ST_Difference(c.geom, k.u) END, 3)) d
		WHERE c.code IN (SELECT home FROM gold WHERE home IS NOT NULL)
			OR EXISTS (SELECT 1 FROM gold o WHERE NOT o.kept AND o.geom && c.geom AND ST_Intersects(o.geom, c.geom)
				AND ST_Area(ST_Intersection(o.geom, c.geom)::geography) > 1)`); err != nil {
		return fmt.Errorf("rest: %w", err)
	}
	if _, err := g.tx.Exec(ctx, `WITH s AS (SELECT DISTINCT ON (r.community, r.n) r.community, r.n, k.code, r.geom FROM grest r
			JOIN gold k ON k.kept AND k.home = r.community AND k.geom && ST_Expand(r.geom, 1e-7)
			WHERE r.a >= $1 AND r.a < $2
			ORDER BY r.community, r.n, ST_Length(ST_CollectionExtract(ST_Intersection(ST_Boundary(k.geom), ST_Boundary(r.geom)), 2)) DESC, k.code),
		u AS (SELECT code, ST_Union(geom) AS g FROM s GROUP BY code)
		UPDATE gold o SET geom = ST_Multi(ST_CollectionExtract(ST_Union(o.geom, u.g), 3)), changed = true FROM u WHERE o.code = u.code`,
		keepM2, g.p.MinZoneArea()); err != nil {
		return fmt.Errorf("slivers: %w", err)
	}
	// Households of a piece: the community's, by the building points in
	// it (by area without points); its points' where it has no count.
	_, err := g.tx.Exec(ctx, `CREATE TEMP TABLE garea ON COMMIT DROP AS
		WITH w AS (SELECT r.community, r.n, r.geom, r.a,
				(SELECT sum(pt.households) FROM points pt WHERE pt.geom && r.geom AND ST_Intersects(r.geom, pt.geom)) AS ph,
				(SELECT sum(pt.population) FROM points pt WHERE pt.geom && r.geom AND ST_Intersects(r.geom, pt.geom)) AS pp
			FROM grest r WHERE r.a >= $1),
		t AS (SELECT c.code, c.households, c.population, ST_Area(c.geom::geography) AS a,
				(SELECT sum(pt.households) FROM points pt WHERE pt.geom && c.geom AND ST_Intersects(c.geom, pt.geom)) AS ph,
				(SELECT sum(pt.population) FROM points pt WHERE pt.geom && c.geom AND ST_Intersects(c.geom, pt.geom)) AS pp
			FROM gcomm c WHERE c.code IN (SELECT community FROM w))
		SELECT w.community || '#' || w.n AS key, w.community, w.geom,
			round(CASE WHEN t.households IS NULL THEN w.ph WHEN t.ph > 0 THEN t.households * coalesce(w.ph, 0) / t.ph
				ELSE t.households * w.a / nullif(t.a, 0) END)::bigint AS h,
			round(CASE WHEN t.population IS NULL THEN w.pp WHEN t.pp > 0 THEN t.population * coalesce(w.pp, 0) / t.pp
				ELSE t.population * w.a / nullif(t.a, 0) END)::bigint AS p
		FROM w JOIN t ON t.code = w.community;
		`, g.p.MinZoneArea())
	if err != nil {
		return fmt.Errorf("rest: %w", err)
	}
	_, err = g.tx.Exec(ctx, `CREATE INDEX ON garea USING gist (geom); ANALYZE garea`)
	return err
}

// followKept adds to gpart the kept grids that change: re-coded (no code
// yet, replacing their old one) or with a new geometry (their code and
// version).
func (g *gen) followKept(ctx context.Context) error {
	_, err := g.tx.Exec(ctx, `INSERT INTO gpart (id, community, area, region, part, geom, h, p, method, on_barriers, tower, k, code, base, unchanged, replaces, kept)
		SELECT (SELECT coalesce(max(id), 0) FROM gpart) + row_number() OVER (ORDER BY o.code), o.home, o.home, o.home, 0, o.geom,
			o.households, o.population, NULL, NULL, false, 1,
			CASE WHEN o.recode THEN NULL ELSE o.code END, CASE WHEN o.recode THEN NULL ELSE o.version_id END, false,
			CASE WHEN o.recode THEN ARRAY[o.code] END, true
		FROM gold o WHERE o.kept AND (o.recode OR o.changed)`)
	return err
}

// followReplaces records, for each regenerated grid, the cut grids it
// takes ground from.
func (g *gen) followReplaces(ctx context.Context) error {
	_, err := g.tx.Exec(ctx, `UPDATE gpart p SET replaces = r.codes FROM (
			SELECT p.id, array_agg(o.code ORDER BY o.code) AS codes FROM gpart p
			JOIN gold o ON NOT o.kept AND o.geom && p.geom AND ST_Intersects(o.geom, p.geom)
			WHERE NOT p.kept AND ST_Area(ST_Intersection(o.geom, p.geom)::geography) > $1 GROUP BY p.id) r
		WHERE p.id = r.id`, keepM2)
	return err
}
