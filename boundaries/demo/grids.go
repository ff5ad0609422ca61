package demo

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/jiedao/jiedao/boundaries"
)

// Grids (网格): every community (without an injected community problem) of
// a third of the streets, chosen among those with all their alleys, is
// split into grids along its street's alleys. A cell's alleys cut it into
// 3×3 sub-cells; a community's
// sub-cells, walked as a snake (by rows or columns, from a corner), are
// cut into runs of 300–500 households (150–300 in a village, 村) as far as
// its building points allow: a snake's runs are connected and have no
// holes.
// Grid boundaries are the community's own edges and the alleys, an alley
// joining the community's ring (or the edge between its two cells) at the
// existing vertex nearest to it, so the grids tile the community exactly,
// vertex for vertex. A grid's households and population are those of the
// community's building points inside it, so they sum to the community's.
//
// Codes are the community's 12 digits and a 3-digit sequence, numbered as
// `jiedao grids renumber` numbers them (grids.OrderRule): rows north→south
// of the grids' label points (ST_PointOnSurface, computed here as GEOS
// does), a row the median north–south extent of the grids high counted
// from their northernmost edge, each row west→east.

// Grid output, levels and kinds.
const (
	GridsFile   = "grids.geojson"
	LevelGrid   = string(boundaries.Grid)
	KindUnowned = string(boundaries.Unowned)
)

const (
	saltGrids uint64 = 0x6772696473 // apart from rng.go's salts
	// connectorEnd is how far from a cell's edge (m) a grid boundary leaves
	// the alley for the ring vertex nearest to it; connectorClear keeps
	// those short connectors off building points, so a point's grid does
	// not depend on rounding.
	connectorEnd   = 60.0
	connectorClear = 0.5
)

var gridKindOrder = []string{KindOverlap, KindUnowned, KindCrossesParent, KindNoncontiguous, KindOrphan}

// gridUnit is one grid: its sub-cells and final geometry (polygons, each
// outer ring then holes).
type gridUnit struct {
	code, name, kind string
	cells            []int
	polys            [][][]pt
	hh, pop          int
}

// gridComm is a community with grids: its sub-cells (row-major, row 0 the
// northernmost), its building points and its grids in code order.
type gridComm struct {
	ci               int32
	code, name, kind string
	subs             [][]pt
	cols, rows       int
	pts              []pt
	ph, pp           []int
	grids            []*gridUnit
	injected         bool
}

type gridPlan struct {
	comms    []*gridComm
	orphan   *gridUnit
	problems []Injected
	features int
	// gridded: communities with grids; reached: communities without grids
	// that a grid problem reaches into (one problem each).
	gridded, reached map[int32]bool
}

// streetKind is a street's kind (街道, 镇 or 乡), which decides 社区 or 村.
func (g *gen) streetKind(si int32) string {
	u := unit(hash3(g.seed, saltKinds, int(si), 0))
	switch {
	case u >= 0.9:
		return "乡"
	case u >= 0.7:
		return "镇"
	}
	return "街道"
}

// communityKind is 村 for most communities of a 镇 or 乡, else 社区.
func (g *gen) communityKind(streetKind string, ci int32) string {
	if streetKind != "街道" && unit(hash3(g.seed, saltKinds, -1-int(ci), 0)) < 0.7 {
		return "村"
	}
	return "社区"
}

// planGrids lays out the grids and their injected problems. Scales without
// alleys (national) have none.
func (g *gen) planGrids() (*gridPlan, error) {
	pl := &gridPlan{gridded: map[int32]bool{}, reached: map[int32]bool{}}
	if !g.sp.alleys {
		return pl, nil
	}
	// A third of the streets, by hash rank among those with all their
	// alleys (3×3 sub-cells a cell): exactly ⌈n/3⌉ of them.
	var order []int32
	for si := range g.c.streets {
		if g.allAlleys(int32(si)) {
			order = append(order, int32(si))
		}
	}
	key := func(si int32) uint64 { return hash3(g.seed, saltGrids, int(si), 0) }
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(key(a), key(b)) })
	with := make([]bool, len(g.c.streets))
	for _, si := range order[:min((len(g.c.streets)+2)/3, len(order))] {
		with[si] = true
	}
	for si := range g.c.streets {
		if !with[si] {
			continue
		}
		s := g.c.streets[si]
		words := uniqueWords(g.seed, -1-si, int(s.count))
		sk := g.streetKind(int32(si))
		for k := range s.count {
			ci := s.first + k
			if g.mods[ci] != nil {
				continue
			}
			kind := g.communityKind(sk, ci)
			gc, err := g.gridCommunity(ci, words[k]+kind, kind)
			if err != nil {
				return nil, fmt.Errorf("grids of %s: %w", g.c.communityCode(ci), err)
			}
			pl.comms = append(pl.comms, gc)
			pl.gridded[ci] = true
		}
	}
	if err := g.injectGrids(pl); err != nil {
		return nil, err
	}
	for _, gc := range pl.comms {
		for _, gr := range gc.grids {
			gr.hh, gr.pop = gc.countIn(gr.polys)
		}
		pl.features += len(gc.grids)
	}
	if pl.orphan != nil {
		pl.features++
	}
	slices.SortStableFunc(pl.problems, func(a, b Injected) int {
		if d := slices.Index(gridKindOrder, a.Kind) - slices.Index(gridKindOrder, b.Kind); d != 0 {
			return d
		}
		return slices.Compare(a.Codes, b.Codes)
	})
	return pl, nil
}

// allAlleys says whether street si has both alleys in every column and row.
func (g *gen) allAlleys(si int32) bool {
	r := g.c.streets[si].r
	for x := r.x0; x < r.x1; x++ {
		if len(g.alleys(si, true, x)) < 2 {
			return false
		}
	}
	for y := r.y0; y < r.y1; y++ {
		if len(g.alleys(si, false, y)) < 2 {
			return false
		}
	}
	return true
}

// commPoints recomputes a community's building points and their counts
// exactly as the points file has them.
func (g *gen) commPoints(ci int32) (pts []pt, ph, pp []int, err error) {
	pts, err = g.points(int(ci), g.geometry(ci, nil), nil, g.c.communities[ci].rect(), nil)
	if err != nil {
		return nil, nil, nil, err
	}
	hh, pop := int(g.hh[ci]), int(g.pop[ci])
	ph = splitCount(hh, len(pts), hash3(g.seed, saltPoints, int(ci), -1), nil)
	return pts, ph, splitProportional(pop, ph, hh, nil), nil
}

// gridCommunity cuts community ci into sub-cells and groups them into
// numbered grids.
func (g *gen) gridCommunity(ci int32, name, kind string) (*gridComm, error) {
	gc := &gridComm{ci: ci, code: g.c.communityCode(ci), name: name, kind: kind}
	var err error
	if gc.pts, gc.ph, gc.pp, err = g.commPoints(ci); err != nil {
		return nil, err
	}
	if err := g.subdivide(gc); err != nil {
		return nil, err
	}
	cellHH := make([]int, len(gc.subs))
	for i, p := range gc.pts {
		for s, r := range gc.subs {
			if inRing(p, r) {
				cellHH[s] += gc.ph[i]
				break
			}
		}
	}
	gridKind := "社区网格"
	if kind == "村" {
		gridKind = "农村网格"
	}
	lo, target, hi := gridSize(kind)
	for _, run := range snakeRuns(gc.cols, gc.rows, cellHH, lo, target, hi) {
		ring, err := gc.union(run)
		if err != nil {
			return nil, err
		}
		gc.grids = append(gc.grids, &gridUnit{kind: gridKind, cells: run, polys: [][][]pt{{ring}}})
	}
	numberGrids(gc.grids)
	for i, gr := range gc.grids {
		gr.code = fmt.Sprintf("%s%03d", gc.code, i+1)
		gr.name = fmt.Sprintf("%s第%s网格", name, chineseNumber(i+1))
	}
	return gc, nil
}

// union is the ring of some of the community's sub-cells, which must make
// one simple polygon.
func (gc *gridComm) union(cells []int) ([]pt, error) {
	rings := make([][]pt, len(cells))
	for i, c := range cells {
		rings[i] = gc.subs[c]
	}
	out, ok := unionRings(rings)
	if !ok || len(out) != 1 || !ringSimple(out[0]) {
		return nil, fmt.Errorf("sub-cells %v do not make one simple polygon", cells)
	}
	return out[0], nil
}

// unionRings merges rings that share boundary pieces vertex for vertex:
// segments met in both directions are interior and dropped, the rest are
// chained into rings (in the order the segments come). False when a
// vertex has two ways on (rings touching at a point) or a chain is open.
func unionRings(rings [][]pt) ([][]pt, bool) {
	type seg struct{ a, b pt }
	have := map[seg]bool{}
	for _, r := range rings {
		for i := 0; i+1 < len(r); i++ {
			have[seg{r[i], r[i+1]}] = true
		}
	}
	next := map[pt][]pt{}
	var kept []seg
	for _, r := range rings {
		for i := 0; i+1 < len(r); i++ {
			if s := (seg{r[i], r[i+1]}); !have[seg{s.b, s.a}] {
				kept = append(kept, s)
				next[s.a] = append(next[s.a], s.b)
			}
		}
	}
	used := map[seg]bool{}
	var out [][]pt
	for _, s := range kept {
		if used[s] {
			continue
		}
		ring := []pt{s.a}
		for cur := s; ; {
			used[cur] = true
			ring = append(ring, cur.b)
			if cur.b == s.a {
				break
			}
			nx := next[cur.b]
			if len(nx) != 1 || used[seg{cur.b, nx[0]}] {
				return nil, false
			}
			cur = seg{cur.b, nx[0]}
		}
		out = append(out, ring)
	}
	return out, true
}

// gridSize is the households a grid is cut for: 300–500 in a city, about
// 300 in a village, as beijing-2020 has them.
func gridSize(kind string) (lo, target, hi int) {
	if kind == "村" {
		return 150, 250, 300
	}
	return 300, 400, 500
}

// snakeRuns cuts a snake through a cols×rows array of sub-cells (row 0
// north) into runs whose households are as close to lo–hi as they can
// be: exact dynamic programming over the cut points, for each of the eight
// snakes (by rows or by columns, from each corner), the best kept.
func snakeRuns(cols, rows int, hh []int, lo, target, hi int) [][]int {
	cost := func(h int) float64 {
		d := max(lo-h, h-hi, 0)
		return 1000*float64(d*d) + float64((h-target)*(h-target))
	}
	var best [][]int
	bestCost := math.Inf(1)
	for o := range 8 {
		n, m := rows, cols // lines, cells a line
		if o&4 != 0 {
			n, m = cols, rows
		}
		var seq []int
		for i := range n {
			for k := range m {
				a, b := i, k
				if i%2 == 1 {
					b = m - 1 - k
				}
				if o&1 != 0 {
					a = n - 1 - a
				}
				if o&2 != 0 {
					b = m - 1 - b
				}
				if o&4 != 0 {
					a, b = b, a
				}
				seq = append(seq, a*cols+b)
			}
		}
		if runs, c := cutRuns(seq, hh, cost); c < bestCost {
			best, bestCost = runs, c
		}
	}
	return best
}

// cutRuns cuts seq into consecutive runs of least total cost.
func cutRuns(seq, hh []int, cost func(int) float64) ([][]int, float64) {
	n := len(seq)
	best, from := make([]float64, n+1), make([]int, n+1)
	for i := 1; i <= n; i++ {
		best[i] = math.Inf(1)
		h := 0
		for j := i - 1; j >= 0; j-- {
			h += hh[seq[j]]
			if c := best[j] + cost(h); c < best[i] {
				best[i], from[i] = c, j
			}
		}
	}
	var runs [][]int
	for i := n; i > 0; i = from[i] {
		runs = append(runs, slices.Clone(seq[from[i]:i]))
	}
	slices.Reverse(runs)
	return runs, best[n]
}

// numberGrids orders a community's grids as `jiedao grids renumber`
// does (see the package comment above), in lon/lat: rows of height the
// median north–south extent of the grids, counted from the northernmost
// edge; within a row west→east by label point, then north first.
func numberGrids(gs []*gridUnit) {
	type lab struct {
		lon, lat, n, s float64
		g              *gridUnit
	}
	labs := make([]lab, len(gs))
	var heights []float64
	top := math.Inf(-1)
	for i, gr := range gs {
		ll := make([]pt, len(gr.polys[0][0]))
		for k, p := range gr.polys[0][0] {
			ll[k].x, ll[k].y = project(p)
		}
		b := bounds(ll)
		q := pointOnSurface(ll, b)
		labs[i] = lab{q.x, q.y, b[3], b[1], gr}
		heights = append(heights, b[3]-b[1])
		top = math.Max(top, b[3])
	}
	slices.Sort(heights)
	h := heights[len(heights)/2]
	if len(heights)%2 == 0 {
		h = (heights[len(heights)/2-1] + h) / 2
	}
	row := func(l lab) float64 { return math.Floor((top - l.lat) / h) }
	slices.SortStableFunc(labs, func(a, b lab) int {
		return cmp.Or(cmp.Compare(row(a), row(b)), cmp.Compare(a.lon, b.lon), cmp.Compare(b.lat, a.lat))
	})
	for i, l := range labs {
		gs[i] = l.g
	}
}

// pointOnSurface is a ring's label point as PostGIS's ST_PointOnSurface
// finds it (GEOS's interior point): on the horizontal line halfway between
// the vertices nearest above and below the middle of the bounds b, the
// middle of the widest stretch inside the ring.
func pointOnSurface(r []pt, b [4]float64) pt {
	mid := (b[1] + b[3]) / 2
	hi, lo := b[3], b[1]
	for _, p := range r {
		if p.y > mid {
			hi = math.Min(hi, p.y)
		} else {
			lo = math.Max(lo, p.y)
		}
	}
	y := (hi + lo) / 2
	var xs []float64
	for i := 0; i+1 < len(r); i++ {
		a, c := r[i], r[i+1]
		if (a.y > y) != (c.y > y) {
			xs = append(xs, a.x+(y-a.y)*(c.x-a.x)/(c.y-a.y))
		}
	}
	slices.Sort(xs)
	best := pt{(b[0] + b[2]) / 2, y}
	for i, w := 0, -1.0; i+1 < len(xs); i += 2 {
		if xs[i+1]-xs[i] > w {
			best, w = pt{(xs[i] + xs[i+1]) / 2, y}, xs[i+1]-xs[i]
		}
	}
	return best
}

// centroid is the area centroid of a closed ring.
func centroid(r []pt) pt {
	var a, cx, cy float64
	for i := 0; i+1 < len(r); i++ {
		c := r[i].x*r[i+1].y - r[i+1].x*r[i].y
		a += c
		cx += (r[i].x + r[i+1].x) * c
		cy += (r[i].y + r[i+1].y) * c
	}
	return pt{cx / (3 * a), cy / (3 * a)}
}

// countIn sums the households and population of the community's points
// inside polygons.
func (gc *gridComm) countIn(polys [][][]pt) (hh, pop int) {
	for i, p := range gc.pts {
		if inPolys(p, polys) {
			hh, pop = hh+gc.ph[i], pop+gc.pp[i]
		}
	}
	return hh, pop
}

func inPolys(p pt, polys [][][]pt) bool {
	for _, poly := range polys {
		if inRing(p, poly[0]) && !slices.ContainsFunc(poly[1:], func(h []pt) bool { return inRing(p, h) }) {
			return true
		}
	}
	return false
}

// writeGrids writes grids.geojson: community by community in street
// order, each community's grids in code order, the orphan grid last.
func (g *gen) writeGrids(dir string, progress func(), pl *gridPlan) (FileInfo, error) {
	w, err := createFC(dir, GridsFile, progress)
	if err != nil {
		return FileInfo{}, err
	}
	write := func(gr *gridUnit, parent string) error {
		w.start()
		w.str("code", gr.code, true)
		w.str("name", gr.name, false)
		w.str("parent_code", parent, false)
		w.str("kind", gr.kind, false)
		w.int("households", gr.hh)
		w.int("population", gr.pop)
		if len(gr.polys) == 1 {
			w.geometry("Polygon")
			w.polygon(gr.polys[0]...)
		} else {
			w.geometry("MultiPolygon")
			w.buf = append(w.buf, '[')
			for i, p := range gr.polys {
				if i > 0 {
					w.buf = append(w.buf, ',')
				}
				w.polygon(p...)
			}
			w.buf = append(w.buf, ']')
		}
		return w.end()
	}
	for _, gc := range pl.comms {
		for _, gr := range gc.grids {
			if err := write(gr, gc.code); err != nil {
				return FileInfo{}, err
			}
		}
	}
	if o := pl.orphan; o != nil {
		if err := write(o, o.code[:12]); err != nil {
			return FileInfo{}, err
		}
	}
	return w.close()
}

// gridLine is a line across a cell (a lattice edge or an alley) with the
// indices of its nodes: where the lines across it meet it, ends included.
type gridLine struct {
	p    []pt
	node []int
}

// piece is the line from node i to node j (backwards when j < i).
func (l gridLine) piece(i, j int) []pt {
	a, b := l.node[i], l.node[j]
	if a <= b {
		return l.p[a : b+1]
	}
	return reversed(l.p[b : a+1])
}

// subdivide cuts a community into sub-cells: each cell along its street's
// alleys, row-major over the whole community, row 0 the northernmost.
func (g *gen) subdivide(gc *gridComm) error {
	cm := g.c.communities[gc.ci]
	r := cm.rect()
	nu := func(x int32) int { return len(g.alleys(cm.street, true, x)) }
	nv := func(y int32) int { return len(g.alleys(cm.street, false, y)) }
	colOff, rowOff := map[int32]int{}, map[int32]int{}
	for x := r.x0; x < r.x1; x++ {
		colOff[x] = gc.cols
		gc.cols += nu(x) + 1
	}
	for y := r.y0; y < r.y1; y++ {
		rowOff[y] = gc.rows
		gc.rows += nv(y) + 1
	}
	gc.subs = make([][]pt, gc.cols*gc.rows)
	for y := r.y0; y < r.y1; y++ {
		for x := r.x0; x < r.x1; x++ {
			subs, err := g.cellSubs(x, y, cm.street, gc.pts)
			if err != nil {
				return fmt.Errorf("cell %d,%d: %w", x, y, err)
			}
			w := nu(x) + 1
			for i, s := range subs {
				row := gc.rows - 1 - (rowOff[y] + i/w) // from the north
				gc.subs[row*gc.cols+colOff[x]+i%w] = s
			}
		}
	}
	return nil
}

// alleys are the positions across the cell of street si's alleys in a
// column (vert) or row.
func (g *gen) alleys(si int32, vert bool, at int32) []float64 {
	var out []float64
	for k := 1; k <= 2; k++ {
		if pos, ok := g.alleyAt(si, vert, at, k); ok {
			out = append(out, pos)
		}
	}
	return out
}

// cellSubs cuts cell (x,y) along its alleys into sub-cells, row-major from
// the south-west, counter-clockwise rings.
func (g *gen) cellSubs(x, y, si int32, pts []pt) ([][]pt, error) {
	l := &g.c.lat
	us, vs := g.alleys(si, true, x), g.alleys(si, false, y)
	nu, nv := len(us), len(vs)
	edge := func(e edgeKey, poss []float64) gridLine {
		p := l.edge(e, nil)
		return gridLine{p, append(append([]int{0}, splitIdx(p, poss)...), len(p)-1)}
	}
	V, H := make([]gridLine, nu+2), make([]gridLine, nv+2)
	V[0], V[nu+1] = edge(edgeKey{true, x, y}, vs), edge(edgeKey{true, x + 1, y}, vs)
	H[0], H[nv+1] = edge(edgeKey{false, x, y}, us), edge(edgeKey{false, x, y + 1}, us)
	c := l.cellCorners(x, y) // SW, SE, NE, NW
	va, ha := make([][2]pt, nu), make([][2]pt, nv)
	for a, u := range us {
		va[a] = [2]pt{lerp(c[0], c[1], u), lerp(c[3], c[2], u)}
	}
	for b, v := range vs {
		ha[b] = [2]pt{lerp(c[0], c[3], v), lerp(c[1], c[2], v)}
	}
	I := make([][]pt, nu)
	ts, tw := make([][]float64, nu), make([][]float64, nv) // crossing parameters along each alley
	for a := range us {
		I[a] = make([]pt, nv)
		for b := range vs {
			p, s, t, ok := intersect(va[a], ha[b])
			if !ok {
				return nil, errors.New("alleys do not cross inside the cell")
			}
			I[a][b] = p
			ts[a], tw[b] = append(ts[a], s), append(tw[b], t)
		}
	}
	for a := range us {
		ln, err := alleyLine(va[a], H[0].p[H[0].node[a+1]], H[nv+1].p[H[nv+1].node[a+1]], I[a], ts[a], pts)
		if err != nil {
			return nil, err
		}
		V[a+1] = ln
	}
	for b := range vs {
		cross := make([]pt, nu)
		for a := range us {
			cross[a] = I[a][b]
		}
		ln, err := alleyLine(ha[b], V[0].p[V[0].node[b+1]], V[nu+1].p[V[nu+1].node[b+1]], cross, tw[b], pts)
		if err != nil {
			return nil, err
		}
		H[b+1] = ln
	}
	var subs [][]pt
	for b := 0; b <= nv; b++ {
		for a := 0; a <= nu; a++ {
			r := slices.Clone(H[b].piece(a, a+1))
			for _, p := range [][]pt{V[a+1].piece(b, b+1), H[b+1].piece(a+1, a), V[a].piece(b+1, b)} {
				r = append(r, p[1:]...)
			}
			if !ringSimple(r) {
				return nil, fmt.Errorf("sub-cell %d,%d is not a simple ring", a, b)
			}
			subs = append(subs, r)
		}
	}
	return subs, nil
}

// alleyLine is a grid boundary along an alley (from, to: its ends on the
// cell's edges): from the edge vertex start along a short connector to the
// alley, along it through its crossings, to the edge vertex end.
// Connectors join the alley about connectorEnd from each edge, moved until
// they pass every building point at connectorClear or more.
func alleyLine(alley [2]pt, start, end pt, crossings []pt, at []float64, pts []pt) (gridLine, error) {
	L := math.Hypot(alley[1].x-alley[0].x, alley[1].y-alley[0].y)
	lo, hi := 0.45, 0.55 // the connectors stay short of the crossings
	if len(at) > 0 {
		lo, hi = at[0]-0.05, at[len(at)-1]+0.05
	}
	join := func(edge pt, far bool) (pt, bool) {
		for _, d := range []float64{connectorEnd, 50, 70, 40, 80, 30} {
			f := d / L
			if far {
				f = 1 - f
			}
			if !far && f >= lo || far && f <= hi {
				continue
			}
			q := lerp(alley[0], alley[1], f)
			if !slices.ContainsFunc(pts, func(p pt) bool { return pointSegDist(p, edge, q) < connectorClear }) {
				return q, true
			}
		}
		return pt{}, false
	}
	qs, ok1 := join(start, false)
	qe, ok2 := join(end, true)
	if !ok1 || !ok2 {
		return gridLine{}, errors.New("no room for an alley's connector")
	}
	ln := gridLine{p: []pt{start, qs}, node: []int{0}}
	for _, c := range crossings {
		ln.node = append(ln.node, len(ln.p))
		ln.p = append(ln.p, c)
	}
	ln.p = append(ln.p, qe, end)
	ln.node = append(ln.node, len(ln.p)-1)
	return ln, nil
}

// splitIdx picks, for each alley position along a lattice edge (sorted),
// a distinct interior vertex of the edge's polyline p, the nearest by
// position along the chord.
func splitIdx(p []pt, poss []float64) []int {
	a, b := p[0], p[len(p)-1]
	d := pt{b.x - a.x, b.y - a.y}
	t := func(i int) float64 { return ((p[i].x-a.x)*d.x + (p[i].y-a.y)*d.y) / (d.x*d.x + d.y*d.y) }
	best, bestCost := []int(nil), math.Inf(1)
	var try func(k, from int, cur []int, cost float64)
	try = func(k, from int, cur []int, cost float64) {
		if k == len(poss) {
			if cost < bestCost {
				best, bestCost = slices.Clone(cur), cost
			}
			return
		}
		for i := from; i < len(p)-1; i++ {
			try(k+1, i+1, append(cur, i), cost+math.Abs(t(i)-poss[k]))
		}
	}
	try(0, 1, nil, 0)
	return best
}

// intersect crosses segments a and b: the point and its parameters along
// each, false unless they cross inside both.
func intersect(a, b [2]pt) (pt, float64, float64, bool) {
	r := pt{a[1].x - a[0].x, a[1].y - a[0].y}
	s := pt{b[1].x - b[0].x, b[1].y - b[0].y}
	den := r.x*s.y - r.y*s.x
	if den == 0 {
		return pt{}, 0, 0, false
	}
	w := pt{b[0].x - a[0].x, b[0].y - a[0].y}
	t, u := (w.x*s.y-w.y*s.x)/den, (w.x*r.y-w.y*r.x)/den
	return lerp(a[0], a[1], t), t, u, t > 0 && t < 1 && u > 0 && u < 1
}

// injectGrids places sp.inject grid problems of each kind, each in its own
// community, round-robin like the community problems, and one orphan grid.
func (g *gen) injectGrids(pl *gridPlan) error {
	r := newRNG(g.seed, saltGrids)
	order := slices.Clone(pl.comms)
	shuffle(r, order)
	kinds := []struct {
		name string
		try  func(*gridComm) (Injected, bool)
	}{
		{KindOverlap, g.tryGridOverlap},
		{KindUnowned, g.tryUnowned},
		{KindCrossesParent, func(gc *gridComm) (Injected, bool) { return g.tryGridCrosses(gc, r, pl) }},
		{KindNoncontiguous, func(gc *gridComm) (Injected, bool) { return g.tryGridNoncontiguous(gc, r) }},
	}
	for round := 0; round < g.sp.inject; round++ {
		for _, k := range kinds {
			placed := false
			for _, gc := range order {
				if gc.injected {
					continue
				}
				if in, ok := k.try(gc); ok {
					gc.injected, placed = true, true
					pl.problems = append(pl.problems, in)
					break
				}
			}
			if !placed {
				return fmt.Errorf("could not place grid %s problem %d of %d", k.name, round+1, g.sp.inject)
			}
		}
	}
	return g.placeGridOrphan(pl, r)
}

// neighbours lists the sub-cells sharing a side with sub-cell c.
func (gc *gridComm) neighbours(c int) []int {
	col, row := c%gc.cols, c/gc.cols
	var out []int
	for _, d := range [4][2]int{{-1, 0}, {1, 0}, {0, -1}, {0, 1}} {
		if x, y := col+d[0], row+d[1]; x >= 0 && x < gc.cols && y >= 0 && y < gc.rows {
			out = append(out, y*gc.cols+x)
		}
	}
	return out
}

func (gc *gridComm) owner(c int) *gridUnit {
	for _, gr := range gc.grids {
		if slices.Contains(gr.cells, c) {
			return gr
		}
	}
	return nil
}

func sortedCodes(a, b string) []string {
	if b < a {
		a, b = b, a
	}
	return []string{a, b}
}

// tryGridOverlap gives grid a a sub-cell of its neighbour b as well: b
// keeps it, so the two overlap there.
func (g *gen) tryGridOverlap(gc *gridComm) (Injected, bool) {
	for _, a := range gc.grids {
		for _, c := range a.cells {
			for _, n := range gc.neighbours(c) {
				b := gc.owner(n)
				if b == a || len(b.cells) < 2 {
					continue
				}
				ring, err := gc.union(append(slices.Clone(a.cells), n))
				if err != nil {
					continue
				}
				a.polys = [][][]pt{{ring}}
				return Injected{Kind: KindOverlap, Level: LevelGrid, Codes: sortedCodes(a.code, b.code), ParentCode: gc.code,
					AreaM2: roundArea(signedArea(gc.subs[n]))}, true
			}
		}
	}
	return Injected{}, false
}

// tryUnowned takes a sub-cell from a grid of several and gives it to no
// grid: community ground no grid covers.
func (g *gen) tryUnowned(gc *gridComm) (Injected, bool) {
	for _, b := range gc.grids {
		if len(b.cells) < 2 {
			continue
		}
		for i, c := range b.cells {
			rest := slices.Delete(slices.Clone(b.cells), i, i+1)
			ring, err := gc.union(rest)
			if err != nil {
				continue
			}
			b.cells, b.polys = rest, [][][]pt{{ring}}
			return Injected{Kind: KindUnowned, Level: LevelCommunity, Codes: []string{gc.code},
				ParentCode: g.c.streetCode(g.c.communities[gc.ci].street), Near: []string{b.code},
				AreaM2: roundArea(signedArea(gc.subs[c]))}, true
		}
	}
	return Injected{}, false
}

// tryGridCrosses bulges a grid's side on the community's edge out into a
// neighbouring community without grids (whose ground no other grid
// claims), a few thousand m², well inside that neighbour.
func (g *gen) tryGridCrosses(gc *gridComm, r *rng, pl *gridPlan) (Injected, bool) {
	rc := g.c.communities[gc.ci].rect()
	for _, s := range perimeter(rc, nil) {
		e := s.e
		a, b := g.c.commAt(e.i, e.j), g.c.commAt(e.i, e.j-1)
		if e.vert {
			a, b = g.c.commAt(e.i-1, e.j), g.c.commAt(e.i, e.j)
		}
		n := a
		if n == gc.ci {
			n = b
		}
		if n < 0 || g.mods[n] != nil || pl.reached[n] || pl.gridded[n] {
			continue
		}
		host := g.geometry(n, nil).outer
		p := g.c.lat.edge(e, nil)
		for i := 0; i+1 < len(p); i++ {
			if math.Hypot(p[i+1].x-p[i].x, p[i+1].y-p[i].y) < 100 {
				continue
			}
			for _, gr := range gc.grids {
				ring := gr.polys[0][0]
				k := slices.IndexFunc(ring[:len(ring)-1], func(q pt) bool { return q == p[i] || q == p[i+1] })
				if k < 0 || (ring[k+1] != p[i] && ring[k+1] != p[i+1]) {
					continue
				}
				bulge, area := bulgeOut(ring[k], ring[k+1], 4000+3000*r.float())
				if !slices.ContainsFunc(bulge, func(q pt) bool { return !inRing(q, host) || ringDist(q, host) < 15 }) {
					nr := slices.Concat(ring[:k+1], bulge, ring[k+1:])
					if ringSimple(nr) {
						gr.polys[0][0] = nr
						pl.reached[n] = true
						return Injected{Kind: KindCrossesParent, Level: LevelGrid, Codes: []string{gr.code}, ParentCode: gc.code,
							Near: []string{g.c.communityCode(n)}, AreaM2: roundArea(area)}, true
					}
				}
			}
		}
	}
	return Injected{}, false
}

// bulgeOut is three vertices pushed right of segment p→q (outside a
// counter-clockwise ring) sweeping about target m², at most 80 m deep,
// and the area swept.
func bulgeOut(p, q pt, target float64) ([]pt, float64) {
	L := math.Hypot(q.x-p.x, q.y-p.y)
	n := pt{(q.y - p.y) / L, -(q.x - p.x) / L}
	build := func(d float64) []pt {
		var out []pt
		for m, t := range [3]float64{0.25, 0.5, 0.75} {
			dd := d
			if m == 1 {
				dd *= 1.15
			}
			b := lerp(p, q, t)
			out = append(out, pt{b.x + n.x*dd, b.y + n.y*dd})
		}
		return out
	}
	area := func(b []pt) float64 { return math.Abs(signedArea(closeRing(slices.Concat([]pt{p}, b, []pt{q})))) }
	d := math.Min(target/area(build(1)), 80)
	b := build(d)
	return b, area(b)
}

// tryGridNoncontiguous cuts a small square out of a grid and gives it to
// another grid of the community as a detached second part.
func (g *gen) tryGridNoncontiguous(gc *gridComm, r *rng) (Injected, bool) {
	if len(gc.grids) < 2 {
		return Injected{}, false
	}
	for bi, b := range gc.grids {
		a := gc.grids[(bi+1)%len(gc.grids)]
		for _, c := range b.cells {
			sub := gc.subs[c]
			sq := square(centroid(sub), 60+25*r.float(), math.Pi/2*r.float())
			if slices.ContainsFunc(sq, func(q pt) bool { return !inRing(q, sub) || ringDist(q, sub) < squareClearance }) {
				continue
			}
			b.polys[0] = append(b.polys[0], reversed(sq))
			a.polys = append(a.polys, [][]pt{sq})
			return Injected{Kind: KindNoncontiguous, Level: LevelGrid, Codes: []string{a.code}, ParentCode: gc.code,
				Near: []string{b.code}, AreaM2: roundArea(signedArea(sq))}, true
		}
	}
	return Injected{}, false
}

// square is a closed counter-clockwise square of a side, turned by th.
func square(c pt, side, th float64) []pt {
	var sq []pt
	for m := range 4 {
		ang := th + math.Pi/4 + float64(m)*math.Pi/2
		sq = append(sq, pt{c.x + side/math.Sqrt2*math.Cos(ang), c.y + side/math.Sqrt2*math.Sin(ang)})
	}
	return closeRing(sq)
}

// placeGridOrphan puts one grid whose community does not exist (its
// street's code and 999) inside a community without grids.
func (g *gen) placeGridOrphan(pl *gridPlan, r *rng) error {
	for try := 0; try < 1000; try++ {
		n := int32(r.intn(len(g.c.communities)))
		if g.mods[n] != nil || pl.reached[n] || pl.gridded[n] {
			continue
		}
		cm := g.c.communities[n]
		c := bilinear(g.c.lat.cellCorners(cm.x, cm.y), 0.5, 0.5)
		var ring []pt
		for m := range 8 {
			h := hash3(g.seed, saltGrids, int(n), m+1)
			th := 2*math.Pi*float64(m)/8 + 0.3*(unit(h)-0.5)
			rad := 0.2 * cellSize * (0.85 + 0.3*unit(mix(h)))
			ring = append(ring, pt{c.x + rad*math.Cos(th), c.y + rad*math.Sin(th)})
		}
		ring = closeRing(ring)
		host := g.geometry(n, nil).outer
		if slices.ContainsFunc(ring, func(q pt) bool { return !inRing(q, host) || ringDist(q, host) < 20 }) {
			continue
		}
		parent := g.c.streetCode(cm.street) + "999" // streets have at most 999 communities, the demo's far fewer
		o := &gridUnit{code: parent + "001", name: word(g.seed, math.MinInt32, 1, 0) + "网格", kind: "社区网格", polys: [][][]pt{{ring}}}
		pts, ph, pp, err := g.commPoints(n)
		if err != nil {
			return err
		}
		o.hh, o.pop = (&gridComm{pts: pts, ph: ph, pp: pp}).countIn(o.polys)
		pl.orphan = o
		pl.problems = append(pl.problems, Injected{Kind: KindOrphan, Level: LevelGrid, Codes: []string{o.code},
			ParentCode: parent, AreaM2: roundArea(signedArea(ring))})
		return nil
	}
	return errors.New("no room for the orphan grid")
}
