package plan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/blocks"
	"github.com/jiedao/jiedao/boundaries/partition"
)

// RebalanceStreet is Options.Rebalance's value that re-partitions whole
// streets.
const RebalanceStreet = "street"

// rebalanceBatch collects the parts of every street rebalanced, written
// back in one statement (writeRebalanceRows).
type rebalanceBatch struct {
	blocks [][]any // (code, street, block id)
	codes  []string
	hs, ps []*int64
	gone   []string
}

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
			SELECT street AS code, ST_Buffer(ST_Union(ST_Boundary(geom)), 1e-6) AS near FROM pw WHERE street = ANY($1) GROUP BY street`, streets); err != nil {
		return err
	}
	t0 := time.Now()
	if err := blocks.Build(ctx, pn.tx, `SELECT street, ST_Union(geom), sum(h), sum(p) FROM pw WHERE street = ANY($1) GROUP BY street`,
		[]any{streets}, pn.p.MinBlockArea()); err != nil {
		return err
	}
	slog.Debug("plan rebalance blocks", "streets", len(streets), "ms", time.Since(t0).Milliseconds())
	gs, err := blocks.Graphs(ctx, pn.tx, streets)
	if err != nil {
		return err
	}
	homes, err := pn.blockHomes(ctx, streets)
	if err != nil {
		return err
	}
	comms, err := pn.streetComms(ctx, streets)
	if err != nil {
		return err
	}
	slog.Debug("plan rebalance homes", "ms", time.Since(t0).Milliseconds())
	var parts, origs []string
	batch := &rebalanceBatch{}
	for _, s := range streets {
		codes, err := pn.rebalanceStreet(s, gs[s], comms[s], homes[s], batch)
		if err != nil {
			return fmt.Errorf("rebalance %s: %w", s, err)
		}
		for _, c := range codes {
			parts, origs = append(parts, c), append(origs, s)
		}
	}
	if err := pn.writeRebalanceRows(ctx, batch); err != nil {
		return err
	}
	slog.Debug("plan rebalance streets", "ms", time.Since(t0).Milliseconds())
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
	rows, err := pn.tx.Query(ctx, `SELECT DISTINCT ON (b.key, b.id) b.key, b.id, c.code
		FROM (SELECT key, id, ST_PointOnSurface(geom) AS pos FROM pblock WHERE key = ANY($1)) b
		JOIN pw c ON c.street = b.key AND c.geom && b.pos AND ST_Intersects(c.geom, b.pos)
		ORDER BY b.key, b.id, c.code`, streets)
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

// streetComms are the streets' communities in the working table, by
// street and code: one statement for every street rebalanced.
func (pn *planner) streetComms(ctx context.Context, streets []string) (map[string][]homeComm, error) {
	rows, err := pn.tx.Query(ctx, `SELECT street, code, coalesce(h, 0), p FROM pw WHERE street = ANY($1) ORDER BY street, code`, streets)
	if err != nil {
		return nil, err
	}
	out := map[string][]homeComm{}
	for rows.Next() {
		var street string
		var c homeComm
		var p *int64
		if err := rows.Scan(&street, &c.code, &c.h, &p); err != nil {
			rows.Close()
			return nil, err
		}
		if p != nil {
			c.p, c.hasP = float64(*p), true
		}
		out[street] = append(out[street], c)
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
func (pn *planner) rebalanceStreet(street string, g *blocks.Graph, comms []homeComm, home map[int]string, batch *rebalanceBatch) ([]string, error) {
	if g == nil || len(comms) == 0 {
		return nil, nil
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
	// As many communities as the normal size needs (households, and
	// population when counted), as a split counts its parts; without a
	// normal size, as few as the maximum allows.
	c := pn.p.Community
	switch {
	case c.NormalHouseholds.On() && c.NormalHouseholds.Float() > 0:
		j.k = max(1, int(math.Ceil(H/c.NormalHouseholds.Float())))
	case c.MaxHouseholds.On() && c.MaxHouseholds.Float() > 0:
		j.k = max(1, int(math.Ceil(H/c.MaxHouseholds.Float())))
	}
	if hasP && c.NormalPopulation.On() && c.NormalPopulation.Float() > 0 {
		j.k = max(j.k, int(math.Ceil(P/c.NormalPopulation.Float())))
	}
	spec := pn.blockSpec(j)
	spec.KeepHomes = true
	res, err := partition.Blocks(pg, spec)
	var inf *partition.Infeasible
	switch {
	case errors.As(err, &inf):
		// The best the blocks allow is kept when it leaves fewer communities
		// out of range than today (e.g. one tower block over the maximum);
		// the rest are noted with the reason.
		reason := fmt.Sprintf("rebalance of street %s: %s", street, inf.Reason)
		if res == nil || pn.outOfRange(partHouseholds(pg, res)) >= pn.outOfRange(commHouseholds(comms)) {
			for _, cm := range comms {
				pn.note(cm.code, reason)
			}
			return nil, nil
		}
		codes := pn.writeRebalance(street, comms, pg, res, batch)
		for _, cd := range codes {
			pn.note(cd, reason)
		}
		return codes, nil
	case err != nil:
		return nil, err
	}
	return pn.writeRebalance(street, comms, pg, res, batch), nil
}

// writeRebalance replaces the street's communities in pw by the parts: a
// part matched to a community keeps its code and name, the others get
// provisional codes, communities left without a part are removed; the
// street's households are shared among the parts by their weights.
func (pn *planner) writeRebalance(street string, comms []homeComm, pg *partition.Graph, res *partition.Result, batch *rebalanceBatch) []string {
	codes := make([]string, len(res.Parts))
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
			batch.blocks = append(batch.blocks, []any{codes[i], street, int32(pg.Blocks[b].ID)})
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
	batch.codes = append(batch.codes, codes...)
	batch.hs, batch.ps, batch.gone = append(batch.hs, hs...), append(batch.ps, ps...), append(batch.gone, gone...)
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
	return codes
}

// outOfRange counts households outside the profile's range.
func (pn *planner) outOfRange(hs []float64) int {
	c, n := pn.p.Community, 0
	for _, h := range hs {
		if c.MaxHouseholds.On() && h > c.MaxHouseholds.Float() || c.MinHouseholds.On() && h < c.MinHouseholds.Float() {
			n++
		}
	}
	return n
}

func partHouseholds(pg *partition.Graph, res *partition.Result) []float64 {
	out := make([]float64, len(res.Parts))
	for i, part := range res.Parts {
		for _, b := range part {
			out[i] += pg.Blocks[b].W
		}
	}
	return out
}

func commHouseholds(cs []homeComm) []float64 {
	out := make([]float64, len(cs))
	for i, c := range cs {
		out[i] = c.h
	}
	return out
}

// writeRebalanceRows writes the parts of every street rebalanced into pw
// in one statement: geometry from the blocks (pblock, keyed by street),
// counts, a name for a new part (its street's largest community's, numbered
// like split parts), and the removals.
func (pn *planner) writeRebalanceRows(ctx context.Context, b *rebalanceBatch) error {
	if len(b.codes) == 0 {
		return nil
	}
	if err := pn.exec(ctx, `DROP TABLE IF EXISTS prb; CREATE TEMP TABLE prb (code text, street text, id int)`); err != nil {
		return err
	}
	if _, err := pn.tx.CopyFrom(ctx, pgx.Identifier{"prb"}, []string{"code", "street", "id"}, pgx.CopyFromRows(b.blocks)); err != nil {
		return fmt.Errorf("parts: %w", err)
	}
	return pn.exec(ctx, `WITH g AS (SELECT r.code, r.street, ST_Multi(ST_CollectionExtract(ST_Union(k.geom), 3)) AS geom
			FROM prb r JOIN pblock k ON k.key = r.street AND k.id = r.id GROUP BY r.code, r.street),
		c AS (SELECT g.*, u.h, u.p FROM g JOIN unnest($1::text[], $2::bigint[], $3::bigint[]) u(code, h, p) USING (code)),
		upd AS (UPDATE pw SET geom = c.geom, h = c.h, p = c.p, touched = true FROM c WHERE pw.code = c.code RETURNING pw.code),
		big AS (SELECT DISTINCT ON (street) street, name FROM pw WHERE street IN (SELECT street FROM c) ORDER BY street, h DESC NULLS LAST, code),
		ins AS (INSERT INTO pw (code, name, street, h, p, provisional, geom, scope, touched)
			SELECT c.code, big.name || '(' || row_number() OVER (PARTITION BY c.street ORDER BY c.code) + 1 || ')', c.street, c.h, c.p, true, c.geom, true, true
			FROM c JOIN big USING (street) WHERE c.code NOT IN (SELECT code FROM pw))
		DELETE FROM pw WHERE code = ANY($4)`, b.codes, b.hs, b.ps, b.gone)
}
