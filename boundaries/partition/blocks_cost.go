package partition

import "math"

// The objective of a block partition, summed over parts: out of range
// first (outPart per part out and outShare per mean part's worth out, so
// that getting closer to the range always pays), then balance (relative
// distance of each part from the mean part; the mean, not Normal, as with
// K fixed the most even parts are the closest to Normal the blocks allow),
// then with KeepHomes households moved, then cut length.
const (
	outPart  = 1000
	outShare = 1000
	// popBalance weighs the population's balance against the households'.
	popBalance = 0.5
	// cutWeight is the cost of a cut as long as the side of a square of
	// the graph's total area: moving a block of 2% of a part to shorten
	// the cut pays only if the cut is 0.8 such sides shorter.
	cutWeight = 0.05
	// keepWeight is the cost of moving a mean part's worth of households:
	// above 2, the most a move can gain in balance, so households are not
	// moved to make in-range parts more even.
	keepWeight = 2.5
)

// measure is one rule: households or population.
type measure struct {
	lo, hi float64 // the range; hi = 0: no rule
	mean   float64 // total / K (1 when the total is 0)
	weight float64 // balance weight
}

// cost of a group of w that becomes k parts, judged as if split evenly.
func (m *measure) cost(w float64, k int) float64 {
	kf := float64(k)
	c := m.weight * math.Abs(w-kf*m.mean) / m.mean
	if m.hi <= 0 {
		return c
	}
	if w < kf*m.lo {
		c += kf*outPart + outShare*(kf*m.lo-w)/m.mean
	} else if w > kf*m.hi {
		c += kf*outPart + outShare*(w-kf*m.hi)/m.mean
	}
	return c
}

func (m *measure) in(w float64) bool { return m.hi <= 0 || (w >= m.lo && w <= m.hi) }

// objective weighs a partition of bg.
type objective struct {
	hh, pop measure
	cutW    float64 // per metre of cut
	moveW   float64 // per household moved (KeepHomes), else 0
}

func newObjective(bg *blockGraph, s Spec) *objective {
	var w, p, area, links float64
	for i, b := range bg.b {
		w += b.W
		p += b.P
		area += b.Area
		links += bg.linkSum[i] / 2
	}
	kf := float64(s.K)
	o := &objective{
		hh:  measure{lo: s.Households.Lo, hi: s.Households.Hi, mean: w / kf, weight: 1},
		pop: measure{lo: s.Population.Lo, hi: s.Population.Hi, mean: p / kf},
	}
	if o.pop.hi > 0 {
		o.pop.weight = popBalance
	}
	for _, m := range []*measure{&o.hh, &o.pop} {
		if m.mean <= 0 {
			m.mean = 1
		}
	}
	// Without areas, a grid's total link length is about 2√n sides.
	scale := math.Sqrt(area)
	if scale <= 0 {
		scale = links / (2 * math.Sqrt(float64(len(bg.b))))
	}
	if scale > 0 {
		o.cutW = cutWeight / scale
	}
	if s.KeepHomes {
		o.moveW = keepWeight / o.hh.mean
	}
	return o
}

// group is the cost of a group of households w and population p that
// becomes k parts (1: a part), without its cut.
func (o *objective) group(w, p float64, k int) float64 {
	return o.hh.cost(w, k) + o.pop.cost(p, k)
}
