package boundaries

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// Straight cuts: a community (one polygon) is bisected recursively by
// straight lines between its building points, each line crossing the piece
// it cuts exactly once, so both sides are one piece each. The geometry is
// planar in metres around the community (an affine map of longitude and
// latitude, so lines stay lines); the parts themselves are made by PostGIS
// from the half-planes.

// xy is a point in local metres.
type xy struct{ x, y float64 }

// halfPlane is {p : a·p.x + b·p.y < c}.
type halfPlane struct{ a, b, c float64 }

// poly is a polygon: outer ring then holes, each without the closing
// vertex.
type poly [][]xy

// weighted is a building point (or several at one place) in local metres.
type weighted struct {
	p xy
	w float64
}

// frame maps longitude/latitude to local metres and back.
type frame struct{ lon0, lat0, kx, ky float64 }

func newFrame(minX, minY, maxX, maxY float64) frame {
	lat0 := (minY + maxY) / 2
	const m = 6371008.8 * math.Pi / 180 // metres per degree of a great circle
	return frame{(minX + maxX) / 2, lat0, m * math.Cos(lat0*math.Pi/180), m}
}

func (f frame) to(lon, lat float64) xy { return xy{(lon - f.lon0) * f.kx, (lat - f.lat0) * f.ky} }

func (f frame) from(p xy) (lon, lat float64) { return f.lon0 + p.x/f.kx, f.lat0 + p.y/f.ky }

func (pg poly) areaPerim() (area, perim float64) {
	for i, r := range pg {
		var a float64
		for j := range r {
			p, q := r[j], r[(j+1)%len(r)]
			a += p.x*q.y - q.x*p.y
			perim += math.Hypot(q.x-p.x, q.y-p.y)
		}
		if i == 0 {
			area += math.Abs(a) / 2
		} else {
			area -= math.Abs(a) / 2
		}
	}
	return area, perim
}

// cutPoly splits pg by the line n·p = c into the sides n·p < c and
// n·p ≥ c, or reports false when the line crosses pg more than once (a
// side would be in several pieces) or not at all.
func cutPoly(pg poly, nx, ny, c float64) (lo, hi poly, ok bool) {
	crossings := 0
	for _, r := range pg {
		for j := range r {
			p, q := r[j], r[(j+1)%len(r)]
			if (nx*p.x+ny*p.y < c) != (nx*q.x+ny*q.y < c) {
				crossings++
			}
		}
	}
	if crossings != 2 {
		return nil, nil, false
	}
	for _, r := range pg {
		l, h := clipRing(r, nx, ny, c)
		if len(l) >= 3 {
			lo = append(lo, l)
		}
		if len(h) >= 3 {
			hi = append(hi, h)
		}
	}
	// The outer ring is crossed (a hole crossed too would make more than
	// two crossings), so both sides have it first.
	return lo, hi, len(lo) > 0 && len(hi) > 0
}

// clipRing is Sutherland-Hodgman for a half-plane, both sides at once; a
// crossing point is computed once for both.
func clipRing(r []xy, nx, ny, c float64) (lo, hi []xy) {
	for j := range r {
		p, q := r[j], r[(j+1)%len(r)]
		sp, sq := nx*p.x+ny*p.y-c, nx*q.x+ny*q.y-c
		if sp < 0 {
			lo = append(lo, p)
		} else {
			hi = append(hi, p)
		}
		if (sp < 0) != (sq < 0) {
			t := sp / (sp - sq)
			x := xy{p.x + t*(q.x-p.x), p.y + t*(q.y-p.y)}
			lo, hi = append(lo, x), append(hi, x)
		}
	}
	return lo, hi
}

// cutter finds straight recursive bisections of one community.
type cutter struct {
	pts   []weighted
	unit  float64 // total weight / k
	total float64
	ok    func(share float64) bool
}

// cutPlan is a way to cut a piece into parts: per part, the half-planes
// bounding it and its points.
type cutPlan struct {
	cost float64
	hs   [][]halfPlane
	pts  [][]int
}

func (ct *cutter) cost(w, area, perim float64, k int) float64 {
	return partCost(w, area, perim, k, ct.unit, ct.total, ct.ok)
}

func (ct *cutter) weight(idx []int) float64 {
	var w float64
	for _, i := range idx {
		w += ct.pts[i].w
	}
	return w
}

// cutCand is one cut of a piece: the line (its low side), the parts on
// that side, the cost of both sides as they are and, with few points
// (exactCells ≤ 64), which points are on the low side.
type cutCand struct {
	h     halfPlane
	k1    int
	local float64
	low   uint64
}

// sides are the points of idx on either side of h.
func (ct *cutter) sides(idx []int, h halfPlane) (lo, hi []int) {
	for _, i := range idx {
		if p := ct.pts[i].p; h.a*p.x+h.b*p.y < h.c {
			lo = append(lo, i)
		} else {
			hi = append(hi, i)
		}
	}
	return lo, hi
}

// plan cuts pg holding points idx into k parts; nil if no cut crosses a
// piece once. Up to exactCells points every distinct cut is followed to
// the end (the best whole plan); above, the best cut by its two sides.
func (ct *cutter) plan(pg poly, idx []int, k int) *cutPlan {
	if k <= 1 {
		a, p := pg.areaPerim()
		return &cutPlan{cost: ct.cost(ct.weight(idx), a, p, 1), hs: [][]halfPlane{nil}, pts: [][]int{idx}}
	}
	cands := ct.cuts(pg, idx, k, len(idx) <= exactCells)
	var best *cutPlan
	for _, cd := range cands {
		li, hj := ct.sides(idx, cd.h)
		// Imbalance alone (each side split evenly) is a lower bound.
		lb := 0.0
		for _, s := range []struct {
			w float64
			k int
		}{{ct.weight(li), cd.k1}, {ct.weight(hj), k - cd.k1}} {
			e := s.w/(float64(s.k)*ct.unit) - 1
			lb += float64(s.k) * math.Abs(e)
		}
		if best != nil && lb >= best.cost {
			continue
		}
		lo, hi, _ := cutPoly(pg, cd.h.a, cd.h.b, cd.h.c)
		l := ct.plan(lo, li, cd.k1)
		if l == nil {
			continue
		}
		r := ct.plan(hi, hj, k-cd.k1)
		if r == nil || best != nil && l.cost+r.cost >= best.cost {
			continue
		}
		p := &cutPlan{cost: l.cost + r.cost}
		for i := range l.hs {
			p.hs = append(p.hs, append([]halfPlane{cd.h}, l.hs[i]...))
			p.pts = append(p.pts, l.pts[i])
		}
		flip := halfPlane{-cd.h.a, -cd.h.b, -cd.h.c}
		for i := range r.hs {
			p.hs = append(p.hs, append([]halfPlane{flip}, r.hs[i]...))
			p.pts = append(p.pts, r.pts[i])
		}
		best = p
	}
	return best
}

// cuts lists the cuts of pg in sweepDirs directions, each between two
// consecutive points (at gapAt of the gap), that cross pg once, for k1
// either half of k, best first: all distinct ones (of those with the same
// sides the best), or only the best.
func (ct *cutter) cuts(pg poly, idx []int, k int, all bool) []cutCand {
	m := len(idx)
	ks := []int{k / 2}
	if k%2 == 1 {
		ks = append(ks, k-k/2)
	}
	var out []cutCand
	at := map[[2]uint64]int{}
	pos := make(map[int]int, m)
	for i, j := range idx {
		pos[j] = i
	}
	order := make([]int, m)
	proj := make([]float64, len(ct.pts))
	total := ct.weight(idx)
	for d := 0; d < sweepDirs; d++ {
		th := math.Pi * float64(d) / float64(sweepDirs)
		nx, ny := math.Cos(th), math.Sin(th)
		for _, i := range idx {
			proj[i] = nx*ct.pts[i].p.x + ny*ct.pts[i].p.y
		}
		copy(order, idx)
		sort.SliceStable(order, func(a, b int) bool {
			if proj[order[a]] != proj[order[b]] {
				return proj[order[a]] < proj[order[b]]
			}
			return order[a] < order[b]
		})
		var low uint64
		var lw float64
		for a := 1; a < m; a++ {
			if all {
				low |= 1 << pos[order[a-1]]
			}
			lw += ct.pts[order[a-1]].w
			if proj[order[a-1]] == proj[order[a]] {
				continue
			}
			for _, f := range gapAt {
				c := proj[order[a-1]] + f*(proj[order[a]]-proj[order[a-1]])
				var la, lp, ha, hp float64
				measured := false
				for _, k1 := range ks {
					if a < k1 || m-a < k-k1 {
						continue
					}
					if !measured {
						n, la0, lp0, ha0, hp0 := cutMeasure(pg, nx, ny, c)
						if n != 2 {
							break
						}
						la, lp, ha, hp, measured = la0, lp0, ha0, hp0, true
					}
					cd := cutCand{h: halfPlane{nx, ny, c}, k1: k1, low: low,
						local: ct.cost(lw, la, lp, k1) + ct.cost(total-lw, ha, hp, k-k1)}
					switch {
					case !all:
						if len(out) == 0 {
							out = append(out, cd)
						} else if cd.local < out[0].local {
							out[0] = cd
						}
					default:
						key := [2]uint64{uint64(k1), low}
						if i, ok := at[key]; !ok {
							at[key] = len(out)
							out = append(out, cd)
						} else if cd.local < out[i].local {
							out[i] = cd
						}
					}
				}
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].local < out[b].local })
	return out
}

// cutMeasure is cutPoly without building the sides: how many times the
// line crosses pg's rings, and each side's area and perimeter.
func cutMeasure(pg poly, nx, ny, c float64) (crossings int, la, lp, ha, hp float64) {
	type acc struct {
		first, last xy
		n           int
		a2, per     float64
	}
	push := func(s *acc, p xy) {
		if s.n == 0 {
			s.first = p
		} else {
			s.a2 += s.last.x*p.y - p.x*s.last.y
			s.per += math.Hypot(p.x-s.last.x, p.y-s.last.y)
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
	for i, r := range pg {
		var lo, hi acc
		for j := range r {
			p, q := r[j], r[(j+1)%len(r)]
			sp, sq := nx*p.x+ny*p.y-c, nx*q.x+ny*q.y-c
			if sp < 0 {
				push(&lo, p)
			} else {
				push(&hi, p)
			}
			if (sp < 0) != (sq < 0) {
				crossings++
				t := sp / (sp - sq)
				x := xy{p.x + t*(q.x-p.x), p.y + t*(q.y-p.y)}
				push(&lo, x)
				push(&hi, x)
			}
		}
		a1, p1 := done(&lo)
		a2, p2 := done(&hi)
		if i > 0 {
			a1, a2 = -a1, -a2
		}
		la, lp, ha, hp = la+a1, lp+p1, ha+a2, hp+p2
	}
	return crossings, la, lp, ha, hp
}

// regions are the convex polygons of the parts: the box around a
// community (bounds in local metres) cut by each part's half-planes. A
// corner of one region lying on another's edge is added to that edge, so
// neighbouring parts share their vertices (no slivers when they are
// rounded).
func regions(minX, minY, maxX, maxY float64, hs [][]halfPlane) [][]xy {
	rs := make([][]xy, len(hs))
	for i := range hs {
		r := []xy{{minX, minY}, {maxX, minY}, {maxX, maxY}, {minX, maxY}}
		for _, h := range hs[i] {
			r, _ = clipRing(r, h.a, h.b, h.c)
		}
		rs[i] = r
	}
	const eps = 1e-6 // metres
	out := make([][]xy, len(rs))
	for i, r := range rs {
		for j := range r {
			p, q := r[j], r[(j+1)%len(r)]
			out[i] = append(out[i], p)
			dx, dy := q.x-p.x, q.y-p.y
			l2 := dx*dx + dy*dy
			if l2 == 0 {
				continue
			}
			type on struct {
				t float64
				v xy
			}
			var ins []on
			for o, r2 := range rs {
				if o == i {
					continue
				}
				for _, v := range r2 {
					t := ((v.x-p.x)*dx + (v.y-p.y)*dy) / l2
					if t*t*l2 <= eps*eps || (1-t)*(1-t)*l2 <= eps*eps || t < 0 || t > 1 {
						continue
					}
					if d := math.Abs((v.x-p.x)*dy-(v.y-p.y)*dx) / math.Sqrt(l2); d <= eps {
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

// wkt writes a ring in local metres as a polygon in longitude/latitude.
func (f frame) wkt(r []xy) string {
	var b strings.Builder
	b.WriteString("POLYGON((")
	for i := 0; i <= len(r); i++ {
		lon, lat := f.from(r[i%len(r)])
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(strconv.FormatFloat(lon, 'g', -1, 64) + " " + strconv.FormatFloat(lat, 'g', -1, 64))
	}
	b.WriteString("))")
	return b.String()
}

// straight is one community prepared for straight cuts: its polygon and
// points in local metres, the points' ids in pcell and the polygon's
// bounds.
type straight struct {
	f      frame
	pg     poly
	lo, hi xy
	pts    []weighted
	ids    []int
}

// split cuts the community into k parts (nil if it cannot: too few
// points, or no cut crossing a piece once).
func (st *straight) split(k int, ok func(share float64) bool) []splitPart {
	if st == nil || len(st.pts) < k {
		return nil
	}
	ct := &cutter{pts: st.pts, ok: ok}
	idx := make([]int, len(st.pts))
	for i, p := range st.pts {
		idx[i] = i
		ct.total += p.w
	}
	ct.unit = ct.total / float64(k)
	pl := ct.plan(st.pg, idx, k)
	if pl == nil {
		return nil
	}
	// The box the regions are cut from holds the community with room to
	// spare.
	pad := max(st.hi.x-st.lo.x, st.hi.y-st.lo.y) + 1
	rs := regions(st.lo.x-pad, st.lo.y-pad, st.hi.x+pad, st.hi.y+pad, pl.hs)
	parts := make([]splitPart, len(pl.hs))
	for i := range pl.hs {
		parts[i].region = st.f.wkt(rs[i])
		for _, j := range pl.pts[i] {
			parts[i].ids = append(parts[i].ids, st.ids[j])
			parts[i].w += st.pts[j].w
		}
	}
	return parts
}
