package partition

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// blockGrid is an nx × ny grid of dx × dy m blocks (id = index + 1,
// index = j*nx + i), households w(i, j); horizontal neighbours share dy,
// vertical ones dx.
func blockGrid(nx, ny int, dx, dy float64, w func(i, j int) float64) *Graph {
	g := &Graph{}
	for j := 0; j < ny; j++ {
		for i := 0; i < nx; i++ {
			g.Blocks = append(g.Blocks, Block{ID: len(g.Blocks) + 1, X: float64(i), Y: float64(j), W: w(i, j), P: 2 * w(i, j), Area: dx * dy, Perim: 2 * (dx + dy)})
		}
	}
	g.Adj = make([][]Link, len(g.Blocks))
	for j := 0; j < ny; j++ {
		for i := 0; i < nx; i++ {
			a := j*nx + i
			if i+1 < nx {
				g.Adj[a] = append(g.Adj[a], Link{a + 1, dy})
			}
			if j+1 < ny {
				g.Adj[a] = append(g.Adj[a], Link{a + nx, dx})
			}
		}
	}
	return g
}

// checkBlocks fails unless res covers every block once with k connected
// parts whose cut length and range flag are as reported.
func checkBlocks(t *testing.T, g *Graph, s Spec, res *Result) {
	t.Helper()
	if res == nil {
		t.Fatal("no result")
	}
	if len(res.Parts) != s.K {
		t.Fatalf("%d parts, want %d", len(res.Parts), s.K)
	}
	part := make([]int, len(g.Blocks))
	for i := range part {
		part[i] = -1
	}
	in := true
	for a, p := range res.Parts {
		var w, pop float64
		for _, i := range p {
			if part[i] >= 0 {
				t.Fatalf("block %d in parts %d and %d", i, part[i], a)
			}
			part[i] = a
			w += g.Blocks[i].W
			pop += g.Blocks[i].P
		}
		in = in && inRange(s.Households, w) && inRange(s.Population, pop)
		if !blocksConnected(g, p) {
			t.Errorf("part %d %v is not connected", a, p)
		}
	}
	var cut float64
	for i, ls := range g.Adj {
		if part[i] < 0 {
			t.Fatalf("block %d in no part", i)
		}
		for _, l := range ls {
			if part[l.J] != part[i] {
				cut += l.L
			}
		}
	}
	if math.Abs(cut-res.CutLength) > 1e-6*(1+cut) {
		t.Errorf("cut %g m, reported %g", cut, res.CutLength)
	}
	if in != res.InRange {
		t.Errorf("InRange %v, parts say %v", res.InRange, in)
	}
}

// blocksConnected: the blocks of p are one piece (links either way).
func blocksConnected(g *Graph, p []int) bool {
	if len(p) == 0 {
		return false
	}
	in := map[int]bool{}
	for _, i := range p {
		in[i] = true
	}
	nb := make(map[int][]int)
	for i, ls := range g.Adj {
		for _, l := range ls {
			nb[i] = append(nb[i], l.J)
			nb[l.J] = append(nb[l.J], i)
		}
	}
	seen := map[int]bool{p[0]: true}
	stack := []int{p[0]}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, j := range nb[i] {
			if in[j] && !seen[j] {
				seen[j] = true
				stack = append(stack, j)
			}
		}
	}
	return len(seen) == len(p)
}

func hundred(int, int) float64 { return 100 }

func TestBlocksKnown(t *testing.T) {
	for _, c := range []struct {
		name string
		g    *Graph
		s    Spec
		want [][]int
	}{
		// A 2 × 8 ladder of square blocks: across the middle (2 links)
		// beats along it (8).
		{"ladder across", blockGrid(8, 2, 100, 100, hundred), Spec{K: 2, Households: Range{0, 1000, 800}},
			[][]int{{0, 1, 2, 3, 8, 9, 10, 11}, {4, 5, 6, 7, 12, 13, 14, 15}}},
		// Flat blocks, 20 m wide and 200 m deep: the long middle line
		// (8 × 20 m) beats across (2 × 200 m).
		{"ladder along", blockGrid(8, 2, 20, 200, hundred), Spec{K: 2, Households: Range{0, 1000, 800}},
			[][]int{{0, 1, 2, 3, 4, 5, 6, 7}, {8, 9, 10, 11, 12, 13, 14, 15}}},
		// A line, exactly (9 blocks) and by trees (30).
		{"line 9", blockGrid(9, 1, 100, 100, hundred), Spec{K: 3, Households: Range{300, 300, 300}},
			[][]int{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}}},
		{"line 30", blockGrid(30, 1, 100, 100, hundred), Spec{K: 3, Households: Range{1000, 1000, 1000}},
			[][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, {20, 21, 22, 23, 24, 25, 26, 27, 28, 29}}},
		// Uneven line: 500 | 200 300 | 250 250 is the only in-range cut.
		{"line uneven", lineGraph(500, 200, 300, 250, 250), Spec{K: 3, Households: Range{400, 600, 500}},
			[][]int{{0}, {1, 2}, {3, 4}}},
		{"k=1", blockGrid(2, 2, 1, 1, hundred), Spec{K: 1}, [][]int{{0, 1, 2, 3}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Blocks(c.g, c.s)
			if err != nil {
				t.Fatal(err)
			}
			checkBlocks(t, c.g, c.s, res)
			if !slices.EqualFunc(res.Parts, c.want, slices.Equal) {
				t.Errorf("parts %v, want %v", res.Parts, c.want)
			}
		})
	}
}

// lineGraph is a line of blocks with these households, 100 m links.
func lineGraph(ws ...float64) *Graph {
	return blockGrid(len(ws), 1, 100, 100, func(i, _ int) float64 { return ws[i] })
}

// One part: no cut, and its Polsby-Popper from the blocks (a 2 × 2 m
// square: π/4), deviation against Normal.
func TestBlocksOnePart(t *testing.T) {
	res, err := Blocks(blockGrid(2, 2, 1, 1, hundred), Spec{K: 1, Households: Range{0, 1000, 500}})
	if err != nil {
		t.Fatal(err)
	}
	if res.CutLength != 0 || math.Abs(res.PolsbyPopper[0]-math.Pi/4) > 1e-12 || math.Abs(res.MaxDeviation-0.2) > 1e-12 {
		t.Errorf("cut %g, Polsby-Popper %v, deviation %g; want 0, π/4, 0.2", res.CutLength, res.PolsbyPopper, res.MaxDeviation)
	}
}

func TestBlocksInfeasible(t *testing.T) {
	big := blockGrid(4, 4, 100, 100, hundred)
	big.Blocks[5].W, big.Blocks[5].ID = 3200, 17
	// Two pieces: blocks 0–3 and 4–5 (ids 1–4, 5–6).
	split := lineGraph(100, 100, 100, 100, 300, 300)
	split.Adj[3] = nil
	for _, c := range []struct {
		name   string
		g      *Graph
		s      Spec
		reason string
		result bool
	}{
		{"block too big", big, Spec{K: 2, Households: Range{500, 3000, 2000}},
			"block 17 alone has 3,200 households, above the maximum 3,000", true},
		{"total too small", blockGrid(4, 4, 100, 100, hundred), Spec{K: 4, Households: Range{500, 3000, 2000}},
			"1,600 households cannot make 4 parts of at least 500", true},
		{"total too large", blockGrid(4, 4, 100, 100, hundred), Spec{K: 2, Households: Range{0, 700, 600}},
			"1,600 households cannot make 2 parts of at most 700", true},
		{"blocks too coarse", lineGraph(1100, 1000, 1500, 2000), Spec{K: 2, Households: Range{500, 3000, 2000}},
			"5,600 households cannot make 2 parts within 500–3,000: total/k = 2,800 but the blocks only allow parts of 2,100 and 3,500", true},
		{"pieces", split, Spec{K: 1},
			"the blocks form 2 pieces not connected to each other (blocks 1, 2, 3, 4; blocks 5, 6), more than the 1 part asked for", false},
		{"piece too small", split, Spec{K: 2, Households: Range{500, 3000, 2000}},
			"blocks 1, 2, 3, 4, not connected to the other blocks, hold 400 households: too few for 1 part of at least 500", true},
		{"population", blockGrid(4, 4, 100, 100, hundred), Spec{K: 2, Population: Range{0, 1000, 800}},
			"3,200 residents cannot make 2 parts of at most 1,000", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Blocks(c.g, c.s)
			var inf *Infeasible
			if !errors.As(err, &inf) {
				t.Fatalf("error %v, want Infeasible", err)
			}
			if !strings.Contains(inf.Reason, c.reason) {
				t.Errorf("reason %q, want %q", inf.Reason, c.reason)
			}
			if c.result {
				checkBlocks(t, c.g, c.s, res)
			} else if res != nil {
				t.Errorf("result %v, want none", res.Parts)
			}
		})
	}
}

// Two pieces and two parts: one part each; three parts: the heavier piece
// gets two.
func TestBlocksPieces(t *testing.T) {
	g := lineGraph(100, 100, 100, 100, 300, 300)
	g.Adj[3] = nil
	for k, want := range map[int][][]int{2: {{0, 1, 2, 3}, {4, 5}}, 3: {{0, 1, 2, 3}, {4}, {5}}} {
		s := Spec{K: k}
		res, err := Blocks(g, s)
		if err != nil {
			t.Fatal(err)
		}
		checkBlocks(t, g, s, res)
		if !slices.EqualFunc(res.Parts, want, slices.Equal) {
			t.Errorf("k=%d: parts %v, want %v", k, res.Parts, want)
		}
	}
}

func TestBlocksBadInput(t *testing.T) {
	line := func(edit func(g *Graph)) *Graph {
		g := lineGraph(100, 100, 100)
		edit(g)
		return g
	}
	ok := func(*Graph) {}
	for _, c := range []struct {
		g    *Graph
		s    Spec
		want string
	}{
		{nil, Spec{K: 1}, "no blocks"},
		{line(ok), Spec{K: 0}, "K = 0"},
		{line(ok), Spec{K: 4}, "K = 4 parts but only 3 blocks"},
		{line(func(g *Graph) { g.Blocks[1].W = -5 }), Spec{K: 1}, "block 1 (id 2): households -5"},
		{line(func(g *Graph) { g.Blocks[2].Area = math.NaN() }), Spec{K: 1}, "block 2 (id 3): area NaN"},
		{line(func(g *Graph) { g.Adj[0] = append(g.Adj[0], Link{7, 10}) }), Spec{K: 1}, "link to block 7, out of range 0–2"},
		{line(func(g *Graph) { g.Adj[1] = append(g.Adj[1], Link{1, 10}) }), Spec{K: 1}, "link to itself"},
		{line(func(g *Graph) { g.Adj[0][0].L = -1 }), Spec{K: 1}, "is -1 m"},
		{line(func(g *Graph) { g.Adj = g.Adj[:2] }), Spec{K: 1}, "2 adjacency lists for 3 blocks"},
		{line(ok), Spec{K: 1, Households: Range{600, 500, 550}}, "minimum above maximum"},
		{line(ok), Spec{K: 1, Population: Range{-1, 500, 0}}, "population range"},
	} {
		res, err := Blocks(c.g, c.s)
		if err == nil || !strings.Contains(err.Error(), c.want) || res != nil {
			t.Errorf("%+v: %v, %v; want error %q", c.s, res, err, c.want)
		}
		var inf *Infeasible
		if errors.As(err, &inf) {
			t.Errorf("%q is Infeasible, want a plain error", err)
		}
	}
}

// The same seed gives the same parts, run after run.
func TestBlocksDeterministic(t *testing.T) {
	g := communityGraph(3, 10, 10, 5900)
	s := Spec{K: 4, Households: Range{500, 3000, 2000}, Seed: 11}
	a, err := Blocks(g, s)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Blocks(g, s)
	if !slices.EqualFunc(a.Parts, b.Parts, slices.Equal) || a.CutLength != b.CutLength {
		t.Errorf("seed %d: %v then %v", s.Seed, a.Parts, b.Parts)
	}
	checkBlocks(t, g, s, a)
}

// Already in range: the communities stay as they are.
func TestBlocksKeepHomesUnchanged(t *testing.T) {
	g := blockGrid(4, 4, 100, 100, hundred)
	for i := range g.Blocks {
		g.Blocks[i].Home = 7
		if i%4 >= 1 && i/4 >= 1 { // an L and a 3 × 3 square
			g.Blocks[i].Home = 3
		}
	}
	s := Spec{K: 2, Households: Range{500, 1000, 800}, KeepHomes: true}
	res, err := Blocks(g, s)
	if err != nil {
		t.Fatal(err)
	}
	checkBlocks(t, g, s, res)
	want := [][]int{{0, 1, 2, 3, 4, 8, 12}, {5, 6, 7, 9, 10, 11, 13, 14, 15}}
	if !slices.EqualFunc(res.Parts, want, slices.Equal) || res.Moved != 0 || !slices.Equal(res.Homes, []int{7, 3}) {
		t.Errorf("parts %v homes %v moved %g; want %v, homes [7 3], none moved", res.Parts, res.Homes, res.Moved, want)
	}
}

// Home 0 (left) is 150 households over its maximum: the least fix is its
// boundary block of 160, not those of 400 or 200.
func TestBlocksKeepHomesOversized(t *testing.T) {
	// 3 × 3 grid, home 0 the left two columns, home 1 the right column.
	ws := []float64{300, 400, 100, 300, 200, 100, 300, 160, 100}
	g := blockGrid(3, 3, 100, 100, func(i, j int) float64 { return ws[j*3+i] })
	for i := range g.Blocks {
		if i%3 == 2 {
			g.Blocks[i].Home = 1
		}
	}
	s := Spec{K: 2, Households: Range{200, 1510, 1000}, KeepHomes: true}
	res, err := Blocks(g, s)
	if err != nil {
		t.Fatal(err)
	}
	checkBlocks(t, g, s, res)
	if res.Moved != 160 {
		t.Errorf("moved %g households (parts %v), want 160", res.Moved, res.Parts)
	}
}

// Random grids with links removed, into parts grown from random seeds: a
// range around those parts' sizes must be met.
func TestBlocksRandom(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 1))
		nx, ny := 2+r.IntN(10), 2+r.IntN(10)
		g := blockGrid(nx, ny, 100, 100, func(int, int) float64 { return float64(10 + r.IntN(90)) })
		for i := range g.Adj {
			g.Adj[i] = slices.DeleteFunc(g.Adj[i], func(Link) bool { return r.Float64() < 0.15 })
		}
		k := 1 + r.IntN(min(8, len(g.Blocks)))
		bg, err := newBlockGraph(g, Spec{K: k})
		if err != nil {
			t.Fatal(err)
		}
		if len(bg.components()) > k {
			continue
		}
		lo, hi := plantedRange(bg, k, r)
		s := Spec{K: k, Households: Range{0.5 * lo, 1.5 * hi, (lo + hi) / 2}, Seed: int64(seed)}
		res, err := Blocks(g, s)
		if err != nil {
			t.Errorf("seed %d (%d × %d, k=%d, %g–%g): %v", seed, nx, ny, k, s.Households.Lo, s.Households.Hi, err)
		}
		checkBlocks(t, g, s, res)
	}
}

// plantedRange grows k connected parts from random blocks, one in each
// piece first, and returns their smallest and largest households.
func plantedRange(bg *blockGraph, k int, r *rand.Rand) (lo, hi float64) {
	assign := make([]int, len(bg.b))
	for i := range assign {
		assign[i] = -1
	}
	var frontier []int
	seed := func(i, a int) {
		assign[i] = a
		frontier = append(frontier, i)
	}
	comps := bg.components()
	for a, c := range comps {
		seed(c[r.IntN(len(c))], a)
	}
	for a := len(comps); a < k; a++ {
		var free []int
		for i, x := range assign {
			if x < 0 {
				free = append(free, i)
			}
		}
		seed(free[r.IntN(len(free))], a)
	}
	for len(frontier) > 0 {
		x := r.IntN(len(frontier))
		i := frontier[x]
		grown := false
		for _, l := range bg.adj[i] {
			if assign[l.J] < 0 {
				assign[l.J] = assign[i]
				frontier = append(frontier, l.J)
				grown = true
				break
			}
		}
		if !grown {
			frontier = slices.Delete(frontier, x, x+1)
		}
	}
	w := make([]float64, k)
	for i, a := range assign {
		w[a] += bg.b[i].W
	}
	return slices.Min(w), slices.Max(w)
}

// Homes in pieces (a line 0 1 0 1): each keeps its larger piece, the rest
// joins a neighbour, and the parts are connected.
func TestBlocksKeepHomesPieces(t *testing.T) {
	g := lineGraph(100, 100, 150, 100)
	for i := range g.Blocks {
		g.Blocks[i].Home = i % 2
	}
	s := Spec{K: 2, Households: Range{100, 300, 225}, KeepHomes: true}
	res, err := Blocks(g, s)
	if err != nil {
		t.Fatal(err)
	}
	checkBlocks(t, g, s, res)
	if res.Moved != 200 || !slices.Equal(res.Homes, []int{1, 0}) {
		t.Errorf("parts %v homes %v moved %g; want 200 moved", res.Parts, res.Homes, res.Moved)
	}
}
