package demo

import (
	"fmt"
	"math"
	"slices"

	"github.com/jiedao/jiedao/boundaries"
)

// Kinds and levels of injected boundary problems, as in the manifest.
const (
	KindOverlap       = string(boundaries.Overlap)
	KindGap           = string(boundaries.Gap)
	KindCrossesParent = string(boundaries.CrossesParent)
	KindNoncontiguous = string(boundaries.Noncontiguous)
	KindOrphan        = string(boundaries.Orphan)

	LevelCommunity = string(boundaries.Community)
	LevelStreet    = string(boundaries.Street)
)

const (
	minClearance       = 12.0  // metres between a bent edge and any other boundary: no slivers
	squareClearance    = 30.0  // metres between a cut-out square and its host's boundary
	maxAttemptsPerSite = 20000 // random candidates tried before giving up
)

// mod is how injected problems change one community.
type mod struct {
	ov    map[edgeKey][]pt // replaced edge polylines (canonical direction)
	holes [][]pt           // clockwise
	parts [][]pt           // extra detached polygons, counter-clockwise
	avoid [][]pt           // regions its building points must stay out of
}

// commGeom is a community's final geometry in the metre frame.
type commGeom struct {
	outer        []pt
	holes, parts [][]pt
}

func (g commGeom) rings() [][]pt {
	out := [][]pt{g.outer}
	out = append(out, g.holes...)
	return append(out, g.parts...)
}

type orphanUnit struct {
	ring      []pt
	district  int32
	parent    string // a street code that does not exist
	code      string
	household int // index into hh/pop
}

// gen holds one generation run.
type gen struct {
	seed      int64
	sp        spec
	c         *city
	hh, pop   []int32 // per community, the orphan last
	mods      map[int32]*mod
	blocked   []bool // community is, or touches, an injected one
	gapStreet map[int32]bool
	injected  []Injected
	orphan    orphanUnit
	// river and rail are x-monotone polylines across the city.
	river, rail []pt
	segs        [][2]pt // nearBarriers buffer
}

func (g *gen) mod(ci int32) *mod {
	m := g.mods[ci]
	if m == nil {
		m = &mod{ov: map[edgeKey][]pt{}}
		g.mods[ci] = m
	}
	return m
}

func (g *gen) geometry(ci int32, dst []pt) commGeom {
	m := g.mods[ci]
	var ov map[edgeKey][]pt
	if m != nil {
		ov = m.ov
	}
	cg := commGeom{outer: g.c.lat.ring(g.c.communities[ci].rect(), ov, dst)}
	if m != nil {
		cg.holes, cg.parts = m.holes, m.parts
	}
	return cg
}

// placeOrphan puts one extra community south of the city's south-west part,
// a few hundred metres from anything, with a parent street that does not
// exist.
func (g *gen) placeOrphan() {
	cx, cy := 2.0*cellSize, -1.25*cellSize
	var ring []pt
	for m := range 8 {
		h := hash3(g.seed, saltOrphan, m, 0)
		th := 2*math.Pi*float64(m)/8 + 0.3*(unit(h)-0.5)
		r := 0.32 * cellSize * (0.85 + 0.3*unit(mix(h)))
		ring = append(ring, pt{cx + r*math.Cos(th), cy + r*math.Sin(th)})
	}
	ring = closeRing(ring)
	ci := g.c.commAt(2, 0)
	d := g.c.streets[g.c.communities[ci].street].district
	parent := g.c.districtCode(d) + "999" // districts have at most 998 streets
	g.orphan = orphanUnit{ring: ring, district: d, parent: parent, code: parent + "001",
		household: len(g.c.communities)}
	g.injected = append(g.injected, Injected{Kind: KindOrphan, Level: LevelCommunity,
		Codes: []string{g.orphan.code}, ParentCode: parent, AreaM2: roundArea(signedArea(ring))})
}

// nearOrphan keeps crosses_parent bulges well away from the orphan.
func nearOrphan(x, y int32) bool { return x <= 6 && y <= 3 }

// inject places sp.inject problems of each kind, round-robin so that every
// kind gets its share even if space runs short.
func (g *gen) inject() error {
	r := newRNG(g.seed, saltInject)
	kinds := []struct {
		name  string
		place func(*rng) bool
	}{
		{KindCrossesParent, g.tryCrosses},
		{KindOverlap, func(r *rng) bool { return g.tryEdge(r, KindOverlap) }},
		{KindGap, func(r *rng) bool { return g.tryEdge(r, KindGap) }},
		{KindNoncontiguous, g.tryNoncontiguous},
	}
	for round := 0; round < g.sp.inject; round++ {
		for _, k := range kinds {
			placed := false
			for range maxAttemptsPerSite {
				if placed = k.place(r); placed {
					break
				}
			}
			if !placed {
				return fmt.Errorf("could not place %s problem %d of %d", k.name, round+1, g.sp.inject)
			}
		}
	}
	return nil
}

func (g *gen) block(cs ...int32) {
	for _, c := range cs {
		g.blocked[c] = true
		for _, o := range g.c.around(c, 1) {
			g.blocked[o] = true
		}
	}
}

// randomEdge picks a random cell edge and the communities left and right of
// its canonical direction (-1 outside the city).
func (g *gen) randomEdge(r *rng) (e edgeKey, left, right int32) {
	x, y := int32(r.intn(g.c.lat.gx)), int32(r.intn(g.c.lat.gy))
	if r.intn(2) == 0 { // with the east neighbour: vertical edge, west cell left
		return edgeKey{true, x + 1, y}, g.c.commAt(x, y), g.c.commAt(x+1, y)
	}
	// with the north neighbour: horizontal edge, north cell left
	return edgeKey{false, x, y + 1}, g.c.commAt(x, y+1), g.c.commAt(x, y)
}

// tryEdge injects an overlap (community a's edge pushed into b) or a gap
// (a's edge pulled back into a) on an edge between two communities of one
// street.
func (g *gen) tryEdge(r *rng, kind string) bool {
	e, left, right := g.randomEdge(r)
	if left < 0 || right < 0 || left == right || g.blocked[left] || g.blocked[right] {
		return false
	}
	st := g.c.communities[left].street
	if st != g.c.communities[right].street || (kind == KindGap && g.gapStreet[st]) {
		return false
	}
	a, b, aSide := left, right, 1.0
	if r.intn(2) == 0 {
		a, b, aSide = right, left, -1.0
	}
	side := -aSide // overlap: towards b
	if kind == KindGap {
		side = aSide
	}
	target := 5000 + 7000*r.float()
	poly, region, area, ok := g.bulge(e, side, target, 140)
	if !ok || area < 4000 || area > 18000 || !g.clear(a, e, poly) {
		return false
	}
	g.mod(a).ov[e] = poly
	codes := []string{g.c.communityCode(a), g.c.communityCode(b)}
	slices.Sort(codes)
	rec := Injected{Kind: kind, Level: LevelCommunity, Codes: codes,
		ParentCode: g.c.streetCode(st), AreaM2: roundArea(area)}
	if kind == KindOverlap {
		g.mod(b).avoid = append(g.mod(b).avoid, region)
	} else {
		g.gapStreet[st] = true
		rec.Level, rec.Codes, rec.Near = LevelStreet, []string{g.c.streetCode(st)}, codes
		rec.ParentCode = g.c.districtCode(g.c.streets[st].district)
	}
	g.injected = append(g.injected, rec)
	g.block(a, b)
	return true
}

// tryCrosses bulges the outer edge of a community on the city's rim outward,
// so it leaves its street (and district and city) while overlapping nothing.
func (g *gen) tryCrosses(r *rng) bool {
	gx, gy := int32(g.c.lat.gx), int32(g.c.lat.gy)
	var x, y int32
	var e edgeKey
	var out float64 // side of e's canonical direction that lies outside
	switch r.intn(4) {
	case 0: // south rim: edge runs east, the cell is left (north)
		x, y = int32(r.intn(int(gx))), 0
		e, out = edgeKey{false, x, 0}, -1
	case 1: // north rim: the cell is right (south)
		x, y = int32(r.intn(int(gx))), gy-1
		e, out = edgeKey{false, x, gy}, 1
	case 2: // west rim: edge runs north, the cell is right (east)
		x, y = 0, int32(r.intn(int(gy)))
		e, out = edgeKey{true, 0, y}, 1
	default: // east rim: the cell is left (west)
		x, y = gx-1, int32(r.intn(int(gy)))
		e, out = edgeKey{true, gx, y}, -1
	}
	a := g.c.commAt(x, y)
	if a < 0 || g.blocked[a] || nearOrphan(x, y) {
		return false
	}
	own := math.Abs(signedArea(g.geometry(a, nil).outer))
	target := math.Max(8000, 0.05*own)
	poly, region, area, ok := g.bulge(e, out, target, 170)
	// ≥ 3% of the community and ≥ 3,000 m², with margin.
	if !ok || area < 1.3*math.Max(3000, 0.03*(own+area)) || !g.clear(a, e, poly) {
		return false
	}
	g.mod(a).ov[e] = poly
	g.mod(a).avoid = append(g.mod(a).avoid, region) // its points stay in its street
	st := g.c.communities[a].street
	g.injected = append(g.injected, Injected{Kind: KindCrossesParent, Level: LevelCommunity,
		Codes: []string{g.c.communityCode(a)}, ParentCode: g.c.streetCode(st), AreaM2: roundArea(area)})
	g.block(a)
	return true
}

// tryNoncontiguous cuts a small square out of community a and gives it to
// its neighbour b of the same street as a detached second part.
func (g *gen) tryNoncontiguous(r *rng) bool {
	_, left, right := g.randomEdge(r)
	if left < 0 || right < 0 || left == right || g.blocked[left] || g.blocked[right] ||
		g.c.communities[left].street != g.c.communities[right].street {
		return false
	}
	a, b := left, right
	if r.intn(2) == 0 {
		a, b = right, left
	}
	ca := g.c.communities[a]
	cx, cy := ca.x+int32(r.intn(int(ca.w))), ca.y+int32(r.intn(int(ca.h)))
	u, v := 0.3+0.4*float64(r.intn(2)), 0.3+0.4*float64(r.intn(2)) // off-centre
	c := bilinear(g.c.lat.cellCorners(cx, cy), u, v)
	side := 60 + 25*r.float() // 3,600–7,200 m²
	th := math.Pi / 2 * r.float()
	var sq []pt
	for m := range 4 {
		ang := th + math.Pi/4 + float64(m)*math.Pi/2
		rad := side / math.Sqrt2
		sq = append(sq, pt{c.x + rad*math.Cos(ang), c.y + rad*math.Sin(ang)})
	}
	sq = closeRing(sq) // counter-clockwise
	host := g.geometry(a, nil).outer
	for _, p := range sq {
		if !inRing(p, host) || ringDist(p, host) < squareClearance {
			return false
		}
	}
	g.mod(a).holes = append(g.mod(a).holes, reversed(sq))
	g.mod(b).parts = append(g.mod(b).parts, sq)
	st := ca.street
	g.injected = append(g.injected, Injected{Kind: KindNoncontiguous, Level: LevelCommunity,
		Codes: []string{g.c.communityCode(b)}, ParentCode: g.c.streetCode(st),
		Near: []string{g.c.communityCode(a)}, AreaM2: roundArea(signedArea(sq))})
	g.block(a, b)
	return true
}

// bulge replaces the middle of edge e — between its first and last interior
// vertices — by three vertices pushed to side (+1 left of the canonical
// direction, -1 right). All original vertices between stay on the near
// side of the new path, so the region swept is one simple polygon and the
// edge's ends (shared with the other edges at its lattice vertices) are
// untouched. depth is chosen for the target area, capped at maxDepth.
func (g *gen) bulge(e edgeKey, side, target, maxDepth float64) (poly, region []pt, area float64, ok bool) {
	P := g.c.lat.edge(e, nil)
	k := len(P) - 1
	a, b := P[0], P[k]
	L := math.Hypot(b.x-a.x, b.y-a.y)
	ux, uy := (b.x-a.x)/L, (b.y-a.y)/L
	nx, ny := -uy*side, ux*side
	along := func(p pt) float64 { return (p.x-a.x)*ux + (p.y-a.y)*uy }
	s1, s2 := along(P[1]), along(P[k-1])
	reach := 0.0 // how far the wave already goes towards side
	for _, p := range P[1:k] {
		reach = math.Max(reach, (p.x-a.x)*nx+(p.y-a.y)*ny)
	}
	build := func(d float64) ([]pt, []pt) {
		var q [3]pt
		for m, f := range [3]float64{0.25, 0.5, 0.75} {
			s, depth := s1+(s2-s1)*f, d
			if m == 1 {
				depth *= 1.15
			}
			q[m] = pt{a.x + ux*s + nx*depth, a.y + uy*s + ny*depth}
		}
		poly := []pt{P[0], P[1], q[0], q[1], q[2], P[k-1], P[k]}
		region := append([]pt{}, P[1:k]...)
		region = append(region, q[2], q[1], q[0], P[1])
		return poly, region
	}
	// The swept area is linear in the depth.
	_, r0 := build(0)
	_, r1 := build(100)
	a0, a1 := side*signedArea(r0), side*signedArea(r1)
	d := 100 * (target - a0) / (a1 - a0)
	d = math.Min(math.Max(d, reach+15), maxDepth)
	poly, region = build(d)
	area = side * signedArea(region)
	return poly, region, area, area > 0 && ringSimple(region)
}

// clear checks a replacement polyline for edge e of community ci: ci's ring
// stays simple and the new part keeps minClearance from every boundary
// nearby other than the edge itself.
func (g *gen) clear(ci int32, e edgeKey, poly []pt) bool {
	orig := g.c.lat.edge(e, nil)
	_, had := g.mods[ci]
	m := g.mod(ci)
	m.ov[e] = poly
	defer func() { // try on, then take off again
		delete(m.ov, e)
		if !had {
			delete(g.mods, ci)
		}
	}()
	if !ringSimple(g.geometry(ci, nil).outer) {
		return false
	}
	newPart := poly[1 : len(poly)-1] // from the first to the last interior vertex
	isOrig := func(p pt) bool { return slices.Contains(orig, p) }
	isNew := func(p pt) bool { return slices.Contains(newPart, p) }
	for _, o := range append(g.c.around(ci, 2), ci) {
		for _, rg := range g.geometry(o, nil).rings() {
			for i := 0; i+1 < len(rg); i++ {
				p, q := rg[i], rg[i+1]
				if (isOrig(p) && isOrig(q)) || (o == ci && isNew(p) && isNew(q)) {
					continue
				}
				for j := 0; j+1 < len(newPart); j++ {
					if segDist(p, q, newPart[j], newPart[j+1]) < minClearance {
						return false
					}
				}
			}
		}
	}
	return true
}

func roundArea(a float64) float64 { return math.Round(math.Abs(a)*10) / 10 }
