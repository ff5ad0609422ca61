package lookup

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/paulmach/orb"
	"github.com/tidwall/geodesic"

	"github.com/jiedao/jiedao/boundaries"
)

// Claim is a unit of one level that covers a point or lies within the
// asked distance of it.
type Claim struct {
	Code       string
	Name       string
	Covers     bool    // ST_Covers: the point is in it, boundary included
	OnBoundary bool    // within OnBoundaryTolerance of its boundary
	DistanceM  float64 // geodesic metres from the point (0 when it covers it)
}

// Near is one point's Result with the claims of the levels asked for.
type Near struct {
	Result
	// Claims[k] lists, for the k-th level asked, the covering units by
	// code, then the others within the distance, nearest first; nil when
	// no unit of that level is loaded (grids are optional).
	Claims [][]Claim
}

// LookupNear is Lookup plus, for every point and each of levels, the
// units that cover it or lie within radiusM metres of it. Distances are geodesic on
// WGS84 and measured the way PostGIS measures geography (ST_DWithin with
// the spheroid): the closest point of each boundary edge, taken as a
// great-circle arc, then the ellipsoidal distance to it. It also returns
// the units version of the index, for callers that record what decided.
func (l *Locator) LookupNear(ctx context.Context, run int64, at time.Time, radiusM float64, pts []Point,
	levels ...boundaries.Level) ([]Near, int64, error) {
	idx, err := l.index(ctx, run, at)
	if err != nil {
		return nil, 0, err
	}
	gs := make([]*gridIndex, len(levels))
	for k, lv := range levels {
		gs[k] = &idx.levels[levelSlot(lv)]
	}
	out := make([]Near, len(pts))
	each := func(i int) {
		n := Near{Result: idx.locate(pts[i]), Claims: make([][]Claim, len(gs))}
		for k, g := range gs {
			n.Claims[k] = g.claims(orb.Point{pts[i].Lon, pts[i].Lat}, radiusM)
		}
		out[i] = n
	}
	err = inChunks(ctx, len(pts), 1024, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			each(i)
		}
	})
	if err != nil {
		return nil, 0, err
	}
	return out, idx.unitsVersion, nil
}

// claims lists the items covering p and those within r metres of it (nil
// only when the index is empty).
func (g *gridIndex) claims(p orb.Point, r float64) []Claim {
	if len(g.items) == 0 {
		return nil
	}
	out := []Claim{}
	// A box surely holding every point within r: a degree of latitude is
	// at least 110.5 km, a degree of longitude at least cos(lat) of that.
	r = math.Max(r, 0)
	dLat := r/110_000 + OnBoundaryTolerance
	dLon := r/(110_000*math.Max(math.Cos((math.Abs(p[1])+dLat)*math.Pi/180), 1e-6)) + OnBoundaryTolerance
	box := orb.Bound{Min: orb.Point{p[0] - dLon, p[1] - dLat}, Max: orb.Point{p[0] + dLon, p[1] + dLat}}
	if !g.bound.Intersects(box) {
		return out
	}
	x0, y0 := g.cell(box.Min)
	x1, y1 := g.cell(box.Max)
	var seen []int32
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			seen = append(seen, g.cells[y*g.nx+x]...)
		}
	}
	slices.Sort(seen)
	seen = slices.Compact(seen)
	for _, i := range seen {
		it := &g.items[i]
		if !it.bound.Intersects(box) {
			continue
		}
		if it.bound.Contains(p) {
			if in, edge := it.covers(p); in {
				out = append(out, Claim{Code: it.code, Name: it.name, Covers: true, OnBoundary: edge})
				continue
			}
		}
		if r == 0 {
			continue
		}
		if d := it.distance(p, box, r); d <= r {
			out = append(out, Claim{Code: it.code, Name: it.name, DistanceM: d})
		}
	}
	// Covering first by code (items are in code order), then nearest.
	slices.SortStableFunc(out, func(a, b Claim) int {
		switch {
		case a.Covers != b.Covers:
			if a.Covers {
				return -1
			}
			return 1
		case a.Covers:
			return 0
		case a.DistanceM < b.DistanceM:
			return -1
		case a.DistanceM > b.DistanceM:
			return 1
		}
		return 0
	})
	return out
}

// distance is the geodesic distance from p (outside the item) to the
// item's boundary when it is at most about r, else +Inf. Only the strips
// and segments inside box can be that close.
func (it *indexItem) distance(p orb.Point, box orb.Bound, r float64) float64 {
	rows := len(it.rowStart) - 1
	lo := min(max(int((box.Min[1]-it.y0)/it.rowH), 0), rows-1)
	hi := min(max(int((box.Max[1]-it.y0)/it.rowH), 0), rows-1)
	// A cheap local-metres bound first; the exact distance only for the
	// segments that may be within r (a segment sits in several strips, so
	// some are measured twice: the minimum is the same).
	mLat := 111_320.0
	mLon := mLat * math.Cos(p[1]*math.Pi/180)
	best := math.Inf(1)
	for row := lo; row <= hi; row++ {
		segs := it.segs[4*it.rowStart[row] : 4*it.rowStart[row+1]]
		for j := 0; j+3 < len(segs); j += 4 {
			ax, ay, bx, by := segs[j], segs[j+1], segs[j+2], segs[j+3]
			if math.Max(ax, bx) < box.Min[0] || math.Min(ax, bx) > box.Max[0] ||
				math.Max(ay, by) < box.Min[1] || math.Min(ay, by) > box.Max[1] {
				continue
			}
			if planarDist(p, ax, ay, bx, by, mLon, mLat) > 1.01*r+1 {
				continue
			}
			if d := GeodesicToSegment(p[0], p[1], ax, ay, bx, by); d < best {
				best = d
			}
		}
	}
	return best
}

// planarDist is the distance in local metres from p to segment a–b.
func planarDist(p orb.Point, ax, ay, bx, by, mLon, mLat float64) float64 {
	ux, uy := (bx-ax)*mLon, (by-ay)*mLat
	px, py := (p[0]-ax)*mLon, (p[1]-ay)*mLat
	t := 0.0
	if l2 := ux*ux + uy*uy; l2 > 0 {
		t = math.Min(1, math.Max(0, (px*ux+py*uy)/l2))
	}
	return math.Hypot(px-t*ux, py-t*uy)
}

// GeodesicToSegment is the distance in metres from the point (lon, lat) to
// the edge a–b as PostGIS geography measures it: the edge is the
// great-circle arc between its ends, its closest point is found on the
// sphere, and the distance to that point is the WGS84 geodesic.
func GeodesicToSegment(lon, lat, ax, ay, bx, by float64) float64 {
	cx, cy := closestOnArc(lon, lat, ax, ay, bx, by)
	var d float64
	geodesic.WGS84.Inverse(lat, lon, cy, cx, &d, nil, nil)
	return d
}

type vec3 struct{ x, y, z float64 }

func toVec(lon, lat float64) vec3 {
	lo, la := lon*math.Pi/180, lat*math.Pi/180
	return vec3{math.Cos(la) * math.Cos(lo), math.Cos(la) * math.Sin(lo), math.Sin(la)}
}

func (v vec3) lonLat() (float64, float64) {
	return math.Atan2(v.y, v.x) * 180 / math.Pi, math.Atan2(v.z, math.Hypot(v.x, v.y)) * 180 / math.Pi
}

func cross(a, b vec3) vec3 {
	return vec3{a.y*b.z - a.z*b.y, a.z*b.x - a.x*b.z, a.x*b.y - a.y*b.x}
}

func dot(a, b vec3) float64 { return a.x*b.x + a.y*b.y + a.z*b.z }

// closestOnArc is the point of the great-circle arc a–b closest to p on the
// unit sphere (PostGIS edge_distance_to_point): p projected on the arc's
// plane when that falls between the ends, else the nearer end.
func closestOnArc(lon, lat, ax, ay, bx, by float64) (float64, float64) {
	p, a, b := toVec(lon, lat), toVec(ax, ay), toVec(bx, by)
	n := cross(a, b)
	nn := dot(n, n)
	if nn < 1e-30 { // a degenerate edge
		return ax, ay
	}
	k := dot(p, n) / nn
	q := vec3{p.x - k*n.x, p.y - k*n.y, p.z - k*n.z}
	ql := math.Sqrt(dot(q, q))
	if ql > 1e-15 {
		q = vec3{q.x / ql, q.y / ql, q.z / ql}
		// q is on the arc when it lies between a and b: a×q and q×b point
		// the way a×b does.
		if dot(cross(a, q), n) >= 0 && dot(cross(q, b), n) >= 0 {
			return q.lonLat()
		}
	}
	if dot(p, a) >= dot(p, b) {
		return ax, ay
	}
	return bx, by
}
