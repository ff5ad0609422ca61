package demo

import (
	"math"

	"github.com/jiedao/jiedao/geo"
)

// pt is a position in the generator's planar metre frame: x east, y north,
// origin at lattice vertex (0,0). It is projected to lon/lat only on output.
type pt struct{ x, y float64 }

// signedArea is the shoelace area of a closed ring (last point == first);
// positive for counter-clockwise.
func signedArea(r []pt) float64 {
	s := 0.0
	for i := 0; i+1 < len(r); i++ {
		s += r[i].x*r[i+1].y - r[i+1].x*r[i].y
	}
	return s / 2
}

func closeRing(r []pt) []pt {
	if len(r) > 0 && r[0] != r[len(r)-1] {
		r = append(r, r[0])
	}
	return r
}

func cross(o, a, b pt) float64 { return (a.x-o.x)*(b.y-o.y) - (a.y-o.y)*(b.x-o.x) }

func onSegment(p, a, b pt) bool {
	return math.Min(a.x, b.x) <= p.x && p.x <= math.Max(a.x, b.x) &&
		math.Min(a.y, b.y) <= p.y && p.y <= math.Max(a.y, b.y)
}

// segmentsIntersect reports whether closed segments ab and cd share a point.
func segmentsIntersect(a, b, c, d pt) bool {
	d1, d2 := cross(c, d, a), cross(c, d, b)
	d3, d4 := cross(a, b, c), cross(a, b, d)
	if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) {
		return true
	}
	return (d1 == 0 && onSegment(a, c, d)) || (d2 == 0 && onSegment(b, c, d)) ||
		(d3 == 0 && onSegment(c, a, b)) || (d4 == 0 && onSegment(d, a, b))
}

func pointSegDist(p, a, b pt) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, ((p.x-a.x)*dx+(p.y-a.y)*dy)/l2))
	}
	return math.Hypot(p.x-a.x-t*dx, p.y-a.y-t*dy)
}

func segDist(a, b, c, d pt) float64 {
	if segmentsIntersect(a, b, c, d) {
		return 0
	}
	return math.Min(math.Min(pointSegDist(a, c, d), pointSegDist(b, c, d)),
		math.Min(pointSegDist(c, a, b), pointSegDist(d, a, b)))
}

// ringSimple checks a closed ring the way GEOS would for validity: at least
// four points, no repeated consecutive points, and no two segments touching
// other than consecutive ones at their common vertex.
func ringSimple(r []pt) bool {
	n := len(r) - 1 // segments
	if n < 3 || r[0] != r[n] {
		return false
	}
	for i := 0; i < n; i++ {
		if r[i] == r[i+1] {
			return false
		}
	}
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			adjacent := j == i+1 || (i == 0 && j == n-1)
			if !adjacent {
				if segmentsIntersect(r[i], r[i+1], r[j], r[j+1]) {
					return false
				}
				continue
			}
			// Consecutive segments may only share their joint: reject a
			// fold-back onto the previous segment.
			var p, q, o pt // o is the shared vertex
			if j == i+1 {
				o, p, q = r[j], r[i], r[j+1]
			} else {
				o, p, q = r[0], r[1], r[n-1]
			}
			if cross(o, p, q) == 0 && (p.x-o.x)*(q.x-o.x)+(p.y-o.y)*(q.y-o.y) > 0 {
				return false
			}
		}
	}
	return true
}

// inRing is an even-odd ray cast (closing the ring if it is open); points
// exactly on an edge are not interesting here because callers also demand
// a clearance, so there is no edge test.
func inRing(p pt, r []pt) bool {
	var buf [256]float64 // on the stack for rings of up to 127 points; larger ones grow on the heap
	c := buf[:0]
	for _, q := range r {
		c = append(c, q.x, q.y)
	}
	if len(r) > 0 && r[0] != r[len(r)-1] {
		c = append(c, r[0].x, r[0].y)
	}
	in, _ := geo.RingContains(c, 2, 2, p.x, p.y, -1)
	return in
}

// ringDist is the distance from p to the ring's boundary.
func ringDist(p pt, r []pt) float64 {
	d := math.Inf(1)
	for i := 0; i+1 < len(r); i++ {
		d = math.Min(d, pointSegDist(p, r[i], r[i+1]))
	}
	return d
}

func reversed(r []pt) []pt {
	out := make([]pt, len(r))
	for i, p := range r {
		out[len(r)-1-i] = p
	}
	return out
}

// bounds is [minX, minY, maxX, maxY] of the points.
func bounds(r []pt) [4]float64 {
	b := [4]float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for _, p := range r {
		b = [4]float64{math.Min(b[0], p.x), math.Min(b[1], p.y), math.Max(b[2], p.x), math.Max(b[3], p.y)}
	}
	return b
}
