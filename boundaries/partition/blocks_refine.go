package partition

import (
	"cmp"
	"math"
	"slices"
)

// state is a partition of all blocks into parts 0..K-1 with each part's
// totals, and with KeepHomes the home each part is matched to.
type state struct {
	bg     *blockGraph
	o      *objective
	assign []int     // part per block
	w, p   []float64 // per part
	cnt    []int     // blocks per part
	label  []int     // home per part (-1: none); nil without KeepHomes
	// BFS scratch for connectivity checks.
	mark  []int
	gen   int
	queue []int
}

func newState(bg *blockGraph, o *objective, assign []int, k int) *state {
	st := &state{bg: bg, o: o, assign: assign, w: make([]float64, k), p: make([]float64, k), cnt: make([]int, k), mark: make([]int, len(assign))}
	for i, a := range assign {
		st.w[a] += bg.b[i].W
		st.p[a] += bg.b[i].P
		st.cnt[a]++
	}
	return st
}

// cost is the objective of the whole partition.
func (st *state) cost() float64 {
	var c, cut float64
	for a := range st.w {
		c += st.o.group(st.w[a], st.p[a], 1)
	}
	for i, ls := range st.bg.adj {
		for _, l := range ls {
			if l.J > i && st.assign[l.J] != st.assign[i] {
				cut += l.L
			}
		}
	}
	if st.label != nil {
		c += st.o.moveW * st.moved()
	}
	return c + st.o.cutW*cut
}

func (st *state) inRange() bool {
	for a := range st.w {
		if !st.o.hh.in(st.w[a]) || !st.o.pop.in(st.p[a]) {
			return false
		}
	}
	return true
}

// moved is the households not in the part matched to their home.
func (st *state) moved() float64 {
	var m float64
	for i, b := range st.bg.b {
		if b.Home >= 0 && st.label[st.assign[i]] != b.Home {
			m += b.W
		}
	}
	return m
}

// delta is the change in cost of moving block i into part to, and whether
// i touches to at all.
func (st *state) delta(i, to int) (float64, bool) {
	from := st.assign[i]
	b := st.bg.b[i]
	var toFrom, toTo float64
	touches := false
	for _, l := range st.bg.adj[i] {
		switch st.assign[l.J] {
		case from:
			toFrom += l.L
		case to:
			toTo += l.L
			touches = true
		}
	}
	o := st.o
	d := o.group(st.w[from]-b.W, st.p[from]-b.P, 1) + o.group(st.w[to]+b.W, st.p[to]+b.P, 1) -
		o.group(st.w[from], st.p[from], 1) - o.group(st.w[to], st.p[to], 1)
	d += o.cutW * (toFrom - toTo)
	if st.label != nil && b.Home >= 0 {
		if st.label[from] == b.Home {
			d += o.moveW * b.W
		}
		if st.label[to] == b.Home {
			d -= o.moveW * b.W
		}
	}
	return d, touches
}

// leaves reports whether i's part stays connected without i.
func (st *state) leaves(i int) bool {
	a := st.assign[i]
	st.gen++
	st.mark[i] = st.gen
	st.queue = st.queue[:0]
	for _, l := range st.bg.adj[i] {
		if st.assign[l.J] == a {
			st.mark[l.J] = st.gen
			st.queue = append(st.queue, l.J)
			break
		}
	}
	for q := 0; q < len(st.queue); q++ {
		for _, l := range st.bg.adj[st.queue[q]] {
			if st.assign[l.J] == a && st.mark[l.J] != st.gen {
				st.mark[l.J] = st.gen
				st.queue = append(st.queue, l.J)
			}
		}
	}
	return len(st.queue) == st.cnt[a]-1
}

func (st *state) move(i, to int) {
	from, b := st.assign[i], st.bg.b[i]
	st.w[from] -= b.W
	st.p[from] -= b.P
	st.cnt[from]--
	st.w[to] += b.W
	st.p[to] += b.P
	st.cnt[to]++
	st.assign[i] = to
}

// refine moves boundary blocks to neighbouring parts while that lowers the
// cost and keeps both parts connected: each pass gathers the improving
// moves and applies them best first, each re-checked against the moves
// before it, so the smallest fix of an out-of-range part goes first.
func (st *state) refine(passes int) {
	type cand struct {
		i, to int
		d     float64
	}
	const eps = 1e-12
	var cands []cand
	for range passes {
		cands = cands[:0]
		for i := range st.assign {
			a := st.assign[i]
			if st.cnt[a] == 1 {
				continue
			}
			for x, l := range st.bg.adj[i] {
				to := st.assign[l.J]
				if to == a || slices.ContainsFunc(st.bg.adj[i][:x], func(m Link) bool { return st.assign[m.J] == to }) {
					continue
				}
				if d, _ := st.delta(i, to); d < -eps {
					cands = append(cands, cand{i, to, d})
				}
			}
		}
		slices.SortStableFunc(cands, func(x, y cand) int {
			if x.d != y.d {
				if x.d < y.d {
					return -1
				}
				return 1
			}
			return 0
		})
		moved := false
		for _, c := range cands {
			if st.assign[c.i] == c.to || st.cnt[st.assign[c.i]] == 1 {
				continue
			}
			if d, touches := st.delta(c.i, c.to); d < -eps && touches && st.leaves(c.i) {
				st.move(c.i, c.to)
				moved = true
			}
		}
		if !moved {
			return
		}
	}
}

// match pairs parts with homes to keep the most households (homes: the
// distinct Home values), setting label.
func (st *state) match(homes []int) {
	k := len(st.w)
	n := max(k, len(homes))
	at := make(map[int]int, len(homes))
	for j, h := range homes {
		at[h] = j
	}
	gain := make([][]float64, n)
	for a := range gain {
		gain[a] = make([]float64, n)
	}
	for i, b := range st.bg.b {
		if b.Home >= 0 {
			gain[st.assign[i]][at[b.Home]] += b.W
		}
	}
	col := assignMax(gain)
	st.label = make([]int, k)
	for a := range st.label {
		st.label[a] = -1
		if col[a] < len(homes) {
			st.label[a] = homes[col[a]]
		}
	}
}

// assignMax is the Hungarian method on a square matrix: the column for
// each row maximising the total gain.
func assignMax(gain [][]float64) []int {
	n := len(gain)
	inf := math.Inf(1)
	u, v := make([]float64, n+1), make([]float64, n+1)
	p, way := make([]int, n+1), make([]int, n+1)
	minv, used := make([]float64, n+1), make([]bool, n+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j], used[j] = inf, false
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], inf, 0
			for j := 1; j <= n; j++ {
				if used[j] {
					continue
				}
				if cur := -gain[i0-1][j-1] - u[i0] - v[j]; cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= n; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			if j0 = j1; p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	col := make([]int, n)
	for j := 1; j <= n; j++ {
		col[p[j]-1] = j - 1
	}
	return col
}

// Chains of moves (fixChains): an out-of-range part often cannot give a
// block to (or take one from) a neighbour that is itself at its limit, so
// single moves stop; a chain passes the excess on, part to part, until a
// part with room takes it. Up to chainDepth moves, the chainWidth best
// first moves at each step.
const (
	chainDepth = 4
	chainWidth = 6
	chainTries = 50
)

type blockMove struct{ i, from, to int }

// polish refines, then fixes out-of-range parts by chains of moves and
// refines again, while that lowers the cost.
func (st *state) polish() {
	st.refine(refinePasses)
	used := make([]bool, len(st.w))
	for range chainTries {
		fixed := false
		for x := range st.w {
			if st.partIn(x) {
				continue
			}
			used[x] = true
			if _, seq := st.fix(x, chainDepth, used); seq != nil {
				for _, m := range seq {
					st.move(m.i, m.to)
				}
				fixed = true
			}
			used[x] = false
		}
		if !fixed {
			return
		}
		st.refine(refinePasses)
	}
}

func (st *state) partIn(x int) bool { return st.o.hh.in(st.w[x]) && st.o.pop.in(st.p[x]) }

// fix is the best chain of moves, starting with one that brings part x
// towards range, that lowers the cost (nil if none). The state is left as
// it was.
func (st *state) fix(x, depth int, used []bool) (float64, []blockMove) {
	const eps = 1e-12
	bestD, best := -eps, []blockMove(nil)
	for _, m := range st.fixMoves(x) {
		// The part the move pushes the problem on to.
		next := m.to
		if next == x {
			next = m.from
		}
		if used[next] || st.cnt[m.from] == 1 || !st.leaves(m.i) {
			continue
		}
		d, _ := st.delta(m.i, m.to)
		st.move(m.i, m.to)
		seq := []blockMove{m}
		if depth > 1 && !st.partIn(next) {
			used[next] = true
			if d2, s2 := st.fix(next, depth-1, used); s2 != nil {
				d += d2
				seq = append(seq, s2...)
			}
			used[next] = false
		}
		st.move(m.i, m.from)
		if d < bestD {
			bestD, best = d, seq
		}
	}
	return bestD, best
}

// fixMoves are the chainWidth best single moves (by their own change in
// cost) bringing x towards range: a block of x to a neighbouring part
// when x is over its maximum, else a neighbouring part's block into x.
func (st *state) fixMoves(x int) []blockMove {
	over := (st.o.hh.hi > 0 && st.w[x] > st.o.hh.hi) || (st.o.pop.hi > 0 && st.p[x] > st.o.pop.hi)
	type scored struct {
		m blockMove
		d float64
	}
	var ms []scored
	for i, a := range st.assign {
		for _, l := range st.bg.adj[i] {
			b := st.assign[l.J]
			var m blockMove
			switch {
			case over && a == x && b != x:
				m = blockMove{i, x, b}
			case !over && a != x && b == x:
				m = blockMove{i, a, x}
			default:
				continue
			}
			if slices.ContainsFunc(ms, func(s scored) bool { return s.m == m }) {
				continue
			}
			d, _ := st.delta(m.i, m.to)
			ms = append(ms, scored{m, d})
		}
	}
	slices.SortStableFunc(ms, func(p, q scored) int { return cmp.Compare(p.d, q.d) })
	out := make([]blockMove, 0, chainWidth)
	for _, s := range ms[:min(len(ms), chainWidth)] {
		out = append(out, s.m)
	}
	return out
}
