package geo

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// Planar geometry in a local metric frame. Cutting a polygon by straight
// lines and comparing the pieces' shapes needs lines to stay lines and
// lengths to be in metres; over the size of a community (a few km) an
// affine map of longitude and latitude to metres does both, with far less
// work than a projection. Everything here is plain arithmetic on XY; the
// Frame is the only link to longitude and latitude.

// XY is a point in a local metric frame (metres east and north of the
// frame's origin).
type XY struct{ X, Y float64 }

// Frame maps longitude/latitude to local metres around a centre and back.
// It is affine (a scale per axis, taken at the centre's latitude), so a
// straight line in metres is a straight line in degrees: a cut computed in
// metres can be handed back as longitude/latitude unchanged in shape.
type Frame struct{ lon0, lat0, kx, ky float64 }

// NewFrame is the frame centred on a bounding box in longitude/latitude,
// on a sphere of the Earth's mean radius: scale errors within a community
// are far below what a cut's position depends on.
func NewFrame(minLon, minLat, maxLon, maxLat float64) Frame {
	lat0 := (minLat + maxLat) / 2
	const m = 6371008.8 * math.Pi / 180 // metres per degree of a great circle
	return Frame{(minLon + maxLon) / 2, lat0, m * math.Cos(lat0*math.Pi/180), m}
}

// XY is the point at lon, lat in the frame.
func (f Frame) XY(lon, lat float64) XY { return XY{(lon - f.lon0) * f.kx, (lat - f.lat0) * f.ky} }

// LonLat is the longitude/latitude of p, the inverse of XY.
func (f Frame) LonLat(p XY) (lon, lat float64) { return f.lon0 + p.X/f.kx, f.lat0 + p.Y/f.ky }

// PolygonWKT writes a ring in the frame as a WKT polygon in
// longitude/latitude (closed, shortest exact decimals), for PostGIS to
// intersect with the real geometry.
func (f Frame) PolygonWKT(r []XY) string {
	var b strings.Builder
	b.WriteString("POLYGON((")
	for i := 0; i <= len(r); i++ {
		lon, lat := f.LonLat(r[i%len(r)])
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(strconv.FormatFloat(lon, 'g', -1, 64) + " " + strconv.FormatFloat(lat, 'g', -1, 64))
	}
	b.WriteString("))")
	return b.String()
}

// HalfPlane is the open half-plane {p : A·p.X + B·p.Y < C}; its boundary
// line A·x + B·y = C is a cut, and a part bounded by cuts is the
// intersection of half-planes.
type HalfPlane struct{ A, B, C float64 }

// Contains reports whether p is strictly inside h; a point on the line is
// not (Cut puts it on the outside).
func (h HalfPlane) Contains(p XY) bool { return h.A*p.X+h.B*p.Y < h.C }

// Flip is the open half-plane on the other side of h's line: the two
// bound the regions on either side of a cut.
func (h HalfPlane) Flip() HalfPlane { return HalfPlane{-h.A, -h.B, -h.C} }

// Polygon is a planar polygon: the outer ring then its holes, each ring
// without the closing vertex, in any orientation.
type Polygon [][]XY

// AreaPerimeter is the polygon's area (the outer ring less its holes) and
// perimeter (all rings), the two numbers a compactness score needs.
func (pg Polygon) AreaPerimeter() (area, perim float64) {
	for i, r := range pg {
		var a float64
		for j := range r {
			p, q := r[j], r[(j+1)%len(r)]
			a += p.X*q.Y - q.X*p.Y
			perim += math.Hypot(q.X-p.X, q.Y-p.Y)
		}
		if i == 0 {
			area += math.Abs(a) / 2
		} else {
			area -= math.Abs(a) / 2
		}
	}
	return area, perim
}

// PolsbyPopper is 4πA/P², the compactness of a shape of that area and
// perimeter (1 for a disc, towards 0 for long or ragged shapes); 0 when
// the perimeter is not positive. Areas and perimeters may be planar or
// geodesic, as long as both are in the same units.
func PolsbyPopper(area, perim float64) float64 {
	if perim <= 0 {
		return 0
	}
	return 4 * math.Pi * area / (perim * perim)
}

// Cut splits pg by h's line into the part inside h and the rest, or
// reports false when the line crosses pg's rings other than exactly twice:
// not at all, or more than once through the polygon (a side would be in
// several pieces, or a hole would be cut open). So ok means both sides are
// one piece each.
func (pg Polygon) Cut(h HalfPlane) (in, out Polygon, ok bool) {
	crossings := 0
	for _, r := range pg {
		for j := range r {
			p, q := r[j], r[(j+1)%len(r)]
			if h.Contains(p) != h.Contains(q) {
				crossings++
			}
		}
	}
	if crossings != 2 {
		return nil, nil, false
	}
	for _, r := range pg {
		l, o := clipRing(r, h)
		if len(l) >= 3 {
			in = append(in, l)
		}
		if len(o) >= 3 {
			out = append(out, o)
		}
	}
	// The outer ring is crossed (a hole crossed too would make more than
	// two crossings), so both sides have it first.
	return in, out, len(in) > 0 && len(out) > 0
}

// MeasureCut is Cut without building the sides, for trying many cuts:
// whether h's line crosses pg's rings exactly twice, and each side's area
// and perimeter (meaningful when once is true).
func (pg Polygon) MeasureCut(h HalfPlane) (once bool, inArea, inPerim, outArea, outPerim float64) {
	type acc struct {
		first, last XY
		n           int
		a2, per     float64
	}
	push := func(s *acc, p XY) {
		if s.n == 0 {
			s.first = p
		} else {
			s.a2 += s.last.X*p.Y - p.X*s.last.Y
			s.per += math.Hypot(p.X-s.last.X, p.Y-s.last.Y)
		}
		s.last = p
		s.n++
	}
	done := func(s *acc) (float64, float64) {
		if s.n < 3 {
			return 0, 0
		}
		push(s, s.first)
		return math.Abs(s.a2) / 2, s.per
	}
	nx, ny, c := h.A, h.B, h.C
	crossings := 0
	for i, r := range pg {
		var lo, hi acc
		for j := range r {
			p, q := r[j], r[(j+1)%len(r)]
			sp, sq := nx*p.X+ny*p.Y-c, nx*q.X+ny*q.Y-c
			if sp < 0 {
				push(&lo, p)
			} else {
				push(&hi, p)
			}
			if (sp < 0) != (sq < 0) {
				crossings++
				t := sp / (sp - sq)
				x := XY{p.X + t*(q.X-p.X), p.Y + t*(q.Y-p.Y)}
				push(&lo, x)
				push(&hi, x)
			}
		}
		a1, p1 := done(&lo)
		a2, p2 := done(&hi)
		if i > 0 {
			a1, a2 = -a1, -a2
		}
		inArea, inPerim, outArea, outPerim = inArea+a1, inPerim+p1, outArea+a2, outPerim+p2
	}
	return crossings == 2, inArea, inPerim, outArea, outPerim
}

// clipRing is Sutherland-Hodgman for a half-plane, both sides at once; a
// crossing point is computed once for both, so the sides share it exactly.
func clipRing(r []XY, h HalfPlane) (in, out []XY) {
	nx, ny, c := h.A, h.B, h.C
	for j := range r {
		p, q := r[j], r[(j+1)%len(r)]
		sp, sq := nx*p.X+ny*p.Y-c, nx*q.X+ny*q.Y-c
		if sp < 0 {
			in = append(in, p)
		} else {
			out = append(out, p)
		}
		if (sp < 0) != (sq < 0) {
			t := sp / (sp - sq)
			x := XY{p.X + t*(q.X-p.X), p.Y + t*(q.Y-p.Y)}
			in, out = append(in, x), append(out, x)
		}
	}
	return in, out
}

// ConvexRegions are the convex polygons of the box lo–hi cut by each set
// of half-planes (one region per set). A corner of one region lying on
// another's edge (within a micrometre) is added to that edge as a vertex,
// so neighbouring regions share their vertices: after rounding (e.g. to 7
// decimals of a degree) they still meet without slivers or overlaps.
func ConvexRegions(lo, hi XY, sets [][]HalfPlane) [][]XY {
	rs := make([][]XY, len(sets))
	for i := range sets {
		r := []XY{{lo.X, lo.Y}, {hi.X, lo.Y}, {hi.X, hi.Y}, {lo.X, hi.Y}}
		for _, h := range sets[i] {
			r, _ = clipRing(r, h)
		}
		rs[i] = r
	}
	const eps = 1e-6 // metres
	out := make([][]XY, len(rs))
	for i, r := range rs {
		for j := range r {
			p, q := r[j], r[(j+1)%len(r)]
			out[i] = append(out[i], p)
			dx, dy := q.X-p.X, q.Y-p.Y
			l2 := dx*dx + dy*dy
			if l2 == 0 {
				continue
			}
			type on struct {
				t float64
				v XY
			}
			var ins []on
			for o, r2 := range rs {
				if o == i {
					continue
				}
				for _, v := range r2 {
					t := ((v.X-p.X)*dx + (v.Y-p.Y)*dy) / l2
					if t*t*l2 <= eps*eps || (1-t)*(1-t)*l2 <= eps*eps || t < 0 || t > 1 {
						continue
					}
					if d := math.Abs((v.X-p.X)*dy-(v.Y-p.Y)*dx) / math.Sqrt(l2); d <= eps {
						ins = append(ins, on{t, v})
					}
				}
			}
			sort.Slice(ins, func(a, b int) bool { return ins[a].t < ins[b].t })
			for k, x := range ins {
				if k == 0 || x.t != ins[k-1].t {
					out[i] = append(out[i], x.v)
				}
			}
		}
	}
	return out
}
