package plan

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/blocks"
	"github.com/jiedao/jiedao/boundaries/dispatch"
)

// Disputes as a reason: the hotline tickets reassigned across a boundary
// (dispatch.Disputes) say where ownership is unclear on the ground. A
// reassign operation that repairs ground where a spot lies says so in its
// note; a shared boundary where at least MinDisputeTickets tickets were
// reassigned is a reason of its own: the blocks holding those tickets go
// to the community they were reassigned to, when that is feasible.

// MinDisputeTickets is how many tickets reassigned across a shared
// boundary make the plan propose moving the disputed ground.
const MinDisputeTickets = 5

// DisputeNote is a dispute spot in the plan's scope that an operation
// repairs or with at least MinDisputeTickets tickets, and what the plan
// did about it: the operation that repairs its ground (Op, 0 for none)
// and why.
type DisputeNote struct {
	Spot    string   `json:"spot"`
	Kind    string   `json:"kind"`
	Codes   []string `json:"codes"`
	Tickets int      `json:"tickets"`
	Op      int      `json:"op,omitempty"`
	Note    string   `json:"note"`
}

// reassignedHere is the phrase an operation's note and a dispute note share.
func (pn *planner) reassignedHere(n int) string {
	s := fmt.Sprintf("%d tickets reassigned here in the period", n)
	if p := pn.spotPeriod.String(); p != "" {
		s += " (" + p + ")"
	}
	return s
}

// disputes notes the spots on the reassign operations so far and proposes
// moving the disputed ground of busy shared boundaries.
func (pn *planner) disputes(ctx context.Context) error {
	spots, err := pn.scopeSpots(ctx)
	if err != nil || len(spots) == 0 {
		return err
	}
	repaired, err := pn.noteOps(ctx, spots)
	if err != nil {
		return err
	}
	for i, s := range spots {
		n := DisputeNote{Spot: s.Key, Kind: s.Kind, Codes: s.Codes, Tickets: s.Tickets, Op: repaired[i]}
		switch {
		case n.Op > 0:
			n.Note = pn.reassignedHere(s.Tickets) + "; repaired by operation " + strconv.Itoa(n.Op)
		case s.Kind == "boundary" && s.Level == boundaries.Community && len(s.Codes) == 2 && s.Tickets >= MinDisputeTickets:
			if n.Op, n.Note, err = pn.moveDisputed(ctx, s); err != nil {
				return fmt.Errorf("disputed boundary %s: %w", s.Key, err)
			}
		case s.Tickets >= MinDisputeTickets:
			n.Note = pn.reassignedHere(s.Tickets) + "; no operation repairs it: review the ground by hand"
		default: // a ticket or two: noise, not a reason
			continue
		}
		pn.plan.Disputes = append(pn.plan.Disputes, n)
	}
	return nil
}

// scopeSpots are the spots involving a street in the plan's scope.
func (pn *planner) scopeSpots(ctx context.Context) ([]dispatch.Spot, error) {
	if len(pn.spots) == 0 {
		return nil, nil
	}
	var streets []string
	if err := pn.tx.QueryRow(ctx, `SELECT coalesce(array_agg(code), '{}') FROM ps WHERE scope`).Scan(&streets); err != nil {
		return nil, fmt.Errorf("streets in scope: %w", err)
	}
	in := map[string]bool{}
	for _, s := range streets {
		in[s] = true
	}
	var out []dispatch.Spot
	for _, s := range pn.spots {
		for _, st := range s.Streets {
			if in[st] {
				out = append(out, s)
				break
			}
		}
	}
	return out, nil
}

// noteOps adds "N tickets reassigned here" to every reassign operation
// whose zone meets a spot's geometry, and says which operation repairs
// each spot (its index in spots → the operation's Seq).
func (pn *planner) noteOps(ctx context.Context, spots []dispatch.Spot) (map[int]int, error) {
	geoms := make([]string, len(spots))
	for i, s := range spots {
		geoms[i] = string(s.Geometry)
	}
	zones, err := pn.zoneGeoms(ctx)
	if err != nil {
		return nil, err
	}
	repaired := map[int]int{}
	for i := range pn.plan.Ops {
		op := &pn.plan.Ops[i]
		g, ok := zones[op.Zone]
		if op.Kind != "reassign" || !ok {
			continue
		}
		rows, err := pn.tx.Query(ctx, `SELECT (s.i - 1)::int FROM unnest($2::text[]) WITH ORDINALITY s(g, i)
			WHERE s.g <> '' AND ST_DWithin(ST_GeomFromEWKB($1), ST_SetSRID(ST_GeomFromGeoJSON(s.g), 4326), 1e-7)`, g, geoms)
		if err != nil {
			return nil, fmt.Errorf("spots of %s: %w", op.Zone, err)
		}
		hit, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return nil, fmt.Errorf("spots of %s: %w", op.Zone, err)
		}
		n := 0
		for _, j := range hit {
			n += spots[j].Tickets
			if repaired[j] == 0 {
				repaired[j] = op.Seq
			}
		}
		if n > 0 {
			op.Note += "; " + pn.reassignedHere(n)
		}
	}
	return repaired, nil
}

// zoneGeoms are the initial analysis's zones by the id reassign gives
// their operations.
func (pn *planner) zoneGeoms(ctx context.Context) (map[string][]byte, error) {
	rows, err := pn.tx.Query(ctx, `SELECT kind, codes, part, ST_AsEWKB(geom) FROM pz`)
	if err != nil {
		return nil, fmt.Errorf("zones: %w", err)
	}
	zs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (zoneRef, error) {
		var z zoneRef
		return z, r.Scan(&z.kind, &z.codes, &z.part, &z.g)
	})
	if err != nil {
		return nil, fmt.Errorf("zones: %w", err)
	}
	out := make(map[string][]byte, len(zs))
	for _, z := range zs {
		id := string(z.kind) + ":" + strings.Join(z.codes, "+")
		if z.part > 0 {
			id += ":" + strconv.Itoa(z.part)
		}
		out[id] = z.g
	}
	return out, nil
}

// moveDisputed proposes the disputed ground of a shared boundary: the
// tickets went mostly one way, from → to; the blocks of from holding
// them and sharing an edge with to move to to, unless that is most of
// from (then the boundary is for a planner to redraw, and the note says
// so). It returns the operation's Seq (0: none) and the note.
func (pn *planner) moveDisputed(ctx context.Context, s dispatch.Spot) (int, string, error) {
	here := pn.reassignedHere(s.Tickets)
	var inScope int
	if err := pn.tx.QueryRow(ctx, `SELECT count(*)::int FROM pw WHERE code = ANY($1) AND scope`, s.Codes).Scan(&inScope); err != nil {
		return 0, "", err
	}
	if inScope != 2 {
		return 0, here + "; not both communities in the plan's scope", nil
	}
	moves, err := dispatch.SpotMoves(ctx, pn.tx, pn.spotPeriod, s.Codes[0], s.Codes[1])
	if err != nil {
		return 0, "", err
	}
	from, to, xs, ys := mainDirection(moves)
	if len(xs) < MinDisputeTickets {
		return 0, fmt.Sprintf("%s; no direction holds %d of them", here, MinDisputeTickets), nil
	}
	key := "dispute:" + from
	if err := blocks.Build(ctx, pn.tx, `SELECT $1::text, geom, h, p FROM pw WHERE code = $2`, []any{key, from}, pn.p.MinBlockArea()); err != nil {
		return 0, "", err
	}
	var g []byte
	var nBlocks, nTickets int
	var area, fromArea float64
	if err := pn.tx.QueryRow(ctx, `WITH pts AS (SELECT ST_SetSRID(ST_MakePoint(x, y), 4326) AS g FROM unnest($2::float8[], $3::float8[]) u(x, y)),
			hit AS (SELECT b.id, b.geom, b.area_m2, count(*) AS n FROM pblock b JOIN pts ON ST_Intersects(b.geom, pts.g)
				WHERE b.key = $1 AND EXISTS (SELECT 1 FROM pw t WHERE t.code = $4 AND t.geom && ST_Expand(b.geom, 1e-9)
					AND ST_Relate(t.geom, b.geom, '****1****'))
				GROUP BY b.id, b.geom, b.area_m2)
		SELECT ST_AsEWKB(ST_Union(geom)), count(*)::int, coalesce(sum(n), 0)::int, coalesce(sum(area_m2), 0)::float8,
			(SELECT ST_Area(geom::geography) FROM pw WHERE code = $5) FROM hit`, key, xs, ys, to, from).Scan(&g, &nBlocks, &nTickets, &area, &fromArea); err != nil {
		return 0, "", fmt.Errorf("disputed blocks: %w", err)
	}
	switch {
	case nBlocks == 0:
		return 0, fmt.Sprintf("%s, %d from %s to %s; no block of %s holding them borders %s: redraw the boundary by hand", here, len(xs), from, to, from, to), nil
	case area > fromArea/2:
		return 0, fmt.Sprintf("%s, %d from %s to %s; the blocks holding them are most of %s (%.0f of %.0f m²; are roads loaded?): redraw the boundary by hand",
			here, len(xs), from, to, from, area, fromArea), nil
	}
	moved, err := pn.move(ctx, g, from, to)
	if err != nil {
		return 0, "", err
	}
	blocksText := "the block holding"
	if nBlocks > 1 {
		blocksText = fmt.Sprintf("the %d blocks holding", nBlocks)
	}
	note := fmt.Sprintf("disputed ground: %s, %d from %s to %s; %s %d of them go to %s", here, len(xs), from, to, blocksText, nTickets, to)
	pn.add(Op{Kind: "reassign", Zone: s.Key, From: []string{from}, To: []string{to}, HouseholdsMoved: moved, AreaM2: area, Method: "blocks", Note: note})
	return len(pn.plan.Ops), note, nil
}

// mainDirection is the direction most of the moves took and their points.
func mainDirection(moves []dispatch.Move) (from, to string, xs, ys []float64) {
	count := map[[2]string]int{}
	var best [2]string
	for _, m := range moves {
		k := [2]string{m.From, m.To}
		count[k]++
		if count[k] > count[best] || count[k] == count[best] && k[0] < best[0] {
			best = k
		}
	}
	for _, m := range moves {
		if m.From == best[0] && m.To == best[1] {
			xs, ys = append(xs, m.Lon), append(ys, m.Lat)
		}
	}
	return best[0], best[1], xs, ys
}
