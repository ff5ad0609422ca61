package demo

import (
	"math"
	"sort"
)

// The road network: every lattice edge is a road whose class follows the
// units it separates (trunk between districts and around the city, primary
// between streets, secondary between communities of a street, alley inside
// a two-cell community), so every boundary lies on a road vertex for vertex.
// Alleys (胡同) also cross each street along its cells' bilinear lines near
// u, v = 1/3 and 2/3, cutting a cell into about 3×3 blocks. A river and a
// railway cross the whole city. Building points keep clear of all of it, so
// each falls inside one block. National scale has no alleys (spec.alleys):
// 730,000 of them would take the file from 160 to 360 MB.

// Barrier classes, as in barriers.geojson.
const (
	ClassTrunk     = "trunk"
	ClassPrimary   = "primary"
	ClassSecondary = "secondary"
	ClassAlley     = "alley"
	ClassRiver     = "river"
	ClassRail      = "rail"
)

// barrierClasses is the order of the classes in the file and the manifest;
// the class* indices below point into it.
var barrierClasses = []string{ClassTrunk, ClassPrimary, ClassSecondary, ClassAlley, ClassRiver, ClassRail}

const (
	classTrunk int8 = iota
	classPrimary
	classSecondary
	classAlley
	classRiver
	classRail
)

const (
	// alleyOvershoot is how far an alley runs past the road it ends at:
	// lattice edges wave up to ±30 m off their chord, and a line that stops
	// on the road (or 1 cm short of it after rounding) cuts no block.
	alleyOvershoot = 2.0
	// barrierClearance keeps building points off every barrier; a little
	// over 12 m so that a check in lon/lat with a local metre scale (which
	// ignores the projection's slight shear) still finds 12 m.
	barrierClearance = 12.5
	// riverStep and railStep are the vertex spacings along the river (by
	// arc length) and the railway (along x), in metres.
	riverStep = 50.0
	railStep  = 100.0
	// barrierMargin is how far river and railway reach beyond the lattice
	// on either side: past the vertex jitter and the outward bulges of
	// injected crosses_parent problems, so they cut every block they enter.
	barrierMargin = cellSize
)

// edgeClass is the class of the road along a lattice edge, from the
// communities on its two sides.
func (c *city) edgeClass(e edgeKey) int8 {
	var a, b int32
	if e.vert {
		a, b = c.commAt(e.i-1, e.j), c.commAt(e.i, e.j)
	} else {
		a, b = c.commAt(e.i, e.j-1), c.commAt(e.i, e.j)
	}
	if a < 0 || b < 0 {
		return classTrunk // the city's rim is a district boundary
	}
	if a == b {
		return classAlley
	}
	sa, sb := c.communities[a].street, c.communities[b].street
	switch {
	case c.streets[sa].district != c.streets[sb].district:
		return classTrunk
	case sa != sb:
		return classPrimary
	}
	return classSecondary
}

// run is a maximal stretch of edges of one class along one lattice line:
// horizontal line j (edges (from..to-1, j)) or vertical line i (edges
// (i, from..to-1)).
type run struct {
	vert     bool
	line     int32
	from, to int32
}

func (r run) edge(k int32) edgeKey {
	if r.vert {
		return edgeKey{true, r.line, k}
	}
	return edgeKey{false, k, r.line}
}

// latticeRuns calls f for every run of class cl, horizontal lines south to
// north, then vertical lines west to east.
func (g *gen) latticeRuns(cl int8, f func(run) error) error {
	gx, gy := int32(g.c.lat.gx), int32(g.c.lat.gy)
	for _, vert := range []bool{false, true} {
		lines, n := gy+1, gx
		if vert {
			lines, n = gx+1, gy
		}
		for l := int32(0); l < lines; l++ {
			r := run{vert: vert, line: l, from: -1}
			for k := int32(0); k <= n; k++ {
				in := k < n && g.c.edgeClass(r.edge(k)) == cl
				switch {
				case in && r.from < 0:
					r.from = k
				case !in && r.from >= 0:
					r.to = k
					if err := f(r); err != nil {
						return err
					}
					r.from = -1
				}
			}
		}
	}
	return nil
}

// runLine appends a run's polyline: its edges joined at their shared vertices.
func (g *gen) runLine(r run, dst []pt) []pt {
	for k := r.from; k < r.to; k++ {
		n := len(dst)
		dst = g.c.lat.edge(r.edge(k), dst)
		if k > r.from {
			dst = append(dst[:n], dst[n+1:]...) // the previous edge ended here
		}
	}
	return dst
}

// alleyAt returns the position across the cell (u for a north-south alley
// in column at, v for an east-west one in row at) of alley k (1 or 2) of
// street si, and false where the street leaves it out: a third of the
// streets lack some alleys, and every alley is shifted by up to ±36 m, so
// the city is not a perfect grid.
func (g *gen) alleyAt(si int32, vert bool, at int32, k int) (float64, bool) {
	sparse := unit(hash3(g.seed, saltBarriers, -1-int(si), 0)) < 0.3
	h := hash3(g.seed, saltBarriers, int(si), int(at)*8+k*2+b2i(vert))
	if sparse && unit(mix(h)) < 0.4 {
		return 0, false
	}
	return float64(k)/3 + 0.12*(unit(h)-0.5), true
}

func lerp(a, b pt, t float64) pt { return pt{a.x + (b.x-a.x)*t, a.y + (b.y-a.y)*t} }

// alley appends the polyline of an alley of street si across the whole
// street: one vertex where it crosses each lattice line (the same point for
// the cells on both sides), its ends alleyOvershoot past the street's
// boundary roads.
func (g *gen) alley(si int32, vert bool, at int32, pos float64, dst []pt) []pt {
	r := g.c.streets[si].r
	n := r.w()
	if vert {
		n = r.h()
	}
	for m := int32(0); m < n; m++ {
		s := g.alleySeg(si, vert, at, pos, m)
		if m == 0 {
			dst = append(dst, s[0])
		}
		dst = append(dst, s[1])
	}
	return dst
}

// alleySeg is the part of an alley (see alley) in the m-th cell of the
// street along it.
func (g *gen) alleySeg(si int32, vert bool, at int32, pos float64, m int32) [2]pt {
	l := &g.c.lat
	r := g.c.streets[si].r
	lo, hi := r.x0, r.x1
	cross := func(k int32) (pt, edgeKey) { // where the alley meets lattice line k
		return lerp(l.vertex(k, at), l.vertex(k, at+1), pos), edgeKey{true, k, at}
	}
	if vert {
		lo, hi = r.y0, r.y1
		cross = func(k int32) (pt, edgeKey) {
			return lerp(l.vertex(at, k), l.vertex(at+1, k), pos), edgeKey{false, at, k}
		}
	}
	a, ea := cross(lo + m)
	b, eb := cross(lo + m + 1)
	s := [2]pt{a, b}
	if lo+m == lo {
		s[0] = l.crossEnd(b, a, ea)
	}
	if lo+m+1 == hi {
		s[1] = l.crossEnd(a, b, eb)
	}
	return s
}

// crossEnd moves to, a chord point of lattice edge e reached from from,
// to alleyOvershoot past where the line from→to meets e's wavy polyline.
// The line meets it once: it is at least 25° off the edge, whose waves
// turn by at most 12°.
func (l *lattice) crossEnd(from, to pt, e edgeKey) pt {
	var buf [8]pt
	poly := l.edge(e, buf[:0])
	d := pt{to.x - from.x, to.y - from.y}
	best, bestD := 1.0, math.Inf(1)
	for i := 0; i+1 < len(poly); i++ {
		a, b := poly[i], poly[i+1]
		s := pt{b.x - a.x, b.y - a.y}
		den := d.x*s.y - d.y*s.x
		if den == 0 {
			continue
		}
		w := pt{a.x - from.x, a.y - from.y}
		t, u := (w.x*s.y-w.y*s.x)/den, (w.x*d.y-w.y*d.x)/den
		if u >= 0 && u <= 1 && math.Abs(t-1) < bestD {
			best, bestD = t, math.Abs(t-1)
		}
	}
	return lerp(from, to, best+alleyOvershoot/math.Hypot(d.x, d.y))
}

// eachAlley calls f for every street alley, street by street, north-south
// ones west to east, then east-west ones south to north.
func (g *gen) eachAlley(f func(si int32, vert bool, at int32, k int, pos float64) error) error {
	if !g.sp.alleys {
		return nil
	}
	for si := range g.c.streets {
		r := g.c.streets[si].r
		for _, vert := range []bool{true, false} {
			lo, hi := r.y0, r.y1
			if vert {
				lo, hi = r.x0, r.x1
			}
			for at := lo; at < hi; at++ {
				for k := 1; k <= 2; k++ {
					if pos, ok := g.alleyAt(int32(si), vert, at, k); ok {
						if err := f(int32(si), vert, at, k, pos); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	return nil
}

// riverLine meanders west to east across the city, a vertex every
// riverStep metres of arc: two sines of unrelated wavelengths, so it does
// not look periodic, staying in the middle half of the city.
func (g *gen) riverLine() []pt {
	W, H := float64(g.c.lat.gx)*cellSize, float64(g.c.lat.gy)*cellSize
	h := hash3(g.seed, saltBarriers, math.MinInt32, 1)
	l1 := math.Min(math.Max(W/3, 4000), 9000)
	l2 := l1 * (0.33 + 0.08*unit(mix(h)))
	a1, a2 := 0.15*l1, 0.05*l1
	p1, p2 := 2*math.Pi*unit(mix(h+1)), 2*math.Pi*unit(mix(h+2))
	yc := H * (0.4 + 0.2*unit(h))
	k1, k2 := 2*math.Pi/l1, 2*math.Pi/l2
	y := func(x float64) float64 { return yc + a1*math.Sin(k1*x+p1) + a2*math.Sin(k2*x+p2) }
	slope := func(x float64) float64 { return a1*k1*math.Cos(k1*x+p1) + a2*k2*math.Cos(k2*x+p2) }
	var out []pt
	x0, x1 := -barrierMargin, W+barrierMargin
	for x := x0; x < x1; x += riverStep / math.Hypot(1, slope(x)) {
		out = append(out, pt{x, y(x)})
	}
	if x1-out[len(out)-1].x < riverStep/4 {
		out = out[:len(out)-1] // no stub segment at the end
	}
	return append(out, pt{x1, y(x1)})
}

// railLine runs from the west edge low in the city to the east edge high
// in it, bowed gently to one side.
func (g *gen) railLine() []pt {
	W, H := float64(g.c.lat.gx)*cellSize, float64(g.c.lat.gy)*cellSize
	h := hash3(g.seed, saltBarriers, math.MinInt32, 2)
	ya, yb := H*(0.1+0.15*unit(h)), H*(0.75+0.15*unit(mix(h)))
	x0, x1 := -barrierMargin, W+barrierMargin
	bow := 0.05 * math.Hypot(x1-x0, yb-ya) * (2*unit(mix(h+1)) - 1)
	n := int(math.Ceil((x1 - x0) / railStep))
	out := make([]pt, 0, n+1)
	for m := 0; m <= n; m++ {
		t := float64(m) / float64(n)
		out = append(out, pt{x0 + (x1-x0)*t, ya + (yb-ya)*t + bow*math.Sin(math.Pi*t)})
	}
	return out
}

// xRange returns the segments of an x-monotone polyline that reach into
// [x0, x1].
func xRange(line []pt, x0, x1 float64, dst [][2]pt) [][2]pt {
	i := sort.Search(len(line), func(i int) bool { return line[i].x >= x0 })
	for i = max(i-1, 0); i+1 < len(line) && line[i].x <= x1; i++ {
		dst = append(dst, [2]pt{line[i], line[i+1]})
	}
	return dst
}

// nearBarriers lists the barrier segments a building point of the cells r
// (within box, [minX, minY, maxX, maxY]) must keep clear of: the lattice
// edges of those cells, the alleys through them and their neighbours (an
// alley pokes alleyOvershoot into the next street), and the river and the
// railway near box. A point inside a cell is nearer to the cell's own edges
// than to any other edge, so no other edge is needed.
func (g *gen) nearBarriers(r rect, box [4]float64, dst [][2]pt) [][2]pt {
	var buf [16]pt
	addLine := func(line []pt) {
		for i := 0; i+1 < len(line); i++ {
			dst = append(dst, [2]pt{line[i], line[i+1]})
		}
	}
	for y := r.y0; y < r.y1; y++ {
		for x := r.x0; x < r.x1; x++ {
			for _, e := range [4]edgeKey{{false, x, y}, {false, x, y + 1}, {true, x, y}, {true, x + 1, y}} {
				addLine(g.c.lat.edge(e, buf[:0]))
			}
		}
	}
	if g.sp.alleys {
		for y := r.y0 - 1; y <= r.y1; y++ {
			for x := r.x0 - 1; x <= r.x1; x++ {
				dst = g.cellAlleys(x, y, dst)
			}
		}
	}
	c := barrierClearance
	dst = xRange(g.river, box[0]-c, box[2]+c, dst)
	return xRange(g.rail, box[0]-c, box[2]+c, dst)
}

// cellAlleys appends the segments of the street alleys inside cell (x,y).
func (g *gen) cellAlleys(x, y int32, dst [][2]pt) [][2]pt {
	ci := g.c.commAt(x, y)
	if ci < 0 {
		return dst
	}
	si := g.c.communities[ci].street
	r := g.c.streets[si].r
	for k := 1; k <= 2; k++ {
		if pos, ok := g.alleyAt(si, true, x, k); ok {
			dst = append(dst, g.alleySeg(si, true, x, pos, y-r.y0))
		}
		if pos, ok := g.alleyAt(si, false, y, k); ok {
			dst = append(dst, g.alleySeg(si, false, y, pos, x-r.x0))
		}
	}
	return dst
}

// barrierFeatures counts the features of barriers.geojson, for the
// progress total.
func (g *gen) barrierFeatures() int {
	n := 2 // river and railway
	count := func(run) error { n++; return nil }
	for cl := classTrunk; cl <= classAlley; cl++ {
		if cl != classAlley || g.sp.alleys {
			_ = g.latticeRuns(cl, count)
		}
	}
	_ = g.eachAlley(func(int32, bool, int32, int, float64) error { n++; return nil })
	return n
}

func lineLength(line []pt) float64 {
	s := 0.0
	for i := 0; i+1 < len(line); i++ {
		s += math.Hypot(line[i+1].x-line[i].x, line[i+1].y-line[i].y)
	}
	return s
}

// roadSuffix ends the name of a road of a lattice class.
var roadSuffix = [...]string{classTrunk: "大道", classPrimary: "路", classSecondary: "街", classAlley: "胡同"}

// writeBarriers writes barriers.geojson — lattice roads class by class,
// street alleys, the river, the railway — and returns per-class counts.
func (g *gen) writeBarriers(dir string, progress func()) (FileInfo, []BarrierCount, error) {
	w, err := createFC(dir, BarriersFile, progress)
	if err != nil {
		return FileInfo{}, nil, err
	}
	stats := make([]BarrierCount, len(barrierClasses))
	metres := make([]float64, len(barrierClasses))
	emit := func(cl int8, name string, line []pt) error {
		w.start()
		w.str("class", barrierClasses[cl], true)
		w.str("name", name, false)
		w.geometry("LineString")
		w.line(line)
		stats[cl].Features++
		metres[cl] += lineLength(line)
		return w.end()
	}
	var buf []pt
	for cl := classTrunk; cl <= classAlley; cl++ {
		if cl == classAlley && !g.sp.alleys {
			continue
		}
		err := g.latticeRuns(cl, func(r run) error {
			buf = g.runLine(r, buf[:0])
			return emit(cl, "示例"+roadWord(g.seed, b2i(r.vert), int(r.line))+roadSuffix[cl], buf)
		})
		if err != nil {
			return FileInfo{}, nil, err
		}
	}
	err = g.eachAlley(func(si int32, vert bool, at int32, k int, pos float64) error {
		buf = g.alley(si, vert, at, pos, buf[:0])
		return emit(classAlley, "示例"+roadWord(g.seed, 2+b2i(vert)+4*int(si), int(at)*4+k)+"胡同", buf)
	})
	if err != nil {
		return FileInfo{}, nil, err
	}
	if err := emit(classRiver, "示例河", g.river); err != nil {
		return FileInfo{}, nil, err
	}
	if err := emit(classRail, "示例铁路", g.rail); err != nil {
		return FileInfo{}, nil, err
	}
	fi, err := w.close()
	if err != nil {
		return FileInfo{}, nil, err
	}
	for i := range stats {
		stats[i].Class, stats[i].LengthKM = barrierClasses[i], math.Round(metres[i]/100)/10
	}
	return fi, stats, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
