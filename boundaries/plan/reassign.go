package plan

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/blocks"
)

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
	kind  boundaries.ZoneKind
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
		id := string(z.kind) + ":" + strings.Join(z.codes, "+")
		if z.part > 0 {
			id += ":" + strconv.Itoa(z.part)
		}
		var err error
		switch z.kind {
		case boundaries.CrossesParent:
			err = pn.fixCrossing(ctx, id, z.codes[0])
		case boundaries.Overlap:
			err = pn.fixOverlap(ctx, id, z.codes[0], z.codes[1])
		case boundaries.Gap:
			err = pn.fixGap(ctx, id, z.codes[0], z.g)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
	}
	return pn.tidy(ctx, "reassign", nil)
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
			pn.add(Op{Kind: "reassign", Zone: id, From: []string{code}, HouseholdsMoved: moved, AreaM2: p.area,
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
		op := Op{Kind: "reassign", Zone: id, From: []string{code}, HouseholdsMoved: moved, AreaM2: p.area,
			Note: "part outside its street goes to street " + street}
		if rarea >= 1 {
			given, left, err := pn.assignAlongBlocks(ctx, piece{g: residual, area: rarea}, street)
			if err != nil {
				return err
			}
			for _, a := range given {
				op.To = append(op.To, a.to)
			}
			if len(given) > 0 {
				op.Note += " (uncovered part to " + strings.Join(op.To, ", ") + ", along blocks where roads are loaded; the rest already covered by its communities)"
			}
			if left > 0 {
				op.Note += fmt.Sprintf("; %.0f m² shares an edge with no community of that street, left as a gap", left)
				pn.note(code, "part outside its street: no neighbour in street "+street+" shares an edge")
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
	pn.add(Op{Kind: "reassign", Zone: id, From: []string{lose}, To: []string{keep}, HouseholdsMoved: moved, AreaM2: area,
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
		given, left, err := pn.assignAlongBlocks(ctx, p, street)
		if err != nil {
			return err
		}
		for _, a := range given {
			note := "gap to the community of the street sharing the longest edge"
			if a.blocks > 0 {
				note = fmt.Sprintf("gap, block by block (%d blocks), to the community of the street sharing the longest edge", a.blocks)
			}
			pn.add(Op{Kind: "reassign", Zone: id, To: []string{a.to}, HouseholdsMoved: a.moved, AreaM2: a.area, Note: note})
		}
		if left > 0 {
			pn.plan.Infeasible = append(pn.plan.Infeasible, Issue{Code: street, Status: string(boundaries.Gap),
				Reason: fmt.Sprintf("%s: no neighbour in the same street shares an edge with a gap of %.0f m²", id, left)})
		}
	}
	return nil
}

// assigned is what assignAlongBlocks gave one community.
type assigned struct {
	to     string
	blocks int // 0: the piece whole (no barriers)
	moved  int64
	area   float64
}

// assignAlongBlocks gives an uncovered piece to the communities of street
// around it: where barriers are loaded, block by block (the blocks the
// roads cut it into), each to the community sharing its longest edge, so
// the new boundaries run along roads; blocks reachable only through other
// blocks of the piece follow in later rounds. Without barriers the piece
// goes whole. It returns the communities given to, in order, and the area
// (m²) left with no neighbour.
func (pn *planner) assignAlongBlocks(ctx context.Context, p piece, street string) ([]assigned, float64, error) {
	parts := []piece{p}
	byBlocks := false
	if ok, err := pn.barriersLoaded(ctx); err != nil {
		return nil, 0, err
	} else if ok {
		if err := blocks.Build(ctx, pn.tx, `SELECT 'piece', ST_GeomFromEWKB($1), 0::bigint, 0::bigint`, []any{p.g}, pn.p.MinBlockArea()); err != nil {
			return nil, 0, err
		}
		bs, err := pn.pieces(ctx, `SELECT ST_AsEWKB(geom), area_m2 FROM pblock WHERE key = 'piece' ORDER BY id`)
		if err != nil {
			return nil, 0, err
		}
		if len(bs) > 0 {
			parts, byBlocks = bs, true
		}
	}
	var out []assigned
	at := map[string]int{}
	for len(parts) > 0 {
		// A round decides every block against the communities as they were
		// before it, so a block given away does not pull its neighbours
		// along with it.
		var next []piece
		tos := make([]string, len(parts))
		for i, b := range parts {
			var err error
			if tos[i], err = pn.neighbour(ctx, b.g, street, nil); err != nil {
				return nil, 0, err
			}
		}
		for i, b := range parts {
			to := tos[i]
			if to == "" {
				next = append(next, b)
				continue
			}
			moved, err := pn.move(ctx, b.g, "", to)
			if err != nil {
				return nil, 0, err
			}
			i, ok := at[to]
			if !ok {
				i, at[to] = len(out), len(out)
				out = append(out, assigned{to: to})
			}
			out[i].moved, out[i].area = out[i].moved+moved, out[i].area+b.area
			if byBlocks {
				out[i].blocks++
			}
		}
		if len(next) == len(parts) {
			var left float64
			for _, b := range next {
				left += b.area
			}
			return out, left, nil
		}
		parts = next
	}
	return out, 0, nil
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
		pn.add(Op{Kind: kind, Zone: "noncontiguous:" + s.code, From: []string{s.code}, To: []string{to}, HouseholdsMoved: moved,
			AreaM2: s.area, Note: "detached part to the neighbour of the same street sharing the longest edge"})
	}
	return nil
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
