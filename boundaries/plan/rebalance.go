package plan

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/blocks"
	"github.com/jiedao/jiedao/boundaries/partition"
)

// RebalanceStreet is Options.Rebalance's value that re-partitions whole
// streets.
const RebalanceStreet = "street"

// homeComm is one community of a street being rebalanced.
type homeComm struct {
	code string
	h, p float64
	hasP bool
}

// rebalance re-partitions, from its blocks, every street in scope with a
// community out of range into as many communities as its households need
// (normal households each), keeping as many households as possible in
// their community (partition.Spec.KeepHomes). It replaces merge and split
// for those streets: where local merges and splits cannot reach the range
// (a street of many small and a few huge communities), the whole street
// can. A street whose blocks cannot make parts within range is left as it
// is and noted with the reason.
func (pn *planner) rebalance(ctx context.Context) error {
	if ok, err := pn.barriersLoaded(ctx); err != nil {
		return err
	} else if !ok {
		return boundaries.Invalid("plan --rebalance street: no barriers are loaded (jiedao import-barriers FILE)")
	}
	streets, err := pn.streetsToRebalance(ctx)
	if err != nil || len(streets) == 0 {
		return err
	}
	if err := pn.exec2(ctx, `DROP TABLE IF EXISTS pcell, porig; CREATE TEMP TABLE pcell (code text, m int, id int, geom geometry, w float8)`,
		`CREATE TEMP TABLE porig ON COMMIT DROP AS
			SELECT street AS code, ST_Union(ST_Boundary(geom)) AS edges FROM pw WHERE street = ANY($1) GROUP BY street`, streets); err != nil {
		return err
	}
	if err := blocks.Build(ctx, pn.tx, `SELECT street, ST_Union(geom), sum(h), sum(p) FROM pw WHERE street = ANY($1) GROUP BY street`,
		[]any{streets}, pn.p.MinBlockArea()); err != nil {
		return err
	}
	gs, err := blocks.Graphs(ctx, pn.tx, streets)
	if err != nil {
		return err
	}
	homes, err := pn.blockHomes(ctx, streets)
	if err != nil {
		return err
	}
	var parts, origs []string
	for _, s := range streets {
		codes, err := pn.rebalanceStreet(ctx, s, gs[s], homes[s])
		if err != nil {
			return fmt.Errorf("rebalance %s: %w", s, err)
		}
		for _, c := range codes {
			parts, origs = append(parts, c), append(origs, s)
		}
	}
	return pn.onBarriers(ctx, parts, origs)
}

// streetsToRebalance are the streets in scope with a community out of the
// household range, by code.
func (pn *planner) streetsToRebalance(ctx context.Context) ([]string, error) {
	c := pn.p.Community
	lo, hi := math.Inf(-1), math.Inf(1)
	if c.MinHouseholds.On() {
		lo = c.MinHouseholds.Float()
	}
	if c.MaxHouseholds.On() {
		hi = c.MaxHouseholds.Float()
	}
	rows, err := pn.tx.Query(ctx, `SELECT DISTINCT street FROM pw WHERE scope AND street IN (SELECT code FROM ps WHERE scope)
		AND (h < $1 OR h > $2) ORDER BY 1`, lo, hi)
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, s)
	}
	rows.Close()
	return out, rows.Err()
}

// blockHomes is, per street and block id, the community the block lies in
// today (by its point on surface); blocks in no community are left out.
func (pn *planner) blockHomes(ctx context.Context, streets []string) (map[string]map[int]string, error) {
	rows, err := pn.tx.Query(ctx, `SELECT b.key, b.id, c.code FROM pblock b
		JOIN LATERAL (SELECT code FROM pw c WHERE c.street = b.key AND ST_Intersects(c.geom, ST_PointOnSurface(b.geom)) ORDER BY code LIMIT 1) c ON true
		WHERE b.key = ANY($1)`, streets)
	if err != nil {
		return nil, fmt.Errorf("block homes: %w", err)
	}
	out := map[string]map[int]string{}
	for rows.Next() {
		var s, code string
		var id int
		if err := rows.Scan(&s, &id, &code); err != nil {
			rows.Close()
			return nil, err
		}
		if out[s] == nil {
			out[s] = map[int]string{}
		}
		out[s][id] = code
	}
	rows.Close()
	return out, rows.Err()
}

// streetComms are a street's communities in the working table, by code.
func (pn *planner) streetComms(ctx context.Context, street string) ([]homeComm, error) {
	rows, err := pn.tx.Query(ctx, `SELECT code, coalesce(h, 0), p FROM pw WHERE street = $1 ORDER BY code`, street)
	if err != nil {
		return nil, err
	}
	var out []homeComm
	for rows.Next() {
		var c homeComm
		var p *int64
		if err := rows.Scan(&c.code, &c.h, &p); err != nil {
			rows.Close()
			return nil, err
		}
		if p != nil {
			c.p, c.hasP = float64(*p), true
		}
		out = append(out, c)
	}
	rows.Close()
	return out, rows.Err()
}

// streetGraph is the street's block graph for the partition: each block's
// home community and its households and population, the community's own
// counts shared among its blocks by their building points (by area where
// it has none).
func streetGraph(g *blocks.Graph, comms []homeComm, home map[int]string) (*partition.Graph, error) {
	pg, err := toPartition(g, 0, 0)
	if err != nil {
		return nil, err
	}
	at := map[string]int{}
	for i, c := range comms {
		at[c.code] = i
	}
	type sum struct{ w, p, a float64 }
	sums := make([]sum, len(comms))
	for i, b := range g.Blocks {
		pg.Blocks[i].Home = -1
		if k, ok := at[home[b.ID]]; ok {
			pg.Blocks[i].Home = k
			sums[k].w += b.Households
			sums[k].p += b.Population
			sums[k].a += b.AreaM2
		}
	}
	for i, b := range g.Blocks {
		k := pg.Blocks[i].Home
		if k < 0 {
			continue
		}
		c, s := comms[k], sums[k]
		pg.Blocks[i].W, pg.Blocks[i].P = shareOf(c.h, b.Households, s.w, b.AreaM2, s.a), shareOf(c.p, b.Population, s.p, b.AreaM2, s.a)
	}
	return pg, nil
}

// shareOf is a block's part of a community's total: by its weight w of the
// community's sum, or by area when the community's blocks weigh nothing.
func shareOf(total, w, sum, area, areaSum float64) float64 {
	switch {
	case sum > 0:
		return total * w / sum
	case areaSum > 0:
		return total * area / areaSum
	}
	return 0
}

// rebalanceStreet partitions one street and writes the result into pw; it
// returns the codes of the communities it (re)drew.
func (pn *planner) rebalanceStreet(ctx context.Context, street string, g *blocks.Graph, home map[int]string) ([]string, error) {
	comms, err := pn.streetComms(ctx, street)
	if err != nil || g == nil || len(comms) == 0 {
		return nil, err
	}
	pg, err := streetGraph(g, comms, home)
	if err != nil {
		return nil, err
	}
	var H, P float64
	hasP := true
	for _, c := range comms {
		H, P, hasP = H+c.h, P+c.p, hasP && c.hasP
	}
	j := &splitJob{code: street, k: 1, h: H, p: P}
	if hasP {
		v := int64(P)
		j.pp = &v
	}
	c := pn.p.Community
	if c.NormalHouseholds.On() && c.NormalHouseholds.Float() > 0 {
		j.k = max(1, int(math.Ceil(H/c.NormalHouseholds.Float())))
	}
	spec := pn.blockSpec(j)
	spec.KeepHomes = true
	res, err := partition.Blocks(pg, spec)
	var inf *partition.Infeasible
	switch {
	case errors.As(err, &inf):
		for _, cm := range comms {
			pn.note(cm.code, fmt.Sprintf("rebalance of street %s: %s", street, inf.Reason))
		}
		return nil, nil
	case err != nil:
		return nil, err
	}
	return pn.writeRebalance(ctx, street, comms, pg, res)
}

// writeRebalance replaces the street's communities in pw by the parts: a
// part matched to a community keeps its code and name, the others get
// provisional codes, communities left without a part are removed; the
// street's households are shared among the parts by their weights.
func (pn *planner) writeRebalance(ctx context.Context, street string, comms []homeComm, pg *partition.Graph, res *partition.Result) ([]string, error) {
	codes := make([]string, len(res.Parts))
	var rows [][]any
	ws := make([]float64, len(res.Parts))
	var hTot, pTot int64
	hasP := true
	for _, c := range comms {
		hTot, pTot, hasP = hTot+int64(c.h), pTot+int64(c.p), hasP && c.hasP
	}
	kept := map[string]bool{}
	for i, part := range res.Parts {
		if h := res.Homes[i]; h >= 0 {
			codes[i] = comms[h].code
			kept[codes[i]] = true
		} else {
			codes[i] = planCode(pn.opt.Seed, street, street+"/rebalance", i)
		}
		for _, b := range part {
			rows = append(rows, []any{codes[i], int32(pg.Blocks[b].ID)})
			ws[i] += pg.Blocks[b].W
		}
	}
	hs := shares(&hTot, ws)
	ps := make([]*int64, len(ws))
	if hasP {
		ps = shares(&pTot, ws)
	}
	var gone []string
	for _, c := range comms {
		if !kept[c.code] {
			gone = append(gone, c.code)
		}
	}
	if err := pn.writeRebalanceRows(ctx, street, codes, rows, hs, ps, gone); err != nil {
		return nil, err
	}
	from := make([]string, len(comms))
	for i, c := range comms {
		from[i] = c.code
	}
	pn.add(Op{Kind: "rebalance", From: from, To: codes, HouseholdsMoved: int64(math.Round(res.Moved)), Method: MethodBlocks,
		Note: fmt.Sprintf("street %s: %d communities into %d, %s households in another community", street, len(comms), len(codes),
			strconv.FormatInt(int64(math.Round(res.Moved)), 10))})
	for _, cd := range gone {
		delete(pn.reason, cd)
	}
	return codes, nil
}

// writeRebalanceRows writes a street's parts into pw: geometry from the
// blocks (pblock, keyed by street), counts, and the removals.
func (pn *planner) writeRebalanceRows(ctx context.Context, street string, codes []string, rows [][]any, hs, ps []*int64, gone []string) error {
	if err := pn.exec(ctx, `DROP TABLE IF EXISTS prb; CREATE TEMP TABLE prb (code text, id int)`); err != nil {
		return err
	}
	if _, err := pn.tx.CopyFrom(ctx, pgx.Identifier{"prb"}, []string{"code", "id"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("parts: %w", err)
	}
	// The largest community's name numbered for a new part, like split parts.
	return pn.exec(ctx, `WITH g AS (SELECT r.code, ST_Multi(ST_CollectionExtract(ST_Union(b.geom), 3)) AS geom
			FROM prb r JOIN pblock b ON b.key = $1 AND b.id = r.id GROUP BY r.code),
		c AS (SELECT g.*, u.h, u.p FROM g JOIN unnest($2::text[], $3::bigint[], $4::bigint[]) u(code, h, p) USING (code)),
		upd AS (UPDATE pw SET geom = c.geom, h = c.h, p = c.p, touched = true FROM c WHERE pw.code = c.code RETURNING pw.code),
		big AS (SELECT name FROM pw WHERE street = $1 ORDER BY h DESC NULLS LAST, code LIMIT 1),
		ins AS (INSERT INTO pw (code, name, street, h, p, provisional, geom, scope, touched)
			SELECT c.code, (SELECT name FROM big) || '(' || row_number() OVER (ORDER BY c.code) + 1 || ')', $1, c.h, c.p, true, c.geom, true, true
			FROM c WHERE c.code NOT IN (SELECT code FROM pw))
		DELETE FROM pw WHERE code = ANY($5)`, street, codes, hs, ps, gone)
}
