package partition

import (
	"cmp"
	"math"
	"slices"
	"sort"

	"github.com/jiedao/jiedao/geo"
)

// Straight cuts: a community (one polygon) is bisected recursively by
// straight lines between its building points, each line crossing the piece
// it cuts exactly once, so both sides are one piece each. The geometry
// (geo.Polygon, geo.HalfPlane, geo.Frame) is planar in metres around the
// community, an affine map of longitude and latitude so lines stay lines;
// the parts themselves are made by the caller (PostGIS) from the regions
// the half-planes bound.

// Point is a building point (or several at one place) in local metres with
// its weight (households).
type Point struct {
	P geo.XY
	W float64
}

// cutter finds straight recursive bisections of one community.
type cutter struct {
	pts   []Point
	unit  float64 // total weight / k
	total float64
	ok    func(share float64) bool
}

// cutPlan is a way to cut a piece into parts: per part, the half-planes
// bounding it and its points.
type cutPlan struct {
	cost float64
	hs   [][]geo.HalfPlane
	pts  [][]int
}

func (ct *cutter) cost(w, area, perim float64, k int) float64 {
	return partCost(w, area, perim, k, ct.unit, ct.total, ct.ok)
}

func (ct *cutter) weight(idx []int) float64 {
	var w float64
	for _, i := range idx {
		w += ct.pts[i].W
	}
	return w
}

// cutCand is one cut of a piece: the line (its low side), the parts on
// that side, the cost of both sides as they are and, with few points
// (exactCells ≤ 64), which points are on the low side.
type cutCand struct {
	h     geo.HalfPlane
	k1    int
	local float64
	low   uint64
}

// sides are the points of idx on either side of h.
func (ct *cutter) sides(idx []int, h geo.HalfPlane) (lo, hi []int) {
	for _, i := range idx {
		if h.Contains(ct.pts[i].P) {
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
func (ct *cutter) plan(pg geo.Polygon, idx []int, k int) *cutPlan {
	if k <= 1 {
		a, p := pg.AreaPerimeter()
		return &cutPlan{cost: ct.cost(ct.weight(idx), a, p, 1), hs: [][]geo.HalfPlane{nil}, pts: [][]int{idx}}
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
		lo, hi, _ := pg.Cut(cd.h)
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
			p.hs = append(p.hs, append([]geo.HalfPlane{cd.h}, l.hs[i]...))
			p.pts = append(p.pts, l.pts[i])
		}
		flip := cd.h.Flip()
		for i := range r.hs {
			p.hs = append(p.hs, append([]geo.HalfPlane{flip}, r.hs[i]...))
			p.pts = append(p.pts, r.pts[i])
		}
		best = p
	}
	return best
}

// cuts lists the cuts of pg in sweepDirs directions, each between two
// consecutive points (at gapAt of the gap), that cross pg once, for k1
// either half of k, best first: all distinct ones (of those with the same
// sides the best), or only the best. Above denseCells points only the
// gaps at denseAt around each balance point are tried (denseGaps).
func (ct *cutter) cuts(pg geo.Polygon, idx []int, k int, all bool) []cutCand {
	m := len(idx)
	ks := []int{k / 2}
	if k%2 == 1 {
		ks = append(ks, k-k/2)
	}
	var try []bool
	if !all && m > denseCells {
		try = make([]bool, m)
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
			proj[i] = nx*ct.pts[i].P.X + ny*ct.pts[i].P.Y
		}
		copy(order, idx)
		// A strict total order (ties by index), so the result is the one
		// any sort gives.
		slices.SortFunc(order, func(a, b int) int {
			if c := cmp.Compare(proj[a], proj[b]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		if try != nil {
			denseGaps(try, order, proj, ct.pts, ks, k)
		}
		var low uint64
		var lw float64
		for a := 1; a < m; a++ {
			if all {
				low |= 1 << pos[order[a-1]]
			}
			lw += ct.pts[order[a-1]].W
			if proj[order[a-1]] == proj[order[a]] || try != nil && !try[a] {
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
						once, la0, lp0, ha0, hp0 := pg.MeasureCut(geo.HalfPlane{A: nx, B: ny, C: c})
						if !once {
							break
						}
						la, lp, ha, hp, measured = la0, lp0, ha0, hp0, true
					}
					cd := cutCand{h: geo.HalfPlane{A: nx, B: ny, C: c}, k1: k1, low: low,
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

// denseGaps marks in try (indexed like the gaps: a puts order[:a] on the
// low side) the gaps tried when there are many points: for each balance
// point k1/k of the weight, and each offset in denseAt from it, the two
// gaps bracketing that weighted quantile, skipping ties of the projection
// to the nearest gap that separates two points. At most
// 2·(2·len(denseAt) − 1) gaps per balance point (34), however many points.
func denseGaps(try []bool, order []int, proj []float64, pts []Point, ks []int, k int) {
	m := len(order)
	clear(try)
	pre := make([]float64, m+1)
	for a := 1; a <= m; a++ {
		pre[a] = pre[a-1] + pts[order[a-1]].W
	}
	open := func(a int) bool { return proj[order[a-1]] != proj[order[a]] }
	for _, k1 := range ks {
		t := float64(k1) / float64(k)
		for _, off := range denseAt {
			fs := []float64{t - off, t + off}
			if off == 0 {
				fs = fs[:1]
			}
			for _, f := range fs {
				if f <= 0 || f >= 1 {
					continue
				}
				v := f * pre[m]
				// The first gap with at least v on the low side, and the
				// one before it.
				a := sort.Search(m-1, func(i int) bool { return pre[i+1] >= v }) + 1
				for b := a; b < m; b++ {
					if open(b) {
						try[b] = true
						break
					}
				}
				for b := a - 1; b >= 1; b-- {
					if open(b) {
						try[b] = true
						break
					}
				}
			}
		}
	}
}

// Straight is one community prepared for straight cuts: its frame, its
// polygon and points in local metres, the points' ids (the caller's, e.g.
// in pcell) and the polygon's bounds.
type Straight struct {
	Frame   geo.Frame
	Polygon geo.Polygon
	Lo, Hi  geo.XY
	Points  []Point
	IDs     []int
}

// Split cuts the community into k parts (nil if it cannot: too few
// points, or no cut crossing a piece once); ok judges a part by its share
// of the total weight. A part's Region is the convex region of the plane
// it was cut from, a WKT polygon in longitude/latitude: the part is the
// community's intersection with it.
func (st *Straight) Split(k int, ok func(share float64) bool) []Part {
	if st == nil || len(st.Points) < k {
		return nil
	}
	ct := &cutter{pts: st.Points, ok: ok}
	idx := make([]int, len(st.Points))
	for i, p := range st.Points {
		idx[i] = i
		ct.total += p.W
	}
	ct.unit = ct.total / float64(k)
	pl := ct.plan(st.Polygon, idx, k)
	if pl == nil {
		return nil
	}
	// The box the regions are cut from holds the community with room to
	// spare.
	pad := max(st.Hi.X-st.Lo.X, st.Hi.Y-st.Lo.Y) + 1
	rs := geo.ConvexRegions(geo.XY{X: st.Lo.X - pad, Y: st.Lo.Y - pad}, geo.XY{X: st.Hi.X + pad, Y: st.Hi.Y + pad}, pl.hs)
	parts := make([]Part, len(pl.hs))
	for i := range pl.hs {
		parts[i].Region = st.Frame.PolygonWKT(rs[i])
		for _, j := range pl.pts[i] {
			parts[i].IDs = append(parts[i].IDs, st.IDs[j])
			parts[i].W += st.Points[j].W
		}
	}
	return parts
}
