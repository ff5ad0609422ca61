package plan

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/blocks"
	"github.com/jiedao/jiedao/boundaries/partition"
)

// The split methods a plan may be asked for (Options.Method).
const (
	SplitAuto   = "auto"   // blocks where barriers are loaded, else (and where blocks cannot fit) cuts
	SplitBlocks = "blocks" // blocks only: every new boundary on a barrier
	SplitCuts   = "cuts"   // straight cuts, then Voronoi cells, then a grid
)

// SplitChoices lists the values of Options.Method.
var SplitChoices = []string{SplitAuto, SplitBlocks, SplitCuts}

// Indices in splitMethods.
const (
	methodStraight = 0
	methodGrid     = 2
	methodBlocks   = 3
)

// splitOrder is the order in which split tries the methods, by the plan's
// Method and whether barriers are loaded; it says in the plan what it chose.
func (pn *planner) splitOrder(ctx context.Context) ([]int, error) {
	cuts := []int{methodStraight, 1, 2}
	loaded, err := pn.barriersLoaded(ctx)
	if err != nil {
		return nil, err
	}
	switch pn.opt.Method {
	case SplitCuts:
		return cuts, nil
	case SplitBlocks:
		if !loaded {
			return nil, boundaries.Invalid("plan --method blocks: no barriers are loaded (jiedao import-barriers FILE)")
		}
		return []int{methodBlocks}, nil
	case SplitAuto, "":
		if !loaded {
			pn.plan.MethodNote = "no barriers loaded: splits use straight cuts (import roads and rivers with jiedao import-barriers to split along them)"
			return cuts, nil
		}
		return append([]int{methodBlocks}, cuts...), nil
	}
	return nil, boundaries.Invalid("plan: method %q: want one of auto, blocks, cuts", pn.opt.Method)
}

func (pn *planner) barriersLoaded(ctx context.Context) (bool, error) {
	if pn.barriers != nil {
		return *pn.barriers, nil
	}
	var ok bool
	if err := pn.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM barriers)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("barriers: %w", err)
	}
	pn.barriers = &ok
	return ok, nil
}

// blockGraphs cuts the working geometries of codes into blocks (pblock,
// blocks.Build), copies the blocks to pcell as method 3's cells (so parts
// are built, tidied and counted like the other cells) and returns each
// community's block graph for the partition.
func (pn *planner) blockGraphs(ctx context.Context, codes []string) (map[string]*blocks.Graph, error) {
	if err := blocks.Build(ctx, pn.tx, `SELECT code, geom, h, p FROM pw WHERE code = ANY($1)`, []any{codes}, pn.p.MinBlockArea()); err != nil {
		return nil, err
	}
	if err := pn.exec(ctx, `INSERT INTO pcell SELECT key, 3, id, geom, households FROM pblock WHERE key = ANY($1)`, codes); err != nil {
		return nil, fmt.Errorf("blocks: %w", err)
	}
	return blocks.Graphs(ctx, pn.tx, codes)
}

// blockSpec is the partition's rules for a job: the profile's range, and
// weights scaled so the blocks add up to the community's own counts (the
// blocks carry the building points'; the plan divides the community's).
func (pn *planner) blockSpec(j *splitJob) partition.Spec {
	c := pn.p.Community
	s := partition.Spec{K: j.k, Seed: pn.opt.Seed}
	if c.MaxHouseholds.On() {
		s.Households.Hi = c.MaxHouseholds.Float()
	}
	if c.MinHouseholds.On() {
		s.Households.Lo = c.MinHouseholds.Float()
	}
	if c.NormalHouseholds.On() {
		s.Households.Normal = c.NormalHouseholds.Float()
	}
	if c.MaxPopulation.On() && j.pp != nil {
		s.Population.Hi = c.MaxPopulation.Float()
		if c.NormalPopulation.On() {
			s.Population.Normal = c.NormalPopulation.Float()
		}
	}
	return s
}

// toPartition converts a community's blocks to the partition's graph,
// households and population scaled to the totals h and p (by area where
// the blocks carry none).
func toPartition(g *blocks.Graph, h, p float64) (*partition.Graph, error) {
	out := &partition.Graph{Blocks: make([]partition.Block, len(g.Blocks)), Adj: make([][]partition.Link, len(g.Blocks))}
	at := make(map[int]int, len(g.Blocks))
	var sw, sp, sa float64
	for _, b := range g.Blocks {
		sw, sp, sa = sw+b.Households, sp+b.Population, sa+b.AreaM2
	}
	scale := func(v, sum, total, area float64) float64 {
		switch {
		case sum > 0:
			return v * total / sum
		case sa > 0:
			return area * total / sa
		}
		return 0
	}
	for i, b := range g.Blocks {
		at[b.ID] = i
		out.Blocks[i] = partition.Block{ID: b.ID, X: b.X, Y: b.Y, W: scale(b.Households, sw, h, b.AreaM2), P: scale(b.Population, sp, p, b.AreaM2),
			Area: b.AreaM2, Perim: b.PerimM, Home: -1}
	}
	for _, l := range g.Links {
		a, okA := at[l.A]
		b, okB := at[l.B]
		if !okA || !okB {
			return nil, fmt.Errorf("blocks of %s: link %d–%d names a missing block", g.Key, l.A, l.B)
		}
		out.Adj[a] = append(out.Adj[a], partition.Link{J: b, L: l.LengthM})
		out.Adj[b] = append(out.Adj[b], partition.Link{J: a, L: l.LengthM})
	}
	return out, nil
}

// splitBlocks partitions one job's blocks into k connected parts; a job
// that cannot be split within range keeps the reason (j.why) and, when
// the blocks gave connected parts, those as its best effort.
func (pn *planner) splitBlocks(j *splitJob, g *blocks.Graph, fit func(float64) bool) (bool, error) {
	if g == nil || len(g.Blocks) < j.k {
		n := 0
		if g != nil {
			n = len(g.Blocks)
		}
		j.why = fmt.Sprintf("blocks: %d blocks cannot make %d parts", n, j.k)
		return false, nil
	}
	pg, err := toPartition(g, j.h, j.p)
	if err != nil {
		return false, err
	}
	res, err := partition.Blocks(pg, pn.blockSpec(j))
	var inf *partition.Infeasible
	switch {
	case errors.As(err, &inf):
		j.why = "blocks: " + inf.Reason
	case err != nil:
		return false, fmt.Errorf("blocks of %s: %w", j.code, err)
	}
	if res == nil {
		return false, nil
	}
	parts := make([]partition.Part, len(res.Parts))
	for i, idx := range res.Parts {
		for _, b := range idx {
			parts[i].IDs = append(parts[i].IDs, pg.Blocks[b].ID)
			parts[i].W += pg.Blocks[b].W
		}
	}
	return keepParts(j, methodBlocks, parts, fit), nil
}

// splitEdges lists each part of the splits done with the community it
// came from, for onBarriers.
func splitEdges(out *splitRows) (parts, origs []string) {
	for _, j := range out.done {
		for _, cd := range j.codes {
			parts, origs = append(parts, cd), append(origs, j.code)
		}
	}
	return parts, origs
}

// onBarriers measures, for each new part (parts[i], made from origs[i],
// whose old boundary lines, buffered by 1e-6°, are porig.near), the share of its new boundary
// (what is not on an old boundary) that lies on barriers, and adds them to
// the plan's total (by length). Nothing when no barriers are loaded.
func (pn *planner) onBarriers(ctx context.Context, parts, origs []string) error {
	if ok, err := pn.barriersLoaded(ctx); err != nil || !ok || pn.noBarrierShare {
		return err
	}
	// 1e-6° (≈ 0.1 m) around the old boundary: what the tidy-up left of it.
	if err := pn.exec2(ctx, `DROP TABLE IF EXISTS pnewb`, `CREATE TEMP TABLE pnewb ON COMMIT DROP AS
		SELECT g.code, ST_Difference(ST_Boundary(w.geom), o.near) AS geom
		FROM unnest($1::text[], $2::text[]) g(code, orig) JOIN pw w ON w.code = g.code JOIN porig o ON o.code = g.orig`, parts, origs); err != nil {
		return fmt.Errorf("new boundaries: %w", err)
	}
	share, err := blocks.OnBarriers(ctx, pn.tx, `SELECT code, geom FROM pnewb`)
	if err != nil {
		return err
	}
	rows, err := pn.tx.Query(ctx, `SELECT code, ST_Length(geom::geography) FROM pnewb`)
	if err != nil {
		return fmt.Errorf("new boundaries: %w", err)
	}
	defer rows.Close()
	on, total := pn.barrierLen[0], pn.barrierLen[1]
	for rows.Next() {
		var code string
		var l float64
		if err := rows.Scan(&code, &l); err != nil {
			return err
		}
		s := share[code]
		pn.onBar[code] = s
		on, total = on+s*l, total+l
	}
	pn.barrierLen = [2]float64{on, total}
	if total > 0 {
		r := math.Round(on/total*1e4) / 1e4
		pn.plan.BoundaryOnBarriers = &r
	}
	return rows.Err()
}

// exec2 runs a statement without parameters (it may be several), then one
// with args: a statement with parameters must be alone.
func (pn *planner) exec2(ctx context.Context, plain, sql string, args ...any) error {
	if err := pn.exec(ctx, plain); err != nil {
		return err
	}
	return pn.exec(ctx, sql, args...)
}
