package partition

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jiedao/jiedao/geo"
)

// denseCommunity is a synthetic community for timing straight cuts on
// dense address points: an irregular (star-shaped, usually not convex)
// polygon of nv vertices about 1 km across, and n building points inside it with 1 to
// 120 households each, half of them in a few clusters as in real estates;
// households are scaled so the community needs k parts of 2,200 (1.1 ×
// the beijing normal). ok is the beijing range: 500–3,000 households.
func denseCommunity(seed uint64, nv, n, k int) (*Straight, func(float64) bool) {
	r := rand.New(rand.NewPCG(seed, 7))
	// A radius of 450 m bent by three low harmonics, each vertex jittered.
	var amp, phase [3]float64
	for j := range amp {
		amp[j], phase[j] = 0.12*r.Float64(), 2*math.Pi*r.Float64()
	}
	ring := make([]geo.XY, nv)
	for i := range ring {
		th := 2 * math.Pi * (float64(i) + 0.4*(r.Float64()-0.5)) / float64(nv)
		rad := 1 + 0.05*(r.Float64()-0.5)
		for j := range amp {
			rad += amp[j] * math.Cos(float64(j+2)*th+phase[j])
		}
		ring[i] = geo.XY{X: 450 * rad * math.Cos(th), Y: 450 * rad * math.Sin(th)}
	}
	st := &Straight{Polygon: geo.Polygon{ring}, Lo: geo.XY{X: math.Inf(1), Y: math.Inf(1)}, Hi: geo.XY{X: math.Inf(-1), Y: math.Inf(-1)}}
	for _, p := range ring {
		st.Lo = geo.XY{X: min(st.Lo.X, p.X), Y: min(st.Lo.Y, p.Y)}
		st.Hi = geo.XY{X: max(st.Hi.X, p.X), Y: max(st.Hi.Y, p.Y)}
	}
	centres := make([]geo.XY, 4)
	for i := range centres {
		centres[i] = geo.XY{X: 500 * (r.Float64() - 0.5), Y: 500 * (r.Float64() - 0.5)}
	}
	var total float64
	for len(st.Points) < n {
		var p geo.XY
		if len(st.Points)%2 == 0 {
			p = geo.XY{X: st.Lo.X + (st.Hi.X-st.Lo.X)*r.Float64(), Y: st.Lo.Y + (st.Hi.Y-st.Lo.Y)*r.Float64()}
		} else {
			c := centres[r.IntN(len(centres))]
			p = geo.XY{X: c.X + 60*r.NormFloat64(), Y: c.Y + 60*r.NormFloat64()}
		}
		if !inRing(ring, p) {
			continue
		}
		w := float64(1 + r.IntN(120))
		st.Points = append(st.Points, Point{p, w})
		st.IDs = append(st.IDs, len(st.Points))
		total += w
	}
	want := 2200 * float64(k)
	for i := range st.Points {
		st.Points[i].W *= want / total
	}
	return st, func(share float64) bool { return share*want >= 500 && share*want <= 3000 }
}

// inRing is the even-odd test.
func inRing(r []geo.XY, p geo.XY) bool {
	in := false
	for j := range r {
		a, b := r[j], r[(j+1)%len(r)]
		if (a.Y > p.Y) != (b.Y > p.Y) && p.X < a.X+(p.Y-a.Y)*(b.X-a.X)/(b.Y-a.Y) {
			in = !in
		}
	}
	return in
}

// splitQuality is the max |deviation| of the parts from their fair share
// and their mean Polsby-Popper (the community cut by each part's
// half-planes, from the same search again).
func splitQuality(st *Straight, parts []Part, ok func(float64) bool) (maxDev, meanPP float64) {
	var total float64
	for _, p := range parts {
		total += p.W
	}
	unit := total / float64(len(parts))
	for _, p := range parts {
		maxDev = max(maxDev, math.Abs(p.W/unit-1))
	}
	ct := &cutter{pts: st.Points, ok: ok, total: total, unit: unit}
	idx := make([]int, len(st.Points))
	for i := range idx {
		idx[i] = i
	}
	pl := ct.plan(st.Polygon, idx, len(parts))
	for _, hs := range pl.hs {
		pg := st.Polygon
		for _, h := range hs {
			if in, _, once := pg.Cut(h); once {
				pg = in
			}
		}
		meanPP += geo.PolsbyPopper(pg.AreaPerimeter())
	}
	return maxDev, meanPP / float64(len(parts))
}

// TestStraightSplitDense times the straight-cut search (Go only, no
// database) on dense address points: N = 50, 200, 1000 points, k = 2..6
// parts, median of 5 runs over 3 communities, with the parts' max
// deviation from their fair share. Skipped unless JIEDAO_BENCH is set.
func TestStraightSplitDense(t *testing.T) {
	if os.Getenv("JIEDAO_BENCH") == "" {
		t.Skip("set JIEDAO_BENCH to time straight cuts on dense points")
	}
	for _, nv := range []int{20, 200} {
		for _, n := range []int{12, 50, 200, 1000} {
			for k := 2; k <= 6; k++ {
				var times []time.Duration
				var worst, pp float64
				const communities = 3
				for c := range communities {
					st, ok := denseCommunity(uint64(1000*nv+10*n+c), nv, n, k)
					var parts []Part
					var ts []time.Duration
					for range 5 {
						t0 := time.Now()
						parts = st.Split(k, ok)
						ts = append(ts, time.Since(t0))
					}
					if len(parts) != k {
						t.Fatalf("%d vertices, N=%d, k=%d: %d parts", nv, n, k, len(parts))
					}
					slices.Sort(ts)
					times = append(times, ts[len(ts)/2])
					d, p := splitQuality(st, parts, ok)
					worst = max(worst, d)
					pp += p / communities
				}
				slices.Sort(times)
				t.Logf("vertices %3d  N %4d  k %d  ms %s  max|dev| %.3f  PP %.3f", nv, n, k,
					fmt.Sprintf("%7.2f %7.2f %7.2f", ms(times[0]), ms(times[1]), ms(times[2])), worst, pp)
			}
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkStraightSplitDense is the same search as a Go benchmark, one
// community per N and k (20 vertices).
func BenchmarkStraightSplitDense(b *testing.B) {
	for _, n := range []int{12, 50, 200, 1000} {
		for _, k := range []int{2, 5} {
			st, ok := denseCommunity(uint64(n), 20, n, k)
			b.Run(fmt.Sprintf("N=%d/k=%d", n, k), func(b *testing.B) {
				for b.Loop() {
					st.Split(k, ok)
				}
			})
		}
	}
}
