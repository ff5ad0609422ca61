package demo

import "math"

// The city is a grid of gx×gy lattice cells. Every polygon is walked along
// the same subdivided lattice edges, so neighbours share bit-identical
// vertices (in reverse order) and the levels tile each other exactly.

const (
	originLon = 116.0
	originLat = 39.6
	cellSize  = 600.0 // metres; a cell is ≈0.36 km², one community
	// vertexJitter is the radius (fraction of a cell) a lattice vertex may
	// move. Below 0.25 every cell stays a strictly convex quadrilateral with
	// corner angles ≥ 37°, which leaves room for the edge waves.
	vertexJitter = 0.22
	// waveAmp is the largest perpendicular offset (fraction of the edge
	// length) of an edge's interior vertices: ≤ 12° of deviation at a corner,
	// so edges meeting at a vertex can never cross.
	waveAmp = 0.035
)

type lattice struct {
	seed   int64
	gx, gy int
}

// rect is a block of cells [x0,x1)×[y0,y1); y grows northward.
type rect struct{ x0, y0, x1, y1 int32 }

func (r rect) w() int32 { return r.x1 - r.x0 }
func (r rect) h() int32 { return r.y1 - r.y0 }

// edgeKey names a lattice edge: horizontal from vertex (i,j) east to
// (i+1,j), or vertical from (i,j) north to (i,j+1). Its canonical direction
// is that one; a cell to the left of it (north of a horizontal edge, west of
// a vertical one) walks it forward when going counter-clockwise.
type edgeKey struct {
	vert bool
	i, j int32
}

func (l *lattice) vertex(i, j int32) pt {
	h := hash3(l.seed, saltVertex, int(i), int(j))
	r := vertexJitter * cellSize * math.Sqrt(unit(h))
	th := 2 * math.Pi * unit(mix(h))
	return pt{float64(i)*cellSize + r*math.Cos(th), float64(j)*cellSize + r*math.Sin(th)}
}

// edge appends the edge's polyline in canonical direction, both ends
// included: 3–5 segments whose interior vertices are displaced across the
// chord by a hash of the edge, so both neighbours see the same points.
func (l *lattice) edge(e edgeKey, dst []pt) []pt {
	a := l.vertex(e.i, e.j)
	var b pt
	salt := saltHEdge
	if e.vert {
		b = l.vertex(e.i, e.j+1)
		salt = saltVEdge
	} else {
		b = l.vertex(e.i+1, e.j)
	}
	h := hash3(l.seed, salt, int(e.i), int(e.j))
	k := 3 + int(h%3)
	dx, dy := b.x-a.x, b.y-a.y
	L := math.Hypot(dx, dy)
	nx, ny := -dy/L, dx/L
	dst = append(dst, a)
	for m := 1; m < k; m++ {
		hm := mix(h + uint64(m)*0x9e3779b97f4a7c15)
		t := (float64(m) + 0.3*(unit(hm)-0.5)) / float64(k)
		o := waveAmp * L * (2*unit(mix(hm)) - 1)
		dst = append(dst, pt{a.x + dx*t + nx*o, a.y + dy*t + ny*o})
	}
	return append(dst, b)
}

// step is one lattice edge of a ring walk.
type step struct {
	e   edgeKey
	rev bool
}

// perimeter lists the edges around a block of cells counter-clockwise,
// starting at its south-west corner.
func perimeter(r rect, dst []step) []step {
	for i := r.x0; i < r.x1; i++ {
		dst = append(dst, step{edgeKey{false, i, r.y0}, false})
	}
	for j := r.y0; j < r.y1; j++ {
		dst = append(dst, step{edgeKey{true, r.x1, j}, false})
	}
	for i := r.x1 - 1; i >= r.x0; i-- {
		dst = append(dst, step{edgeKey{false, i, r.y1}, true})
	}
	for j := r.y1 - 1; j >= r.y0; j-- {
		dst = append(dst, step{edgeKey{true, r.x0, j}, true})
	}
	return dst
}

// ring walks the block's perimeter into a closed CCW ring. ov replaces the
// polyline of some edges (canonical direction, same end vertices): that is
// how injected problems bend one side of a shared edge.
func (l *lattice) ring(r rect, ov map[edgeKey][]pt, dst []pt) []pt {
	var steps [64]step
	var tmp [8]pt
	for _, s := range perimeter(r, steps[:0]) {
		poly, ok := ov[s.e]
		if !ok {
			poly = l.edge(s.e, tmp[:0])
		}
		n := len(poly)
		for m := 0; m < n; m++ {
			p := poly[m]
			if s.rev {
				p = poly[n-1-m]
			}
			if m == 0 && len(dst) > 0 {
				continue // the previous edge ended here
			}
			dst = append(dst, p)
		}
	}
	return dst
}

// cellCorners returns the jittered corners of cell (x,y): SW, SE, NE, NW.
func (l *lattice) cellCorners(x, y int32) [4]pt {
	return [4]pt{l.vertex(x, y), l.vertex(x+1, y), l.vertex(x+1, y+1), l.vertex(x, y+1)}
}

// bilinear interpolates inside a (convex) cell; u east, v north in [0,1].
func bilinear(c [4]pt, u, v float64) pt {
	s := pt{c[0].x + (c[1].x-c[0].x)*u, c[0].y + (c[1].y-c[0].y)*u}
	n := pt{c[3].x + (c[2].x-c[3].x)*u, c[3].y + (c[2].y-c[3].y)*u}
	return pt{s.x + (n.x-s.x)*v, s.y + (n.y-s.y)*v}
}

// Metres per degree on WGS84 at a latitude (standard series); the areas in
// the manifest are therefore close to what PostGIS computes on the spheroid.
func metresPerDegLat(lat float64) float64 {
	p := lat * math.Pi / 180
	return 111132.92 - 559.82*math.Cos(2*p) + 1.175*math.Cos(4*p)
}

func metresPerDegLon(lat float64) float64 {
	p := lat * math.Pi / 180
	return 111412.84*math.Cos(p) - 93.5*math.Cos(3*p)
}

// project maps the metre frame to lon/lat. The longitude scale follows the
// point's own latitude, so cells stay roughly square in metres all the way
// north at national scale.
func project(p pt) (lon, lat float64) {
	lat = originLat + p.y/metresPerDegLat(originLat+p.y/111000)
	return originLon + p.x/metresPerDegLon(lat), lat
}
