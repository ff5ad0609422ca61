// Package partition divides a community into balanced, compact, connected
// parts: straight cuts between building points (Straight), and connected
// partitions of cells (Cells). It is pure: plain arithmetic in the
// community's local frame, no database, no HTTP; the caller loads the
// points or cells and turns the parts into geometry.
package partition

import (
	"math"
	"math/bits"
	"sort"

	"github.com/jiedao/jiedao/geo"
)

// Cell is a sub-unit of a split: its id, a representative point
// (longitude X, latitude Y), its weight (households, or area for the
// grid), and its geodesic area (m²) and perimeter (m).
type Cell struct {
	ID          int
	X, Y, W     float64
	Area, Perim float64
}

// Edge is a boundary shared with another cell (index J in Cells.Cells), L
// metres long.
type Edge struct {
	J int
	L float64
}

// Cells are one community's cells and, per cell, the cells it shares an
// edge with (a corner does not count).
type Cells struct {
	Cells      []Cell
	Neighbours [][]Edge
}

// Partition tuning, measured on the beijing demo (BENCHMARKS.md).
// Up to exactCells sub-units every partition is searched (3^n/2 steps per
// part count for cells; every distinct cut followed to the end for
// straight cuts); above, recursive bisection along sweepDirs directions.
// A straight cut between two points is tried at gapAt of the gap.
// compactness weighs 1 − Polsby-Popper against relative imbalance: linear
// in the imbalance, so balance comes first and shape breaks near-ties.
const (
	exactCells  = 12
	sweepDirs   = 16
	compactness = 0.3
)

var gapAt = []float64{0.25, 0.5, 0.75}

// Straight cuts on many points (measured on synthetic communities of 50 to
// 1,000 address points, BENCHMARKS.md): above denseCells points a piece is
// cut only near its balance points, at the weighted quantiles k1/k ± each
// of denseAt (finest near balance, up to a quarter of the weight away for
// shape), instead of at every gap between neighbouring points.
const denseCells = 64

var denseAt = []float64{0, 1.0 / 512, 1.0 / 256, 1.0 / 128, 1.0 / 64, 1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4}

// outOfRange is the cost of a part whose households or population would
// be out of the profile's range: more than any imbalance or shape.
const outOfRange = 100

// partitioner splits one community's cells into k parts, each a
// connected set of cells, minimising the sum over parts of partCost.
type partitioner struct {
	u     *Cells
	unit  float64                  // total weight / k: one part's fair share
	ok    func(share float64) bool // whether a part with this share of the total is within range
	total float64
	inL   []bool // scratch for sweep
}

// partition returns k groups of cell indices; ok judges a part by its
// share of the total weight. Parts are connected whenever the cells allow.
func partition(u *Cells, k int, ok func(share float64) bool) [][]int {
	p := &partitioner{u: u, ok: ok, inL: make([]bool, len(u.Cells))}
	idx := make([]int, len(u.Cells))
	for i, c := range u.Cells {
		idx[i] = i
		p.total += c.W
	}
	p.unit = p.total / float64(k)
	gs := p.split(idx, k)
	// Part 0 (which keeps the code) is the one with the first cell.
	for _, g := range gs {
		sort.Ints(g)
	}
	sort.Slice(gs, func(a, b int) bool { return gs[a][0] < gs[b][0] })
	return gs
}

func (p *partitioner) cost(w, area, perim float64, k int) float64 {
	return partCost(w, area, perim, k, p.unit, p.total, p.ok)
}

// partCost is the cost of a group that becomes k parts (k = 1: a part):
// each part's relative imbalance against unit as if the group were split
// evenly, compactness × (1 − Polsby-Popper) of the group, and outOfRange
// when a part would be out of range.
func partCost(w, area, perim float64, k int, unit, total float64, ok func(share float64) bool) float64 {
	kf := float64(k)
	e := w/(kf*unit) - 1
	c := kf * math.Abs(e)
	if perim > 0 {
		c += kf * compactness * (1 - geo.PolsbyPopper(area, perim))
	}
	if total > 0 && !ok(w/kf/total) {
		c += kf * outOfRange
	}
	return c
}

func (p *partitioner) split(idx []int, k int) [][]int {
	if k <= 1 || len(idx) <= 1 {
		return [][]int{idx}
	}
	if len(idx) <= exactCells {
		if gs := p.exact(idx, k); gs != nil {
			return gs
		}
	}
	l, r, k1 := p.sweep(idx, k, true)
	if l == nil {
		// No cut leaves both sides connected (the cells themselves are
		// not): the best cut regardless; the caller joins the strays
		// (plan's tidySplit).
		l, r, k1 = p.sweep(idx, k, false)
	}
	return append(p.split(l, k1), p.split(r, k-k1)...)
}

// exact searches every partition of idx into k connected groups (nil if
// there is none).
func (p *partitioner) exact(idx []int, k int) [][]int {
	m := len(idx)
	n := 1 << m
	nbm, shared := p.localAdjacency(idx)
	conn, one := p.subsets(idx, nbm, shared)
	s := newSubsetSearch(conn, one, n, k)
	if math.IsInf(s.solve(n-1, k), 1) {
		return nil
	}
	return s.groups(idx, n, k)
}

// localAdjacency numbers idx's cells 0..m-1 for bit masks: neighbour masks and shared edges.
func (p *partitioner) localAdjacency(idx []int) (nbm []int, shared [][]float64) {
	m := len(idx)
	local := make(map[int]int, m)
	for li, gi := range idx {
		local[gi] = li
	}
	nbm = make([]int, m)
	shared = make([][]float64, m)
	for li, gi := range idx {
		shared[li] = make([]float64, m)
		for _, e := range p.u.Neighbours[gi] {
			if lj, ok := local[e.J]; ok {
				nbm[li] |= 1 << lj
				shared[li][lj] = e.L
			}
		}
	}
	return nbm, shared
}

// subsets tabulates, for each subset mask of idx, whether it is connected and its one-part cost.
func (p *partitioner) subsets(idx []int, nbm []int, shared [][]float64) (conn []bool, one []float64) {
	n := 1 << len(idx)
	// Weight, area and perimeter of every subset (the perimeter of a union
	// is the cells' perimeters less twice their shared edges), whether it
	// is connected, and its cost as one part.
	w, area, perim := make([]float64, n), make([]float64, n), make([]float64, n)
	conn = make([]bool, n)
	one = make([]float64, n)
	for mask := 1; mask < n; mask++ {
		l := bits.TrailingZeros(uint(mask))
		rest := mask &^ (1 << l)
		c := p.u.Cells[idx[l]]
		w[mask], area[mask], perim[mask] = w[rest]+c.W, area[rest]+c.Area, perim[rest]+c.Perim
		for r := rest & nbm[l]; r != 0; r &= r - 1 {
			perim[mask] -= 2 * shared[l][bits.TrailingZeros(uint(r))]
		}
		conn[mask] = reachable(l, mask, nbm) == mask
		one[mask] = p.cost(w[mask], area[mask], perim[mask], 1)
	}
	return conn, one
}

// reachable is the part of mask reachable from local cell l inside mask: all of it if connected.
func reachable(l, mask int, nbm []int) int {
	reach := 1 << l
	for {
		next := reach
		for r := reach; r != 0; r &= r - 1 {
			next |= nbm[bits.TrailingZeros(uint(r))]
		}
		next &= mask
		if next == reach {
			break
		}
		reach = next
	}
	return reach
}

// subsetSearch is exact's memoised search over subsets, a type so that the recursion is a method.
type subsetSearch struct {
	conn []bool
	one  []float64
	// best[j][mask]: the least cost of mask in j connected groups; the
	// group holding mask's lowest cell is choice[j][mask].
	best   [][]float64
	choice [][]int
	inf    float64
}

// newSubsetSearch allocates the memo tables for 2..k groups over n subsets, all unsolved (-1).
func newSubsetSearch(conn []bool, one []float64, n, k int) *subsetSearch {
	s := &subsetSearch{conn: conn, one: one, inf: math.Inf(1)}
	s.best = make([][]float64, k+1)
	s.choice = make([][]int, k+1)
	for j := 2; j <= k; j++ {
		s.best[j] = make([]float64, n)
		s.choice[j] = make([]int, n)
		for i := range s.best[j] {
			s.best[j][i] = -1
		}
	}
	return s
}

// solve is the least cost of mask in j connected groups (+Inf if none), memoised with its choice.
func (s *subsetSearch) solve(mask, j int) float64 {
	if j == 1 {
		if s.conn[mask] {
			return s.one[mask]
		}
		return s.inf
	}
	if v := s.best[j][mask]; v >= 0 {
		return v
	}
	low := mask & -mask
	rest := mask ^ low
	bv, bt := s.inf, 0
	for sub := rest; ; sub = (sub - 1) & rest {
		t := low | sub
		if s.conn[t] && s.one[t] < bv && bits.OnesCount(uint(mask^t)) >= j-1 {
			if v := s.one[t] + s.solve(mask^t, j-1); v < bv {
				bv, bt = v, t
			}
		}
		if sub == 0 {
			break
		}
	}
	s.best[j][mask], s.choice[j][mask] = bv, bt
	return bv
}

// groups follows the recorded choices from the whole set down to k groups of idx's cell indices.
func (s *subsetSearch) groups(idx []int, n, k int) [][]int {
	var gs [][]int
	mask := n - 1
	for j := k; j >= 1; j-- {
		t := mask
		if j > 1 {
			t = s.choice[j][mask]
		}
		var g []int
		for r := t; r != 0; r &= r - 1 {
			g = append(g, idx[bits.TrailingZeros(uint(r))])
		}
		gs = append(gs, g)
		mask ^= t
	}
	return gs
}

// sweep finds the best straight cut of idx into two sides of k1 and k-k1
// parts: cells sorted along each of sweepDirs directions, cut between two
// of them, k1 either half of k. With conn, both sides must be connected
// (nil if no cut is).
func (p *partitioner) sweep(idx []int, k int, conn bool) (left, right []int, k1 int) {
	m := len(idx)
	minY, maxY := math.Inf(1), math.Inf(-1)
	for _, i := range idx {
		minY, maxY = min(minY, p.u.Cells[i].Y), max(maxY, p.u.Cells[i].Y)
	}
	// A degree of longitude is cos(latitude) of a degree of latitude.
	kx := math.Cos((minY + maxY) / 2 * math.Pi / 180)
	order := make([]int, m)
	key := make([]float64, len(p.u.Cells))
	prefConn, sufConn := make([]bool, m+1), make([]bool, m+1)
	type side struct{ w, area, perim float64 }
	pre, suf := make([]side, m+1), make([]side, m+1)
	parent := make([]int, len(p.u.Cells))
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	// add puts cell i on a side (marked in in) and returns how many
	// components it joined, the side's new perimeter contribution.
	add := func(i int, in []bool) (joined int, dperim float64) {
		parent[i] = i
		dperim = p.u.Cells[i].Perim
		for _, e := range p.u.Neighbours[i] {
			if !in[e.J] {
				continue
			}
			dperim -= 2 * e.L
			if a, b := find(i), find(e.J); a != b {
				parent[a] = b
				joined++
			}
		}
		in[i] = true
		return joined, dperim
	}
	bestC := math.Inf(1)
	ks := []int{k / 2}
	if k%2 == 1 {
		ks = append(ks, k-k/2)
	}
	for d := 0; d < sweepDirs; d++ {
		th := math.Pi * float64(d) / float64(sweepDirs)
		cx, cy := kx*math.Cos(th), math.Sin(th)
		for _, i := range idx {
			key[i] = p.u.Cells[i].X*cx + p.u.Cells[i].Y*cy
		}
		copy(order, idx)
		sort.SliceStable(order, func(a, b int) bool {
			if key[order[a]] != key[order[b]] {
				return key[order[a]] < key[order[b]]
			}
			return p.u.Cells[order[a]].ID < p.u.Cells[order[b]].ID
		})
		comps := 0
		for a, i := range order {
			j, dp := add(i, p.inL)
			comps += 1 - j
			c := p.u.Cells[i]
			pre[a+1] = side{pre[a].w + c.W, pre[a].area + c.Area, pre[a].perim + dp}
			prefConn[a+1] = comps == 1
		}
		for _, i := range order {
			p.inL[i] = false
		}
		comps = 0
		for a := m - 1; a >= 0; a-- {
			i := order[a]
			j, dp := add(i, p.inL)
			comps += 1 - j
			c := p.u.Cells[i]
			suf[a] = side{suf[a+1].w + c.W, suf[a+1].area + c.Area, suf[a+1].perim + dp}
			sufConn[a] = comps == 1
		}
		for _, i := range order {
			p.inL[i] = false
		}
		for _, kl := range ks {
			for a := kl; a <= m-(k-kl); a++ {
				if conn && !(prefConn[a] && sufConn[a]) {
					continue
				}
				c := p.cost(pre[a].w, pre[a].area, pre[a].perim, kl) + p.cost(suf[a].w, suf[a].area, suf[a].perim, k-kl)
				if c < bestC {
					bestC, k1 = c, kl
					left, right = append(left[:0:0], order[:a]...), append(right[:0:0], order[a:]...)
				}
			}
		}
	}
	return left, right, k1
}

// Part is one part of a split: its sub-units' ids (Cell.ID, or
// Straight.IDs), its weight, and for straight cuts its region (WKT).
type Part struct {
	IDs    []int
	W      float64
	Region string
}

// Split partitions the cells into k parts (nil if there are fewer cells);
// ok judges a part by its share of the total weight. Parts are connected
// whenever the cells allow; part 0 is the one with the first cell.
func (u *Cells) Split(k int, ok func(share float64) bool) []Part {
	if u == nil || len(u.Cells) < k {
		return nil
	}
	gs := partition(u, k, ok)
	parts := make([]Part, len(gs))
	for i, g := range gs {
		for _, j := range g {
			parts[i].IDs = append(parts[i].IDs, u.Cells[j].ID)
			parts[i].W += u.Cells[j].W
		}
	}
	return parts
}
