package partition

import (
	"cmp"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// Block search tuning (BenchmarkBlocks100, BenchmarkRebalance1500): up to
// exactBlocks blocks a piece is split exactly (3^n steps per part count);
// above, each bisection is the best of spanningTrees random spanning trees,
// and the whole search is run restarts times (fewer on large graphs) and
// refined by up to refinePasses passes of boundary moves.
const (
	exactBlocks   = 12
	spanningTrees = 48
	refinePasses  = 200
	largeGraph    = 400 // blocks above which one restart is run
	restarts      = 6
)

// searcher finds partitions of one validated graph.
type searcher struct {
	bg    *blockGraph
	o     *objective
	s     Spec
	rng   *rand.Rand
	pos   []int // block → index in the current piece, -1 outside
	meanL float64
}

func newSearcher(bg *blockGraph, o *objective, s Spec) *searcher {
	sr := &searcher{bg: bg, o: o, s: s, rng: rand.New(rand.NewPCG(uint64(s.Seed), 0x6a69656461)), pos: make([]int, len(bg.b))}
	var sum float64
	var n int
	for i := range sr.pos {
		sr.pos[i] = -1
		sum += bg.linkSum[i]
		n += len(bg.adj[i])
	}
	if n > 0 {
		sr.meanL = sum / float64(n)
	}
	if sr.meanL <= 0 {
		sr.meanL = 1
	}
	return sr
}

// run returns the best partition found into len(ks) pieces' parts, and
// whether the search was exhaustive.
func (sr *searcher) run(comps [][]int, ks []int) (best *state, exact bool) {
	var homes []int
	if sr.s.KeepHomes {
		for _, b := range sr.bg.b {
			if b.Home >= 0 {
				homes = append(homes, b.Home)
			}
		}
		slices.Sort(homes)
		homes = slices.Compact(homes)
	}
	if len(homes) == sr.s.K {
		if start, clean := sr.homeStart(homes); start != nil {
			best = newState(sr.bg, sr.o, start, sr.s.K)
			best.label = homes
			if clean && best.inRange() {
				return best, false // nothing to rebalance
			}
			best.polish()
			best.match(homes)
			if best.inRange() {
				// A search ignoring homes moves far more households.
				return best, false
			}
		}
	}
	bestC := math.Inf(1)
	if best != nil {
		bestC = best.cost()
	}
	tries := restarts
	if len(sr.bg.b) > largeGraph {
		tries = 1
	}
	for range tries {
		assign, ex := sr.partitionOnce(comps, ks)
		st := newState(sr.bg, sr.o, assign, sr.s.K)
		if len(homes) > 0 {
			st.match(homes)
		}
		st.polish()
		if len(homes) > 0 {
			st.match(homes)
		}
		if c := st.cost(); c < bestC {
			best, bestC = st, c
		}
		if ex {
			return best, true
		}
	}
	return best, false
}

// partitionOnce splits every piece into its parts; exact when every piece
// was searched exhaustively.
func (sr *searcher) partitionOnce(comps [][]int, ks []int) (assign []int, exact bool) {
	assign = make([]int, len(sr.bg.b))
	exact = true
	next := 0
	for c, idx := range comps {
		exact = exact && (ks[c] == 1 || len(idx) <= exactBlocks)
		for _, g := range sr.split(slices.Clone(idx), ks[c]) {
			for _, i := range g {
				assign[i] = next
			}
			next++
		}
	}
	return assign, exact
}

// split divides a connected piece idx into k connected parts.
func (sr *searcher) split(idx []int, k int) [][]int {
	if k <= 1 {
		return [][]int{idx}
	}
	if len(idx) <= exactBlocks {
		if gs := sr.exact(idx, k); gs != nil {
			return gs
		}
	}
	l, r, k1 := sr.bisect(idx, k)
	return append(sr.split(l, k1), sr.split(r, k-k1)...)
}

// exact searches every partition of idx into k connected groups (nil if
// there is none), each group's cost its objective with half its boundary
// as cut (each cut link bounds two groups).
func (sr *searcher) exact(idx []int, k int) [][]int {
	m := len(idx)
	n := 1 << m
	for li, gi := range idx {
		sr.pos[gi] = li
	}
	nbm := make([]int, m)
	shared := make([][]float64, m)
	for li, gi := range idx {
		shared[li] = make([]float64, m)
		for _, l := range sr.bg.adj[gi] {
			if lj := sr.pos[l.J]; lj >= 0 {
				nbm[li] |= 1 << lj
				shared[li][lj] = l.L
			}
		}
	}
	for _, gi := range idx {
		sr.pos[gi] = -1
	}
	w, p, bound := make([]float64, n), make([]float64, n), make([]float64, n)
	conn, one := make([]bool, n), make([]float64, n)
	for mask := 1; mask < n; mask++ {
		l := bits.TrailingZeros(uint(mask))
		rest := mask &^ (1 << l)
		b := sr.bg.b[idx[l]]
		w[mask], p[mask], bound[mask] = w[rest]+b.W, p[rest]+b.P, bound[rest]+sr.bg.linkSum[idx[l]]
		for r := rest & nbm[l]; r != 0; r &= r - 1 {
			bound[mask] -= 2 * shared[l][bits.TrailingZeros(uint(r))]
		}
		conn[mask] = reachable(l, mask, nbm) == mask
		one[mask] = sr.o.group(w[mask], p[mask], 1) + sr.o.cutW*bound[mask]/2
	}
	s := newSubsetSearch(conn, one, n, k)
	if math.IsInf(s.solve(n-1, k), 1) {
		return nil
	}
	return s.groups(idx, n, k)
}

// pieceEdge is a link inside the current piece, between local indices.
type pieceEdge struct {
	a, b int
	l    float64
}

// bisect cuts a connected piece into two connected sides of k1 and k-k1
// parts: on each of spanningTrees random spanning trees the tree edge
// whose sides are best balanced, then of those the one with the lowest
// cost counting the cut.
func (sr *searcher) bisect(idx []int, k int) (left, right []int, k1 int) {
	m := len(idx)
	for li, gi := range idx {
		sr.pos[gi] = li
	}
	var es []pieceEdge
	for li, gi := range idx {
		for _, l := range sr.bg.adj[gi] {
			if lj := sr.pos[l.J]; lj > li {
				es = append(es, pieceEdge{li, lj, l.L})
			}
		}
	}
	for _, gi := range idx {
		sr.pos[gi] = -1
	}
	t := newTreeScratch(m, len(es))
	side := make([]bool, m)
	bestC := math.Inf(1)
	var bestSide []bool
	for range spanningTrees {
		sr.tree(t, es)
		v, kk, c := sr.bestEdge(t, idx, k)
		if v < 0 {
			continue
		}
		for _, u := range t.order {
			side[u] = u == v || (t.parent[u] >= 0 && side[t.parent[u]])
		}
		var cut float64
		for _, e := range es {
			if side[e.a] != side[e.b] {
				cut += e.l
			}
		}
		if c += sr.o.cutW * cut; c < bestC {
			bestC, k1 = c, kk
			bestSide = append(bestSide[:0], side...)
		}
	}
	if bestSide == nil {
		return idx[:1], idx[1:], 1 // no tree spans: cannot happen on a connected piece
	}
	for li, gi := range idx {
		if bestSide[li] {
			left = append(left, gi)
		} else {
			right = append(right, gi)
		}
	}
	return left, right, k1
}

// treeScratch is one spanning tree of a piece: parent per local block
// (-1 at the root) and the blocks in breadth-first order.
type treeScratch struct {
	parent, order []int
	keys          []float64
	perm          []int
	uf            []int
	nbr           [][]int
	sw, sp        []float64
	sc            []int
}

func newTreeScratch(m, e int) *treeScratch {
	return &treeScratch{parent: make([]int, m), order: make([]int, 0, m), keys: make([]float64, e), perm: make([]int, e),
		uf: make([]int, m), nbr: make([][]int, m), sw: make([]float64, m), sp: make([]float64, m), sc: make([]int, m)}
}

// tree draws a random spanning tree: Kruskal on random keys scaled down
// by link length, so long shared edges tend to stay inside a side and the
// cuts fall on short ones.
func (sr *searcher) tree(t *treeScratch, es []pieceEdge) {
	for i, e := range es {
		t.keys[i] = sr.rng.Float64() * sr.meanL / max(e.l, 1e-3*sr.meanL)
		t.perm[i] = i
	}
	slices.SortFunc(t.perm, func(x, y int) int { return cmp.Compare(t.keys[x], t.keys[y]) })
	for i := range t.uf {
		t.uf[i] = i
		t.nbr[i] = t.nbr[i][:0]
	}
	find := func(i int) int {
		for t.uf[i] != i {
			t.uf[i] = t.uf[t.uf[i]]
			i = t.uf[i]
		}
		return i
	}
	for _, x := range t.perm {
		e := es[x]
		if ra, rb := find(e.a), find(e.b); ra != rb {
			t.uf[ra] = rb
			t.nbr[e.a] = append(t.nbr[e.a], e.b)
			t.nbr[e.b] = append(t.nbr[e.b], e.a)
		}
	}
	for i := range t.parent {
		t.parent[i] = -2
	}
	t.parent[0] = -1
	t.order = append(t.order[:0], 0)
	for q := 0; q < len(t.order); q++ {
		u := t.order[q]
		for _, v := range t.nbr[u] {
			if t.parent[v] == -2 {
				t.parent[v] = u
				t.order = append(t.order, v)
			}
		}
	}
}

// bestEdge is the tree edge (by its lower block v) whose sides, of kk and
// k-kk parts, are best balanced, and that cost; v = -1 if none.
func (sr *searcher) bestEdge(t *treeScratch, idx []int, k int) (v, kk int, c float64) {
	m := len(idx)
	for li, gi := range idx {
		t.sw[li], t.sp[li], t.sc[li] = sr.bg.b[gi].W, sr.bg.b[gi].P, 1
	}
	for q := len(t.order) - 1; q > 0; q-- {
		u := t.order[q]
		pu := t.parent[u]
		t.sw[pu] += t.sw[u]
		t.sp[pu] += t.sp[u]
		t.sc[pu] += t.sc[u]
	}
	if len(t.order) < m {
		return -1, 0, 0 // not spanning: cannot happen on a connected piece
	}
	W, P := t.sw[0], t.sp[0]
	unit := W / float64(k)
	v, c = -1, math.Inf(1)
	for _, u := range t.order[1:] {
		// The side's part count: the two around its share of the weight
		// (or of the blocks, when there is no weight), within what both
		// sides' block counts allow.
		guess := t.sc[u] * k / m
		if unit > 0 {
			guess = int(t.sw[u] / unit)
		}
		lo, hi := max(1, k-(m-t.sc[u])), min(k-1, t.sc[u])
		for _, g := range [2]int{guess, guess + 1} {
			g = min(max(g, lo), hi)
			if g < lo {
				continue
			}
			if cc := sr.o.group(t.sw[u], t.sp[u], g) + sr.o.group(W-t.sw[u], P-t.sp[u], k-g); cc < c {
				v, kk, c = u, g, cc
			}
		}
	}
	return v, kk, c
}

// homeStart assigns each block to its home's part (part j: homes[j]):
// each home keeps its largest connected piece, and the other blocks (other
// pieces, no home) join a neighbouring part. clean: nothing had to join;
// nil if some blocks reach no part.
func (sr *searcher) homeStart(homes []int) (assign []int, clean bool) {
	bg := sr.bg
	n := len(bg.b)
	part := make(map[int]int, len(homes))
	for j, h := range homes {
		part[h] = j
	}
	assign = make([]int, n)
	for i := range assign {
		assign[i] = -1
	}
	// The largest piece of each home, by households then blocks.
	seen := make([]bool, n)
	bestW := make([]float64, len(homes))
	bestPiece := make([][]int, len(homes))
	for s := range bg.b {
		h := bg.b[s].Home
		if seen[s] || h < 0 {
			continue
		}
		piece, w := []int{s}, bg.b[s].W
		seen[s] = true
		for q := 0; q < len(piece); q++ {
			for _, l := range bg.adj[piece[q]] {
				if !seen[l.J] && bg.b[l.J].Home == h {
					seen[l.J] = true
					piece = append(piece, l.J)
					w += bg.b[l.J].W
				}
			}
		}
		j := part[h]
		if bestPiece[j] == nil || w > bestW[j] || (w == bestW[j] && len(piece) > len(bestPiece[j])) {
			bestW[j], bestPiece[j] = w, piece
		}
	}
	var queue []int
	for j, piece := range bestPiece {
		for _, i := range piece {
			assign[i] = j
			queue = append(queue, i)
		}
	}
	clean = len(queue) == n
	// Breadth first from the parts, so each joining block touches its part.
	for q := 0; q < len(queue); q++ {
		for _, l := range bg.adj[queue[q]] {
			if assign[l.J] < 0 {
				assign[l.J] = assign[queue[q]]
				queue = append(queue, l.J)
			}
		}
	}
	if len(queue) < n {
		return nil, false
	}
	return assign, clean
}
