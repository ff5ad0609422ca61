package partition

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/jiedao/jiedao/geo"
)

// Blocks: a community (or a whole street) is divided by grouping whole
// blocks, the faces that roads, rivers, railways and walls cut it into,
// into connected parts, so every new boundary lies on an existing barrier.
// The caller builds the blocks and their shared edges (PostGIS); this is
// the search: exact up to exactBlocks blocks, above it recursive bisection
// on random spanning trees, then moves of boundary blocks between parts.

// Block is one indivisible face: its id (the caller's, used in messages),
// a representative point (longitude X, latitude Y), households W,
// population P, geodesic area (m²) and perimeter (m), and Home, the index
// of the community it is in today (Spec.KeepHomes; negative: none).
type Block struct {
	ID          int
	X, Y        float64
	W, P        float64
	Area, Perim float64
	Home        int
}

// Link is an edge shared with block J (an index in Graph.Blocks), L metres
// long; a corner does not count. A link listed on one side only is taken
// for both.
type Link struct {
	J int
	L float64
}

// Graph is the blocks and, per block, its links (Adj[i] for Blocks[i]).
type Graph struct {
	Blocks []Block
	Adj    [][]Link
}

// Range is a rule on a part's households (or population): in range when
// Lo <= w <= Hi; Hi = 0 sets no rule. Normal is the target size (0: the
// total over the parts).
type Range struct {
	Lo, Hi, Normal float64
}

// Spec is what Blocks is asked for.
type Spec struct {
	K          int   // number of parts
	Households Range // rule and target on households per part
	Population Range // optional rule on population per part
	Seed       int64 // the search is deterministic for a seed
	// KeepHomes (rebalancing a street) keeps as many households in the
	// community of their Block.Home as balance allows: when the current
	// communities are already connected and in range they are kept as they
	// are.
	KeepHomes bool
}

// Result is a partition into Spec.K connected parts.
type Result struct {
	Parts         [][]int   // block indices (in Graph.Blocks) per part, ascending; parts in order of their first block
	CutLength     float64   // total length of the links between different parts (m)
	MaxDeviation  float64   // max over the parts of |households − Normal| / Normal
	MeanDeviation float64   // mean over the parts of the same
	PolsbyPopper  []float64 // per part, 4πA/P² from the blocks' areas, perimeters and shared links
	Homes         []int     // KeepHomes: per part, the Home it is matched to (-1: none)
	Moved         float64   // KeepHomes: households not in the part matched to their Home
	InRange       bool      // every part within the households and population ranges
}

// Infeasible is the error Blocks returns when no partition within range
// was found, saying why in words for the user; the Result beside it is the
// best connected partition found, when there is one.
type Infeasible struct {
	Reason string
}

// Error is the reason.
func (e *Infeasible) Error() string { return e.Reason }

// Blocks partitions g's blocks into s.K connected parts: within the ranges
// and as close to Normal as the blocks allow first, then (KeepHomes) the
// fewest households moved, then the shortest total cut. Bad input is an
// error naming it; an *Infeasible error comes with the best partition found
// (nil when the blocks form more pieces than parts).
func Blocks(g *Graph, s Spec) (*Result, error) {
	bg, err := newBlockGraph(g, s)
	if err != nil {
		return nil, err
	}
	comps := bg.components()
	if len(comps) > s.K {
		return nil, &Infeasible{Reason: bg.piecesReason(comps, s.K)}
	}
	ks := bg.apportion(comps, s.K)
	o := newObjective(bg, s)
	sr := newSearcher(bg, o, s)
	st, exact := sr.run(comps, ks)
	res := bg.result(st, s)
	if !res.InRange {
		return res, &Infeasible{Reason: bg.reason(res, comps, ks, s, exact)}
	}
	return res, nil
}

// blockGraph is a validated Graph: links symmetric, one per pair, sorted.
type blockGraph struct {
	b       []Block
	adj     [][]Link
	linkSum []float64 // per block, the total length of its links
}

// newBlockGraph checks g and s and makes the links symmetric.
func newBlockGraph(g *Graph, s Spec) (*blockGraph, error) {
	if g == nil || len(g.Blocks) == 0 {
		return nil, errors.New("partition: no blocks")
	}
	n := len(g.Blocks)
	switch {
	case s.K < 1:
		return nil, fmt.Errorf("partition: K = %d, want at least 1 part", s.K)
	case s.K > n:
		return nil, fmt.Errorf("partition: K = %d parts but only %d blocks", s.K, n)
	case len(g.Adj) != n:
		return nil, fmt.Errorf("partition: %d adjacency lists for %d blocks", len(g.Adj), n)
	}
	if err := checkRange("households", s.Households); err != nil {
		return nil, err
	}
	if err := checkRange("population", s.Population); err != nil {
		return nil, err
	}
	for i, b := range g.Blocks {
		for _, f := range []struct {
			name string
			v    float64
		}{{"households", b.W}, {"population", b.P}, {"area", b.Area}, {"perimeter", b.Perim}} {
			if !finite(f.v) {
				return nil, fmt.Errorf("partition: block %d (id %d): %s %g, want a finite number ≥ 0", i, b.ID, f.name, f.v)
			}
		}
	}
	adj := make([][]Link, n)
	for i, ls := range g.Adj {
		for _, l := range ls {
			switch {
			case l.J < 0 || l.J >= n:
				return nil, fmt.Errorf("partition: block %d (id %d): link to block %d, out of range 0–%d", i, g.Blocks[i].ID, l.J, n-1)
			case l.J == i:
				return nil, fmt.Errorf("partition: block %d (id %d): link to itself", i, g.Blocks[i].ID)
			case !finite(l.L):
				return nil, fmt.Errorf("partition: block %d (id %d): link to block %d is %g m, want a finite length ≥ 0", i, g.Blocks[i].ID, l.J, l.L)
			}
			adj[i] = append(adj[i], l)
			adj[l.J] = append(adj[l.J], Link{J: i, L: l.L})
		}
	}
	bg := &blockGraph{b: g.Blocks, adj: adj, linkSum: make([]float64, n)}
	for i := range adj {
		bg.adj[i] = mergeLinks(adj[i])
		for _, l := range bg.adj[i] {
			bg.linkSum[i] += l.L
		}
	}
	return bg, nil
}

func finite(v float64) bool { return v >= 0 && !math.IsInf(v, 1) }

func checkRange(name string, r Range) error {
	if !finite(r.Lo) || !finite(r.Hi) || !finite(r.Normal) {
		return fmt.Errorf("partition: %s range %g–%g (normal %g): want finite numbers ≥ 0", name, r.Lo, r.Hi, r.Normal)
	}
	if r.Hi > 0 && r.Lo > r.Hi {
		return fmt.Errorf("partition: %s range %g–%g: minimum above maximum", name, r.Lo, r.Hi)
	}
	return nil
}

// mergeLinks sorts ls by block and keeps one link per block, the longest
// (both sides normally list the same edge).
func mergeLinks(ls []Link) []Link {
	sort.Slice(ls, func(a, b int) bool {
		if ls[a].J != ls[b].J {
			return ls[a].J < ls[b].J
		}
		return ls[a].L > ls[b].L
	})
	out := ls[:0]
	for _, l := range ls {
		if len(out) > 0 && out[len(out)-1].J == l.J {
			continue
		}
		out = append(out, l)
	}
	return out
}

// components are the connected pieces of the graph, each ascending, in
// order of their first block.
func (bg *blockGraph) components() [][]int {
	seen := make([]bool, len(bg.b))
	var comps [][]int
	for s := range bg.b {
		if seen[s] {
			continue
		}
		seen[s] = true
		c := []int{s}
		for q := 0; q < len(c); q++ {
			for _, l := range bg.adj[c[q]] {
				if !seen[l.J] {
					seen[l.J] = true
					c = append(c, l.J)
				}
			}
		}
		slices.Sort(c)
		comps = append(comps, c)
	}
	return comps
}

// apportion gives each piece one part, and each further part to the piece
// with the most households per part (that has blocks to spare), which
// keeps the largest average part as small as it can be.
func (bg *blockGraph) apportion(comps [][]int, k int) []int {
	ks := make([]int, len(comps))
	w := make([]float64, len(comps))
	for c, idx := range comps {
		ks[c] = 1
		for _, i := range idx {
			w[c] += bg.b[i].W
		}
	}
	for r := len(comps); r < k; r++ {
		best := -1
		for c := range comps {
			if ks[c] < len(comps[c]) && (best < 0 || w[c]*float64(ks[best]) > w[best]*float64(ks[c])) {
				best = c
			}
		}
		ks[best]++
	}
	return ks
}

// result describes the final state: parts, cut, deviations, shapes, homes.
func (bg *blockGraph) result(st *state, s Spec) *Result {
	k := len(st.w)
	res := &Result{InRange: true}
	parts := make([][]int, k)
	for i, a := range st.assign {
		parts[a] = append(parts[a], i)
	}
	order := make([]int, k)
	for a := range order {
		order[a] = a
	}
	sort.Slice(order, func(x, y int) bool { return parts[order[x]][0] < parts[order[y]][0] })
	normal := s.Households.Normal
	if normal <= 0 {
		normal = st.o.hh.mean
	}
	area, perim := make([]float64, k), make([]float64, k)
	for i, b := range bg.b {
		a := st.assign[i]
		area[a] += b.Area
		perim[a] += b.Perim
		for _, l := range bg.adj[i] {
			if st.assign[l.J] == a {
				perim[a] -= l.L // each internal link is seen from both sides
			} else if l.J > i {
				res.CutLength += l.L
			}
		}
	}
	for _, a := range order {
		res.Parts = append(res.Parts, parts[a])
		res.PolsbyPopper = append(res.PolsbyPopper, geo.PolsbyPopper(area[a], perim[a]))
		if normal > 0 {
			d := math.Abs(st.w[a]-normal) / normal
			res.MaxDeviation = max(res.MaxDeviation, d)
			res.MeanDeviation += d / float64(k)
		}
		if !inRange(s.Households, st.w[a]) || !inRange(s.Population, st.p[a]) {
			res.InRange = false
		}
		if st.label != nil {
			res.Homes = append(res.Homes, st.label[a])
		}
	}
	if st.label != nil {
		res.Moved = st.moved()
	}
	return res
}

func inRange(r Range, w float64) bool {
	return r.Hi <= 0 || (w >= r.Lo && w <= r.Hi)
}
