package plan

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"

	"github.com/jackc/pgx/v5"
)

// mergeCand is a neighbour a pending community could merge with, as the
// candidates statement of a round reads it.
type mergeCand struct {
	code string
	h    int64
	p    *int64
	pp   *float64 // nil when the merge would exceed a maximum
	// cross is the profile's cost of merging across the barrier along the
	// shared edge (the costliest class running along a third of it or
	// more); 1 when there is none.
	cross float64
}

// mergeHP is a pending community's households and population at the start
// of a round.
type mergeHP struct {
	h int64
	p *int64
}

// merged is one accepted merge, kept until the operations are recorded in
// the one-by-one order.
type merged struct {
	i          int // position in codes: the one-by-one order
	code, with string
	keep, gone string
	h, mh      int64
	pp         float64
	moved      int64 // households of the one merged away
	area       float64
}

// mergeRules are the figures of the profile a merge decision uses.
type mergeRules struct {
	normal float64
	// NULL when the rule is off; only used to skip Polsby-Popper of
	// candidates that cannot be chosen (Go applies the rule itself).
	maxH, maxP *float64
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
	if !c.MinHouseholds.On() {
		return nil
	}
	codes, err := pn.undersized(ctx)
	if err != nil {
		return err
	}
	rules := pn.readMergeRules()
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
		state, cands, err := pn.mergeCandidates(ctx, names, rules)
		if err != nil {
			return err
		}
		accepted, next, err := pn.decideRound(codes, pending, state, cands, rules.normal)
		if err != nil {
			return err
		}
		slog.Debug("plan merge round", "round", round, "pending", len(pending), "merged", len(accepted), "deferred", len(next))
		if len(accepted) > 0 {
			applied, err := pn.applyMerges(ctx, round, accepted)
			if err != nil {
				return err
			}
			done = append(done, applied...)
		}
		pending = next
	}
	pn.recordMerges(done, rules.normal)
	return nil
}

// undersized lists the communities in scope below the minimum whose street
// is loaded, smallest first (h, code): the one-by-one order of the merges.
func (pn *planner) undersized(ctx context.Context) ([]string, error) {
	c := pn.p.Community
	rows, err := pn.tx.Query(ctx, `SELECT code FROM pw WHERE scope AND h < $1 AND street IN (SELECT code FROM ps) ORDER BY h, code`, c.MinHouseholds.Float())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// readMergeRules reads the normal (the minimum when no normal is set) and
// the maxima a merge is judged by.
func (pn *planner) readMergeRules() mergeRules {
	c := pn.p.Community
	normal := c.NormalHouseholds.Float()
	if !c.NormalHouseholds.On() {
		normal = c.MinHouseholds.Float()
	}
	r := mergeRules{normal: normal}
	if c.MaxHouseholds.On() {
		v := c.MaxHouseholds.Float()
		r.maxH = &v
	}
	if c.MaxPopulation.On() {
		v := c.MaxPopulation.Float()
		r.maxP = &v
	}
	return r
}

// mergeCandidates loads what a round decides on, in two statements: the
// current households and population of the pending communities (names; a
// community missing was merged away already), and the candidates of each,
// by code.
func (pn *planner) mergeCandidates(ctx context.Context, names []string, rules mergeRules) (map[string]mergeHP, map[string][]mergeCand, error) {
	rows, err := pn.tx.Query(ctx, `SELECT code, h, p FROM pw WHERE code = ANY($1)`, names)
	if err != nil {
		return nil, nil, err
	}
	state := map[string]mergeHP{}
	for rows.Next() {
		var code string
		var x mergeHP
		if err := rows.Scan(&code, &x.h, &x.p); err != nil {
			rows.Close()
			return nil, nil, err
		}
		state[code] = x
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	// Candidates of every pending community; the union is built only
	// for merges within the maxima (OFFSET 0: built once, not once per
	// use), and the barrier along the shared edge only when barriers are
	// loaded ($4).
	loaded, err := pn.barriersLoaded(ctx)
	if err != nil {
		return nil, nil, err
	}
	classes, costs := pn.crossCosts()
	rows, err = pn.tx.Query(ctx, `SELECT a.code, n.code, n.h, n.p,
			CASE WHEN u.g IS NOT NULL THEN coalesce(4 * pi() * ST_Area(u.g::geography) / nullif(ST_Perimeter(u.g::geography) ^ 2, 0), 0) END,
			coalesce(x.cost, 1)
		FROM pw a JOIN pw n ON n.street = a.street AND n.code <> a.code AND n.geom && a.geom AND ST_Relate(a.geom, n.geom, '****1****'),
		LATERAL (SELECT CASE WHEN ($2::float8 IS NULL OR (a.h + n.h)::float8 <= $2)
				AND NOT (a.p IS NOT NULL AND n.p IS NOT NULL AND $3::float8 IS NOT NULL AND (a.p + n.p)::float8 > $3)
			THEN ST_Union(a.geom, n.geom) END AS g OFFSET 0) u
		LEFT JOIN LATERAL (SELECT max(cc.cost) AS cost FROM
				(SELECT ST_CollectionExtract(ST_Intersection(ST_Boundary(a.geom), ST_Boundary(n.geom)), 2) AS e WHERE $4 OFFSET 0) s,
				barriers b JOIN unnest($5::text[], $6::float8[]) cc(class, cost) ON cc.class = b.class
			WHERE b.geom && ST_Expand(s.e, 1e-4)
				AND ST_Length(ST_Intersection(s.e, ST_Buffer(b.geom::geography, 1)::geometry)::geography) >= ST_Length(s.e::geography) / 3) x ON true
		WHERE a.code = ANY($1) AND n.h IS NOT NULL ORDER BY a.code, n.code`, names, rules.maxH, rules.maxP, loaded, classes, costs)
	if err != nil {
		return nil, nil, err
	}
	cands := map[string][]mergeCand{}
	for rows.Next() {
		var a string
		var x mergeCand
		if err := rows.Scan(&a, &x.code, &x.h, &x.p, &x.pp, &x.cross); err != nil {
			rows.Close()
			return nil, nil, err
		}
		cands[a] = append(cands[a], x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return state, cands, nil
}

// decideRound walks the pending communities in the one-by-one order and
// decides those the dirty-set rule allows, so each decision sees what the
// one-by-one order would show it. It returns the accepted merges and the
// communities deferred to the next round (the others are settled: merged
// away, no longer undersized, or noted as impossible).
func (pn *planner) decideRound(codes []string, pending []int, state map[string]mergeHP, cands map[string][]mergeCand, normal float64) ([]merged, []int, error) {
	c := pn.p.Community
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
		if dirty[code] || slices.ContainsFunc(cs, func(x mergeCand) bool { return dirty[x.code] }) {
			dirty[code] = true
			for _, x := range cs {
				dirty[x.code] = true
			}
			next = append(next, i)
			continue
		}
		h, p := st.h, st.p
		if float64(h) >= c.MinHouseholds.Float() {
			continue
		}
		if len(cs) == 0 {
			pn.note(code, "undersized: no neighbour in the same street shares an edge")
			continue
		}
		best, err := pn.bestCandidate(code, h, p, cs, normal)
		if err != nil {
			return nil, nil, err
		}
		if best < 0 {
			pn.note(code, fmt.Sprintf("undersized: every neighbour of the same street sharing an edge would exceed %g households (or the population maximum) after merging", c.MaxHouseholds.Float()))
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
	return accepted, next, nil
}

// bestCandidate chooses the candidate of an undersized community (h
// households, p population) within the maxima across the cheapest barrier
// (the profile's cross_cost), then whose merged households come closest to
// normal, on ties the larger Polsby-Popper, then the first (the smaller
// code); -1 when every candidate exceeds a maximum.
func (pn *planner) bestCandidate(code string, h int64, p *int64, cs []mergeCand, normal float64) (int, error) {
	c := pn.p.Community
	best := -1
	for k, x := range cs {
		m := float64(h + x.h)
		if c.MaxHouseholds.On() && m > c.MaxHouseholds.Float() {
			continue
		}
		if p != nil && x.p != nil && c.MaxPopulation.On() && float64(*p+*x.p) > c.MaxPopulation.Float() {
			continue
		}
		if x.pp == nil {
			return 0, fmt.Errorf("merge %s: no Polsby-Popper for candidate %s", code, x.code)
		}
		if best < 0 {
			best = k
			continue
		}
		// A cheaper barrier to cross first (a river or railway is merged
		// across only when no other neighbour fits), then closeness to normal.
		if x.cross != cs[best].cross {
			if x.cross < cs[best].cross {
				best = k
			}
			continue
		}
		d, bd := math.Abs(m-normal), math.Abs(float64(h+cs[best].h)-normal)
		if d < bd || d == bd && *x.pp > *cs[best].pp {
			best = k
		}
	}
	return best, nil
}

// applyMerges applies a round's accepted merges in one statement (the
// kept community takes the geometry and counts of the one merged away,
// which is deleted) and returns them with the households and area moved;
// the reason noted for a community merged away no longer applies.
func (pn *planner) applyMerges(ctx context.Context, round int, accepted []merged) ([]merged, error) {
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
		return nil, fmt.Errorf("merge round %d: %w", round, err)
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
			return nil, err
		}
		got[g] = x
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("merge round %d: %w", round, err)
	}
	var done []merged
	for _, m := range accepted {
		g, ok := got[m.gone]
		if !ok {
			return nil, fmt.Errorf("merge %s into %s: not applied", m.gone, m.keep)
		}
		m.moved, m.area = g.h, g.area
		delete(pn.reason, m.gone)
		done = append(done, m)
	}
	return done, nil
}

// recordMerges records the merge operations in the one-by-one order, not
// the order of the rounds that applied them.
func (pn *planner) recordMerges(done []merged, normal float64) {
	// Operations in the one-by-one order.
	sort.Slice(done, func(a, b int) bool { return done[a].i < done[b].i })
	for _, m := range done {
		pn.add(Op{Kind: "merge", From: []string{m.code, m.with}, To: []string{m.keep}, HouseholdsMoved: m.moved, AreaM2: m.area,
			Note: fmt.Sprintf("%s (%d households) joins %s; merged %d households (normal %g), Polsby-Popper %.3f", m.code, m.h, m.with, m.mh, normal, m.pp)})
	}
}

// crossCosts is the profile's cross_cost as parallel arrays (class, cost)
// for SQL, classes sorted.
func (pn *planner) crossCosts() ([]string, []float64) {
	var classes []string
	for c, n := range pn.p.Blocks.CrossCost {
		if n.On() {
			classes = append(classes, c)
		}
	}
	sort.Strings(classes)
	costs := make([]float64, len(classes))
	for i, c := range classes {
		costs[i] = pn.p.CrossCost(c)
	}
	return classes, costs
}
