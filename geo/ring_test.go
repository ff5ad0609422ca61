package geo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// flat is a ring's vertices as flat x, y coordinates.
func flat(r ...XY) []float64 {
	var c []float64
	for _, p := range r {
		c = append(c, p.X, p.Y)
	}
	return c
}

// segments is the closed rings' segments as ax, ay, bx, by.
func segments(rings ...[]XY) []float64 {
	var c []float64
	for _, r := range rings {
		for i := 0; i+1 < len(r); i++ {
			c = append(c, r[i].X, r[i].Y, r[i+1].X, r[i+1].Y)
		}
	}
	return c
}

func TestRingContains(t *testing.T) {
	square := []XY{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}}
	hole := []XY{{2, 2}, {8, 2}, {8, 8}, {2, 8}, {2, 2}}
	// The square again with a z after x, y.
	var squareZ []float64
	for _, p := range square {
		squareZ = append(squareZ, p.X, p.Y, 99)
	}
	// A ray through (2, 5) or (-1, 5) passes the vertex (10, 5), or both
	// (0, 5) and (10, 5).
	diamond := flat(XY{5, 0}, XY{10, 5}, XY{5, 10}, XY{0, 5}, XY{5, 0})
	triangle := flat(XY{0, 0}, XY{3, 0}, XY{0, 3}, XY{0, 0})
	const eps = 1e-9
	for _, c := range []struct {
		name         string
		c            []float64
		stride, step int
		x, y, tol    float64
		in, on       bool
	}{
		{"inside", flat(square...), 2, 2, 5, 5, eps, true, false},
		{"outside", flat(square...), 2, 2, 15, 5, eps, false, false},
		{"outside, level with an edge", flat(square...), 2, 2, 15, 10, eps, false, false},
		{"on an edge", flat(square...), 2, 2, 10, 5, eps, true, true},
		{"on a vertex", flat(square...), 2, 2, 0, 0, eps, true, true},
		{"within tol outside", flat(square...), 2, 2, 10 + eps/2, 5, eps, true, true},
		{"within tol of a vertex", flat(square...), 2, 2, -eps / 2, -eps / 2, eps, true, true},
		{"beyond tol outside", flat(square...), 2, 2, 10 + 2*eps, 5, eps, false, false},
		{"beyond tol inside", flat(square...), 2, 2, 10 - 2*eps, 5, eps, true, false},
		{"exact: on an edge", flat(square...), 2, 2, 10, 5, 0, true, true},
		{"exact: on a vertex", flat(square...), 2, 2, 10, 10, 0, true, true},
		{"exact: just outside", flat(square...), 2, 2, 10 + eps/2, 5, 0, false, false},
		{"exact: just inside", flat(square...), 2, 2, 10 - eps/2, 5, 0, true, false},
		{"exact: on the line beyond the segment", flat(square...), 2, 2, 10, 12, 0, false, false},
		{"no edge test: inside", flat(square...), 2, 2, 5, 5, -1, true, false},
		{"no edge test: within tol", flat(square...), 2, 2, 10 + eps/2, 5, -1, false, false},
		// A ray cast alone: the left edge is in, the right one out.
		{"no edge test: on the left edge", flat(square...), 2, 2, 0, 5, -1, true, false},
		{"no edge test: on the right edge", flat(square...), 2, 2, 10, 5, -1, false, false},
		{"stride 3: inside", squareZ, 3, 3, 5, 5, eps, true, false},
		{"stride 3: outside", squareZ, 3, 3, 5, 11, eps, false, false},
		{"stride 3: on an edge", squareZ, 3, 3, 10, 5, 0, true, true},
		{"segments: inside", segments(square, hole), 2, 4, 1, 1, eps, true, false},
		{"segments: in the hole", segments(square, hole), 2, 4, 5, 5, eps, false, false},
		{"segments: between hole and outer", segments(square, hole), 2, 4, 9, 5, eps, true, false},
		{"segments: on the hole", segments(square, hole), 2, 4, 8, 5, eps, true, true},
		{"segments: outside", segments(square, hole), 2, 4, -1, 5, eps, false, false},
		{"segments: one of zero length, near", []float64{4, 4, 4, 4}, 2, 4, 4.3, 4, 0.5, true, true},
		{"segments: one of zero length, far", []float64{4, 4, 4, 4}, 2, 4, 4.6, 4, 0.5, false, false},
		{"segments: one of zero length, exact", []float64{4, 4, 4, 4}, 2, 4, 4, 4, 0, true, true},
		{"ray through a vertex: inside", diamond, 2, 2, 2, 5, eps, true, false},
		{"ray through a vertex: outside", diamond, 2, 2, 12, 5, eps, false, false},
		{"ray through two vertices: outside", diamond, 2, 2, -1, 5, eps, false, false},
		{"slanted edge: exact", triangle, 2, 2, 1, 2, 0, true, true},
		{"slanted edge: exact, midpoint", triangle, 2, 2, 1.5, 1.5, 0, true, true},
		{"slanted edge: within tol", triangle, 2, 2, 1.5 + eps/2, 1.5, eps, true, true},
		{"slanted edge: just outside", triangle, 2, 2, 1.5 + 1e-6, 1.5, eps, false, false},
		{"empty", nil, 2, 2, 0, 0, eps, false, false},
		{"one vertex", []float64{0, 0}, 2, 2, 0, 0, eps, false, false},
	} {
		in, on := RingContains(c.c, c.stride, c.step, c.x, c.y, c.tol)
		if in != c.in || on != c.on {
			t.Errorf("%s: (%g, %g) gives inside %v, on edge %v; want %v, %v", c.name, c.x, c.y, in, on, c.in, c.on)
		}
	}
}

func TestRingContainsBadLayout(t *testing.T) {
	for _, c := range [][2]int{{1, 2}, {2, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("stride %d, step %d: no panic", c[0], c[1])
				}
			}()
			RingContains([]float64{0, 0, 1, 1}, c[0], c[1], 0, 0, 0)
		}()
	}
}

func TestRingContainsAllocs(t *testing.T) {
	c := segments([]XY{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}})
	if n := testing.AllocsPerRun(100, func() { RingContains(c, 2, 4, 10, 5, 1e-9) }); n != 0 {
		t.Errorf("%g allocations", n)
	}
}

// The three tests RingContains replaces, as they were: the lookup index's
// covers (segments ax, ay, bx, by; on edge within eps), the Shapefile
// reader's pointInRing (a closed ring with a stride; exactly on the
// boundary) and the demo generator's inRing (a ring of points; no edge
// test).

func refCovers(segs []float64, px, py, eps float64) (covered, onEdge bool) {
	inside := false
	for i := 0; i+3 < len(segs); i += 4 {
		ax, ay, bx, by := segs[i], segs[i+1], segs[i+2], segs[i+3]
		if (ay > py) != (by > py) {
			if px < ax+(py-ay)*(bx-ax)/(by-ay) {
				inside = !inside
			}
		}
		if py < math.Min(ay, by)-eps || py > math.Max(ay, by)+eps ||
			px < math.Min(ax, bx)-eps || px > math.Max(ax, bx)+eps {
			continue
		}
		dx, dy := bx-ax, by-ay
		l2 := dx*dx + dy*dy
		var d2 float64
		if l2 == 0 {
			d2 = (px-ax)*(px-ax) + (py-ay)*(py-ay)
		} else {
			t := math.Max(0, math.Min(1, ((px-ax)*dx+(py-ay)*dy)/l2))
			qx, qy := ax+t*dx-px, ay+t*dy-py
			d2 = qx*qx + qy*qy
		}
		if d2 <= eps*eps {
			return true, true
		}
	}
	return inside, false
}

func refPointInRing(px, py float64, c []float64, stride int) int {
	inside := false
	n := len(c) / stride
	for i := 1; i < n; i++ {
		x1, y1 := c[(i-1)*stride], c[(i-1)*stride+1]
		x2, y2 := c[i*stride], c[i*stride+1]
		if (px-x1)*(y2-y1) == (py-y1)*(x2-x1) &&
			px >= min(x1, x2) && px <= max(x1, x2) && py >= min(y1, y2) && py <= max(y1, y2) {
			return 0
		}
		if (y1 > py) != (y2 > py) && px < x1+(py-y1)*(x2-x1)/(y2-y1) {
			inside = !inside
		}
	}
	if inside {
		return 1
	}
	return -1
}

func refInRing(p XY, r []XY) bool {
	in := false
	for i, j := 0, len(r)-1; i < len(r); j, i = i, i+1 {
		a, b := r[i], r[j]
		if (a.Y > p.Y) != (b.Y > p.Y) && p.X < (b.X-a.X)*(p.Y-a.Y)/(b.Y-a.Y)+a.X {
			in = !in
		}
	}
	return in
}

// Random star-shaped rings (in degrees, as the lookup sees them) and
// points: anywhere in the box, on vertices, on and just off edges. The
// lookup's and the Shapefile reader's answers are the same bit for bit;
// the demo's too but within rounding of an edge, where it computed the
// crossing from the other end (its callers keep points clear of edges).
func TestRingContainsAsBefore(t *testing.T) {
	const eps = 1e-9
	r := rand.New(rand.NewPCG(1, 2))
	var nearDemo int
	for ring := range 200 {
		n := 3 + r.IntN(60)
		cx, cy := 116+r.Float64(), 39+r.Float64()
		pts := make([]XY, n+1)
		for i := range n {
			th := 2 * math.Pi * (float64(i) + 0.8*r.Float64()) / float64(n)
			rad := 0.01 * (0.2 + r.Float64())
			pts[i] = XY{cx + rad*math.Cos(th), cy + rad*math.Sin(th)}
			if ring%4 == 0 {
				// Snap to a grid: axis-parallel edges, shared heights.
				pts[i] = XY{math.Round(pts[i].X*1e3) / 1e3, math.Round(pts[i].Y*1e3) / 1e3}
			}
		}
		pts[n] = pts[0]
		c, segs := flat(pts...), segments(pts)
		var probes []XY
		for range 300 {
			probes = append(probes, XY{cx + 0.025*(2*r.Float64()-1), cy + 0.025*(2*r.Float64()-1)})
		}
		for i := range n {
			a, b := pts[i], pts[i+1]
			f := r.Float64()
			m := XY{a.X + f*(b.X-a.X), a.Y + f*(b.Y-a.Y)}
			probes = append(probes, a, m, XY{a.X, m.Y}, XY{m.X, a.Y})
			for _, d := range []float64{0.5, 1, 2, 1000} {
				probes = append(probes, XY{m.X + d*eps, m.Y}, XY{m.X, m.Y - d*eps}, XY{a.X - d*eps, a.Y + d*eps})
			}
		}
		for _, p := range probes {
			in, on := RingContains(segs, 2, 4, p.X, p.Y, eps)
			if win, won := refCovers(segs, p.X, p.Y, eps); in != win || on != won {
				t.Fatalf("ring %d, (%v, %v), as the lookup: %v, %v; want %v, %v", ring, p.X, p.Y, in, on, win, won)
			}
			in, on = RingContains(c, 2, 2, p.X, p.Y, 0)
			got := -1
			if on {
				got = 0
			} else if in {
				got = 1
			}
			if want := refPointInRing(p.X, p.Y, c, 2); got != want {
				t.Fatalf("ring %d, (%v, %v), as the Shapefile reader: %d; want %d", ring, p.X, p.Y, got, want)
			}
			in, _ = RingContains(c, 2, 2, p.X, p.Y, -1)
			if in != refInRing(p, pts) {
				if _, near := RingContains(c, 2, 2, p.X, p.Y, 1e-12); !near {
					t.Fatalf("ring %d, (%v, %v), as the demo: %v; want %v", ring, p.X, p.Y, in, !in)
				}
				nearDemo++
			}
		}
	}
	t.Logf("%d points within rounding of an edge answered otherwise than the demo's test did", nearDemo)
}

// A strip of the lookup index holds about 8 segments; a district's whole
// boundary thousands.
func BenchmarkRingContains(b *testing.B) {
	for _, n := range []int{8, 1000} {
		pts := make([]XY, n+1)
		for i := range n {
			th := 2 * math.Pi * float64(i) / float64(n)
			pts[i] = XY{math.Cos(th), math.Sin(th)}
		}
		pts[n] = pts[0]
		segs := segments(pts)
		b.Run(fmt.Sprintf("segments=%d", n), func(b *testing.B) {
			for b.Loop() {
				RingContains(segs, 2, 4, 0.3, 0.2, 1e-9)
			}
		})
	}
}
