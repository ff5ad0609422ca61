package geo

import (
	"math"
	"testing"
)

// The frame is affine, inverts exactly enough, and its metres agree with
// geodesic distances to within 1% over a community-sized box (a sphere
// against the ellipsoid: 0.6% north-south at the equator).
func TestFrame(t *testing.T) {
	for _, c := range []struct {
		name             string
		lon0, lat0, size float64 // box corner and side in degrees
	}{
		{"beijing", 116.3, 39.9, 0.02},
		{"guangzhou", 113.2, 23.1, 0.02},
		{"harbin", 126.6, 45.7, 0.05},
		{"equator", 10, -0.01, 0.02},
	} {
		f := NewFrame(c.lon0, c.lat0, c.lon0+c.size, c.lat0+c.size)
		lo, hi := f.XY(c.lon0, c.lat0), f.XY(c.lon0+c.size, c.lat0+c.size)
		if math.Abs(lo.X+hi.X) > 1e-6 || math.Abs(lo.Y+hi.Y) > 1e-6 {
			t.Errorf("%s: box %v–%v not centred on the origin", c.name, lo, hi)
		}
		for _, p := range [][2]float64{{c.lon0, c.lat0}, {c.lon0 + c.size/3, c.lat0 + c.size}, {c.lon0 + c.size, c.lat0 + c.size/7}} {
			lon, lat := f.LonLat(f.XY(p[0], p[1]))
			if math.Abs(lon-p[0]) > 1e-12 || math.Abs(lat-p[1]) > 1e-12 {
				t.Errorf("%s: %v -> (%v, %v)", c.name, p, lon, lat)
			}
		}
		// Along each side and the diagonal.
		for _, e := range [][4]float64{
			{c.lon0, c.lat0, c.lon0 + c.size, c.lat0},
			{c.lon0, c.lat0, c.lon0, c.lat0 + c.size},
			{c.lon0, c.lat0, c.lon0 + c.size, c.lat0 + c.size},
		} {
			a, b := f.XY(e[0], e[1]), f.XY(e[2], e[3])
			got, want := math.Hypot(b.X-a.X, b.Y-a.Y), Distance(e[0], e[1], e[2], e[3])
			if math.Abs(got/want-1) > 0.01 {
				t.Errorf("%s: %v: %.1f m in the frame, %.1f m geodesic", c.name, e, got, want)
			}
		}
		// A line in metres is a line in degrees: the midpoint maps to the
		// midpoint.
		a, b := f.XY(c.lon0, c.lat0), f.XY(c.lon0+c.size, c.lat0+c.size/2)
		lon, lat := f.LonLat(XY{(a.X + b.X) / 2, (a.Y + b.Y) / 2})
		if math.Abs(lon-(c.lon0+c.size/2)) > 1e-12 || math.Abs(lat-(c.lat0+c.size/4)) > 1e-12 {
			t.Errorf("%s: midpoint maps to (%v, %v)", c.name, lon, lat)
		}
	}
}

func TestPolygonWKT(t *testing.T) {
	f := NewFrame(116, 40, 117, 41) // centre (116.5, 40.5)
	for _, c := range []struct {
		ring []XY
		want string
	}{
		{[]XY{{0, 0}, {0, 0}, {0, 0}}, "POLYGON((116.5 40.5,116.5 40.5,116.5 40.5,116.5 40.5))"},
		{[]XY{{0, 0}, {f.kx, 0}, {0, f.ky}}, "POLYGON((116.5 40.5,117.5 40.5,116.5 41.5,116.5 40.5))"},
	} {
		if got := f.PolygonWKT(c.ring); got != c.want {
			t.Errorf("%v: %s, want %s", c.ring, got, c.want)
		}
	}
}

func TestHalfPlane(t *testing.T) {
	h := HalfPlane{1, 0, 2} // x < 2
	for _, c := range []struct {
		p        XY
		in, flip bool
	}{
		{XY{1, 5}, true, false},
		{XY{2, 0}, false, false}, // on the line: in neither
		{XY{3, -1}, false, true},
	} {
		if got := h.Contains(c.p); got != c.in {
			t.Errorf("%v in x < 2: %v", c.p, got)
		}
		if got := h.Flip().Contains(c.p); got != c.flip {
			t.Errorf("%v in x > 2: %v", c.p, got)
		}
	}
}

// square is the axis-aligned square x0–x0+s, y0–y0+s, clockwise when cw.
func square(x0, y0, s float64, cw bool) []XY {
	r := []XY{{x0, y0}, {x0 + s, y0}, {x0 + s, y0 + s}, {x0, y0 + s}}
	if cw {
		r[1], r[3] = r[3], r[1]
	}
	return r
}

// u is a U: arms 0–1 and 2–3 wide, base 0–1 high, 3 high in all.
var u = Polygon{{{0, 0}, {3, 0}, {3, 3}, {2, 3}, {2, 1}, {1, 1}, {1, 3}, {0, 3}}}

func TestAreaPerimeter(t *testing.T) {
	for _, c := range []struct {
		name        string
		pg          Polygon
		area, perim float64
		pp          float64
	}{
		{"square", Polygon{square(0, 0, 2, false)}, 4, 8, math.Pi / 4},
		{"clockwise square", Polygon{square(5, 5, 2, true)}, 4, 8, math.Pi / 4},
		{"square with a hole", Polygon{square(0, 0, 4, false), square(1, 1, 2, true)}, 12, 24, 4 * math.Pi * 12 / 576},
		{"triangle", Polygon{{{0, 0}, {3, 0}, {0, 4}}}, 6, 12, 4 * math.Pi * 6 / 144},
		{"U", u, 7, 16, 4 * math.Pi * 7 / 256},
	} {
		a, p := c.pg.AreaPerimeter()
		if math.Abs(a-c.area) > 1e-9 || math.Abs(p-c.perim) > 1e-9 {
			t.Errorf("%s: area %g perimeter %g, want %g %g", c.name, a, p, c.area, c.perim)
		}
		if pp := PolsbyPopper(a, p); math.Abs(pp-c.pp) > 1e-12 {
			t.Errorf("%s: Polsby-Popper %g, want %g", c.name, pp, c.pp)
		}
	}
	// A 64-gon is nearly a disc; no perimeter, no score.
	var disc []XY
	for i := range 64 {
		th := 2 * math.Pi * float64(i) / 64
		disc = append(disc, XY{math.Cos(th), math.Sin(th)})
	}
	if pp := PolsbyPopper(Polygon{disc}.AreaPerimeter()); pp < 0.99 || pp > 1 {
		t.Errorf("64-gon: Polsby-Popper %g, want just under 1", pp)
	}
	if pp := PolsbyPopper(0, 0); pp != 0 {
		t.Errorf("no perimeter: Polsby-Popper %g, want 0", pp)
	}
}

// A cut is accepted only when its line crosses the polygon once (both
// sides one piece); the sides' areas add up, and MeasureCut agrees with
// the sides Cut builds.
func TestCut(t *testing.T) {
	holed := Polygon{square(0, 0, 4, false), square(1, 1, 2, true)}
	for _, c := range []struct {
		name            string
		pg              Polygon
		h               HalfPlane
		ok              bool
		inArea, outArea float64
		inRings         int
	}{
		{"U across both arms", u, HalfPlane{0, 1, 2}, false, 0, 0, 0},
		{"U across the base", u, HalfPlane{1, 0, 1.5}, true, 3.5, 3.5, 1},
		{"U along the base", u, HalfPlane{0, 1, 0.5}, true, 1.5, 5.5, 1},
		{"U missed", u, HalfPlane{1, 0, -1}, false, 0, 0, 0},
		{"U missed, other side", u, HalfPlane{1, 0, 4}, false, 0, 0, 0},
		{"diagonal of a square", Polygon{square(0, 0, 2, false)}, HalfPlane{1, 1, 2.5}, true, 4 - 1.5*1.5/2, 1.5 * 1.5 / 2, 1},
		{"through the hole", holed, HalfPlane{1, 0, 2}, false, 0, 0, 0},
		{"beside the hole", holed, HalfPlane{1, 0, 0.5}, true, 2, 10, 1},
		{"beside the hole, hole inside", holed, HalfPlane{-1, 0, -0.5}, true, 10, 2, 2},
	} {
		in, out, ok := c.pg.Cut(c.h)
		once, ia, ip, oa, op := c.pg.MeasureCut(c.h)
		if ok != c.ok || once != c.ok {
			t.Errorf("%s: Cut %v MeasureCut %v, want %v", c.name, ok, once, c.ok)
			continue
		}
		if !ok {
			continue
		}
		a, _ := c.pg.AreaPerimeter()
		la, lp := in.AreaPerimeter()
		ha, hp := out.AreaPerimeter()
		if math.Abs(la-c.inArea) > 1e-9 || math.Abs(ha-c.outArea) > 1e-9 || math.Abs(la+ha-a) > 1e-9 {
			t.Errorf("%s: areas %g + %g, want %g + %g = %g", c.name, la, ha, c.inArea, c.outArea, a)
		}
		if len(in) != c.inRings {
			t.Errorf("%s: %d rings inside, want %d", c.name, len(in), c.inRings)
		}
		for _, r := range in {
			for _, p := range r {
				if c.h.Flip().Contains(p) && c.h.A*p.X+c.h.B*p.Y-c.h.C > 1e-9 {
					t.Errorf("%s: %v inside is beyond the line", c.name, p)
				}
			}
		}
		if math.Abs(ia-la) > 1e-9 || math.Abs(oa-ha) > 1e-9 || math.Abs(ip-lp) > 1e-9 || math.Abs(op-hp) > 1e-9 {
			t.Errorf("%s: MeasureCut %g %g %g %g, Cut %g %g %g %g", c.name, ia, ip, oa, op, la, lp, ha, hp)
		}
	}
}

// Regions tile the box, are each the box cut by their half-planes, and a
// corner of one lying on another's edge is a vertex of both.
func TestConvexRegions(t *testing.T) {
	x100, y100, x150, y150 := HalfPlane{1, 0, 100}, HalfPlane{0, 1, 100}, HalfPlane{1, 0, 150}, HalfPlane{0, 1, 150}
	d, s := HalfPlane{1, 1, 200}, HalfPlane{1, -2, 0} // slanted
	for _, c := range []struct {
		name string
		sets [][]HalfPlane
	}{
		{"one region", [][]HalfPlane{nil}},
		{"two halves", [][]HalfPlane{{x100}, {x100.Flip()}}},
		// A T: below y = 100 cut at x = 150; the top's bottom edge passes
		// the corner where the three meet.
		{"T", [][]HalfPlane{{y100, x150}, {y100, x150.Flip()}, {y100.Flip()}}},
		// Three strips and a quarter: corners on edges on both sides.
		{"strips", [][]HalfPlane{{y150, x100}, {y150, x100.Flip(), x150}, {y150, x150.Flip()}, {y150.Flip()}}},
		{"slanted", [][]HalfPlane{{d}, {d.Flip(), s}, {d.Flip(), s.Flip()}}},
	} {
		lo, hi := XY{-300, -300}, XY{600, 500}
		rs := ConvexRegions(lo, hi, c.sets)
		if len(rs) != len(c.sets) {
			t.Fatalf("%s: %d regions", c.name, len(rs))
		}
		var area float64
		for i, r := range rs {
			a, _ := Polygon{r}.AreaPerimeter()
			area += a
			for _, p := range r {
				for _, h := range c.sets[i] {
					if d := h.A*p.X + h.B*p.Y - h.C; d > 1e-9 {
						t.Errorf("%s: region %d: %v is outside its half-plane %v", c.name, i, p, h)
					}
				}
			}
			for j, r2 := range rs {
				if i == j {
					continue
				}
				for _, v := range r2 {
					if onBoundary(r, v) && !hasVertex(r, v) {
						t.Errorf("%s: region %d: %v of region %d lies on an edge but is not a vertex", c.name, i, v, j)
					}
				}
			}
		}
		if want := (hi.X - lo.X) * (hi.Y - lo.Y); math.Abs(area-want) > 1e-6 {
			t.Errorf("%s: regions cover %g, want the box's %g", c.name, area, want)
		}
	}
}

func onBoundary(r []XY, v XY) bool {
	for j := range r {
		p, q := r[j], r[(j+1)%len(r)]
		if math.Abs((q.X-p.X)*(v.Y-p.Y)-(q.Y-p.Y)*(v.X-p.X)) < 1e-6 &&
			v.X >= min(p.X, q.X)-1e-9 && v.X <= max(p.X, q.X)+1e-9 && v.Y >= min(p.Y, q.Y)-1e-9 && v.Y <= max(p.Y, q.Y)+1e-9 {
			return true
		}
	}
	return false
}

func hasVertex(r []XY, v XY) bool {
	for _, p := range r {
		if p == v {
			return true
		}
	}
	return false
}
