package partition

import (
	"math"
	"testing"

	"github.com/jiedao/jiedao/geo"
)

func always(float64) bool { return true }

// Three points of 1000 in a 300 × 100 m strip and one of 1000 above the
// middle: four parts of one point each, whose regions tile the box they
// are cut from (the vertices they share: geo's TestConvexRegions).
func TestStraightSplit(t *testing.T) {
	st := &Straight{Polygon: geo.Polygon{{{X: 0, Y: 0}, {X: 300, Y: 0}, {X: 300, Y: 200}, {X: 0, Y: 200}}}, Hi: geo.XY{X: 300, Y: 200}}
	for i, p := range []geo.XY{{X: 50, Y: 50}, {X: 150, Y: 50}, {X: 250, Y: 50}, {X: 150, Y: 150}} {
		st.Points = append(st.Points, Point{p, 1000})
		st.IDs = append(st.IDs, i+1)
	}
	parts := st.Split(4, always)
	if len(parts) != 4 {
		t.Fatalf("%d parts", len(parts))
	}
	for _, p := range parts {
		if len(p.IDs) != 1 || p.W != 1000 {
			t.Errorf("part %v: want one point", p.IDs)
		}
	}
	// The regions again, to check they cover the box once.
	ct := &cutter{pts: st.Points, ok: always, total: 4000, unit: 1000}
	pl := ct.plan(st.Polygon, []int{0, 1, 2, 3}, 4)
	rs := geo.ConvexRegions(geo.XY{X: -300, Y: -300}, geo.XY{X: 600, Y: 500}, pl.hs)
	var area float64
	for _, r := range rs {
		a, _ := geo.Polygon{r}.AreaPerimeter()
		area += a
	}
	if math.Abs(area-900*800) > 1e-6 {
		t.Errorf("regions cover %g m², want the box's %d", area, 900*800)
	}
}

// gridCells is an n × m grid of 1 × 1 cells (id = index + 1) with the
// given weights, sharing edges with their four neighbours.
func gridCells(n, m int, w func(i, j int) float64) *Cells {
	u := &Cells{}
	for j := 0; j < m; j++ {
		for i := 0; i < n; i++ {
			u.Cells = append(u.Cells, Cell{ID: len(u.Cells) + 1, X: float64(i) + 0.5, Y: float64(j) + 0.5, W: w(i, j), Area: 1, Perim: 4})
		}
	}
	u.Neighbours = make([][]Edge, len(u.Cells))
	for j := 0; j < m; j++ {
		for i := 0; i < n; i++ {
			a := j*n + i
			if i+1 < n {
				u.Neighbours[a] = append(u.Neighbours[a], Edge{a + 1, 1})
				u.Neighbours[a+1] = append(u.Neighbours[a+1], Edge{a, 1})
			}
			if j+1 < m {
				u.Neighbours[a] = append(u.Neighbours[a], Edge{a + n, 1})
				u.Neighbours[a+n] = append(u.Neighbours[a+n], Edge{a, 1})
			}
		}
	}
	return u
}

func connected(u *Cells, g []int) bool {
	in := map[int]bool{}
	for _, i := range g {
		in[i] = true
	}
	seen := map[int]bool{g[0]: true}
	stack := []int{g[0]}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range u.Neighbours[i] {
			if in[e.J] && !seen[e.J] {
				seen[e.J] = true
				stack = append(stack, e.J)
			}
		}
	}
	return len(seen) == len(g)
}

// Parts of cells are connected and as balanced as the cells allow (to
// within a cell), searched exhaustively (3 × 3) and by sweeps (8 × 8).
func TestPartition(t *testing.T) {
	for _, c := range []struct {
		n, m, k int
		w       func(i, j int) float64
	}{
		// A heavy middle cell: it and three light ones against five.
		{3, 3, 2, func(i, j int) float64 {
			if i == 1 && j == 1 {
				return 2
			}
			return 1
		}},
		{8, 8, 4, func(i, j int) float64 { return 1 }},
		{8, 8, 3, func(i, j int) float64 { return 1 }},
		{8, 8, 5, func(i, j int) float64 { return float64(1 + (i*j)%3) }},
	} {
		u := gridCells(c.n, c.m, c.w)
		var total float64
		for _, x := range u.Cells {
			total += x.W
		}
		gs := partition(u, c.k, always)
		if len(gs) != c.k {
			t.Fatalf("%d×%d into %d: %d parts", c.n, c.m, c.k, len(gs))
		}
		seen := map[int]bool{}
		for _, g := range gs {
			if !connected(u, g) {
				t.Errorf("%d×%d into %d: part %v is not connected", c.n, c.m, c.k, g)
			}
			var w float64
			for _, i := range g {
				w += u.Cells[i].W
				seen[i] = true
			}
			if d := math.Abs(w - total/float64(c.k)); d > 1+1e-9 {
				t.Errorf("%d×%d into %d: a part weighs %g, want %g ± 1", c.n, c.m, c.k, w, total/float64(c.k))
			}
		}
		if len(seen) != len(u.Cells) {
			t.Errorf("%d×%d into %d: %d of %d cells in parts", c.n, c.m, c.k, len(seen), len(u.Cells))
		}
	}
}

// With many points only the gaps around the balance points are tried: a
// bounded number, including the two around each exact balance, and none
// between two points at the same position along the direction.
func TestDenseGaps(t *testing.T) {
	for _, c := range []struct {
		name     string
		m, k     int
		tie      int   // points tie..tie+3 at one position, or -1
		want     []int // gaps that must be tried
		notTried []int
	}{
		{"1000 points in 2", 1000, 2, -1, []int{499, 500}, nil},
		{"1000 points in 5", 1000, 5, -1, []int{399, 400, 599, 600}, nil},
		{"200 points in 3", 200, 3, -1, []int{66, 67, 133, 134}, nil},
		// Points 499–502 at one position (gaps 500–502 separate nothing):
		// the balance gaps move out to 499 and 503.
		{"ties at the balance", 1000, 2, 499, []int{499, 503}, []int{500, 501, 502}},
	} {
		pts := make([]Point, c.m)
		order := make([]int, c.m)
		proj := make([]float64, c.m)
		for i := range pts {
			pts[i] = Point{geo.XY{X: float64(i)}, 1}
			order[i], proj[i] = i, float64(i)
		}
		if c.tie >= 0 {
			for i := c.tie + 1; i <= c.tie+3; i++ {
				proj[i] = proj[c.tie]
			}
		}
		ks := []int{c.k / 2}
		if c.k%2 == 1 {
			ks = append(ks, c.k-c.k/2)
		}
		try := make([]bool, c.m)
		denseGaps(try, order, proj, pts, ks, c.k)
		n := 0
		for _, x := range try {
			if x {
				n++
			}
		}
		if limit := len(ks) * 2 * (2*len(denseAt) - 1); n == 0 || n > limit {
			t.Errorf("%s: %d gaps tried, want 1–%d", c.name, n, limit)
		}
		for _, a := range c.want {
			if !try[a] {
				t.Errorf("%s: gap %d not tried", c.name, a)
			}
		}
		for _, a := range c.notTried {
			if try[a] {
				t.Errorf("%s: gap %d between equal positions tried", c.name, a)
			}
		}
	}
}

// A community with 1,000 address points (more than denseCells) still
// splits into balanced parts.
func TestStraightSplitManyPoints(t *testing.T) {
	for k := 2; k <= 6; k++ {
		st, ok := denseCommunity(uint64(k), 20, 1000, k)
		parts := st.Split(k, ok)
		if len(parts) != k {
			t.Fatalf("k=%d: %d parts", k, len(parts))
		}
		if d, pp := splitQuality(st, parts, ok); d > 0.02 || pp < 0.5 {
			t.Errorf("k=%d: max |deviation| %.3f, mean Polsby-Popper %.3f", k, d, pp)
		}
	}
}
