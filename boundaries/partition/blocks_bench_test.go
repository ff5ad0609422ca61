package partition

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// communityGraph is a synthetic community of nx × ny blocks about 100 m
// across: a planar grid with jittered link lengths, a diagonal in some
// squares, some links removed (never disconnecting it), households from a
// skewed distribution (a few empty blocks: parks, schools) scaled to total.
func communityGraph(seed uint64, nx, ny int, total float64) *Graph {
	r := rand.New(rand.NewPCG(seed, 3))
	n := nx * ny
	g := &Graph{Blocks: make([]Block, n), Adj: make([][]Link, n)}
	type link struct {
		a, b int
		l    float64
	}
	var links []link
	for j := range ny {
		for i := range nx {
			a := j*nx + i
			if i+1 < nx {
				links = append(links, link{a, a + 1, 40 + 120*r.Float64()})
			}
			if j+1 < ny {
				links = append(links, link{a, a + nx, 40 + 120*r.Float64()})
			}
			if i+1 < nx && j+1 < ny && r.Float64() < 0.2 {
				links = append(links, link{a, a + nx + 1, 20 + 60*r.Float64()})
			}
		}
	}
	// A random spanning tree is kept; other links go with probability 0.15.
	uf := make([]int, n)
	for i := range uf {
		uf[i] = i
	}
	find := func(i int) int {
		for uf[i] != i {
			uf[i] = uf[uf[i]]
			i = uf[i]
		}
		return i
	}
	perim := make([]float64, n)
	for _, x := range r.Perm(len(links)) {
		e := links[x]
		perim[e.a] += e.l
		perim[e.b] += e.l
		ra, rb := find(e.a), find(e.b)
		if ra != rb || r.Float64() >= 0.15 {
			uf[ra] = rb
			g.Adj[e.a] = append(g.Adj[e.a], Link{e.b, e.l})
		}
	}
	var sum float64
	for i := range g.Blocks {
		w := math.Exp(r.NormFloat64())
		if r.Float64() < 0.08 {
			w = 0
		}
		g.Blocks[i] = Block{ID: i + 1, X: 116.3 + 0.001*float64(i%nx), Y: 39.9 + 0.001*float64(i/nx), W: w,
			Area: 8000 + 4000*r.Float64(), Perim: perim[i] + 100, Home: -1}
		sum += w
	}
	for i := range g.Blocks {
		g.Blocks[i].W = math.Round(g.Blocks[i].W * total / sum)
		g.Blocks[i].P = math.Round(2.6 * g.Blocks[i].W)
	}
	return g
}

// streetGraph is a synthetic street: a communityGraph of nx × ny blocks
// whose households get denser towards one corner, and homes communities
// grown breadth first from random blocks, so some are oversized and some
// too small.
func streetGraph(seed uint64, nx, ny, homes int, total float64) *Graph {
	g := communityGraph(seed, nx, ny, total)
	r := rand.New(rand.NewPCG(seed, 5))
	var sum float64
	for i := range g.Blocks {
		x, y := float64(i%nx)/float64(nx), float64(i/nx)/float64(ny)
		g.Blocks[i].W *= 0.4 + 1.2*(x+y)
		sum += g.Blocks[i].W
	}
	for i := range g.Blocks {
		g.Blocks[i].W = math.Round(g.Blocks[i].W * total / sum)
		g.Blocks[i].P = math.Round(2.6 * g.Blocks[i].W)
		g.Blocks[i].Home = -1
	}
	nb := make([][]int, len(g.Blocks))
	for i, ls := range g.Adj {
		for _, l := range ls {
			nb[i] = append(nb[i], l.J)
			nb[l.J] = append(nb[l.J], i)
		}
	}
	var queue []int
	for h := 0; h < homes; {
		if i := r.IntN(len(g.Blocks)); g.Blocks[i].Home < 0 {
			g.Blocks[i].Home = h
			queue = append(queue, i)
			h++
		}
	}
	for q := 0; q < len(queue); q++ {
		for _, j := range nb[queue[q]] {
			if g.Blocks[j].Home < 0 {
				g.Blocks[j].Home = g.Blocks[queue[q]].Home
				queue = append(queue, j)
			}
		}
	}
	return g
}

var beijing = Range{Lo: 500, Hi: 3000, Normal: 2000}

// A 100-block community into 2 to 6 parts stays within range.
func TestBlocks100(t *testing.T) {
	g := communityGraph(1, 10, 10, 5900)
	for k := 2; k <= 6; k++ {
		s := Spec{K: k, Households: beijing, Seed: 1}
		res, err := Blocks(g, s)
		if err != nil {
			t.Errorf("k=%d: %v", k, err)
		}
		checkBlocks(t, g, s, res)
		t.Logf("k=%d: max deviation %.3f, cut %.0f m", k, res.MaxDeviation, res.CutLength)
	}
}

// A street of 1,500 blocks in 40 communities, rebalanced: every community
// within range, few households moved.
func TestRebalance1500(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	g := streetGraph(2, 30, 50, 40, 80000)
	s := Spec{K: 40, Households: beijing, Seed: 1, KeepHomes: true}
	out := map[int]float64{}
	for _, b := range g.Blocks {
		out[b.Home] += b.W
	}
	var bad int
	for _, w := range out {
		if !inRange(beijing, w) {
			bad++
		}
	}
	res, err := Blocks(g, s)
	if err != nil {
		t.Error(err)
	}
	checkBlocks(t, g, s, res)
	t.Logf("%d of 40 communities out of range before; moved %.0f of 80,000 households, max deviation %.3f, cut %.0f m",
		bad, res.Moved, res.MaxDeviation, res.CutLength)
}

func BenchmarkBlocks100(b *testing.B) {
	g := communityGraph(1, 10, 10, 5900)
	for k := 2; k <= 6; k++ {
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			for b.Loop() {
				if _, err := Blocks(g, Spec{K: k, Households: beijing, Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRebalance1500(b *testing.B) {
	g := streetGraph(2, 30, 50, 40, 80000)
	s := Spec{K: 40, Households: beijing, Seed: 1, KeepHomes: true}
	for b.Loop() {
		if _, err := Blocks(g, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlocks1500 is the search without homes on the street: 1,500
// blocks into 40 parts.
func BenchmarkBlocks1500(b *testing.B) {
	g := streetGraph(2, 30, 50, 40, 80000)
	s := Spec{K: 40, Households: beijing, Seed: 1}
	for b.Loop() {
		if _, err := Blocks(g, s); err != nil {
			b.Fatal(err)
		}
	}
}
