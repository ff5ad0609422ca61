package demo

import (
	"fmt"
	"math"
)

// BucketSpec is one household band of Beijing's published distribution of
// its 3,236 communities, which the generator reproduces.
type BucketSpec struct {
	Name    string
	Min     int // inclusive; the band a community falls in
	Max     int // inclusive; math.MaxInt for the open top band
	Beijing int // communities in the band, out of BeijingCommunities
	// Sampled household counts lie in [SampleMin, SampleMax].
	SampleMin, SampleMax int
}

// BeijingCommunities is the size of the published distribution.
const BeijingCommunities = 3236

// Buckets are the bands, ascending. "Over 3000" (the oversized rule) is the
// last two together: 617 communities, 70 of them over 5000.
var Buckets = []BucketSpec{
	{Name: "lt500", Min: 0, Max: 499, Beijing: 133, SampleMin: 120, SampleMax: 499},
	{Name: "500-999", Min: 500, Max: 999, Beijing: 318, SampleMin: 500, SampleMax: 999},
	{Name: "1000-3000", Min: 1000, Max: 3000, Beijing: 2168, SampleMin: 1000, SampleMax: 3000},
	{Name: "3001-5000", Min: 3001, Max: 5000, Beijing: 547, SampleMin: 3001, SampleMax: 5000},
	{Name: "gt5000", Min: 5001, Max: math.MaxInt, Beijing: 70, SampleMin: 5001, SampleMax: 9000},
}

// TargetShare is the band's share of Beijing's communities.
func (b BucketSpec) TargetShare() float64 { return float64(b.Beijing) / BeijingCommunities }

// Bucket names the band of a household count.
func Bucket(households int) string {
	for _, b := range Buckets {
		if households >= b.Min && households <= b.Max {
			return b.Name
		}
	}
	return Buckets[0].Name // negative counts do not occur
}

// TargetShare returns the share of the named band, 0 if unknown.
func TargetShare(bucket string) float64 {
	for _, b := range Buckets {
		if b.Name == bucket {
			return b.TargetShare()
		}
	}
	return 0
}

// assignHouseholds gives n communities household and population counts.
// Stratified, not sampled: each band gets its share of n exactly (largest
// remainder), then a seeded shuffle places them, so even 300 communities
// match the published shares to within 1/n.
func assignHouseholds(n int, seed int64) (hh, pop []int32, err error) {
	counts := make([]int, len(Buckets))
	type rem struct {
		i int
		f float64
	}
	rems := make([]rem, len(Buckets))
	total := 0
	for i, b := range Buckets {
		exact := float64(n) * b.TargetShare()
		counts[i] = int(exact)
		total += counts[i]
		rems[i] = rem{i, exact - float64(counts[i])}
	}
	// Largest remainders first; ties to the lower band (stable order).
	for total < n {
		best := -1
		for i, r := range rems {
			if r.f >= 0 && (best < 0 || r.f > rems[best].f) {
				best = i
			}
		}
		if best < 0 {
			return nil, nil, fmt.Errorf("internal: household strata do not add up to %d", n)
		}
		counts[rems[best].i]++
		rems[best].f = -1
		total++
	}
	band := make([]int8, 0, n)
	for i, c := range counts {
		for range c {
			band = append(band, int8(i))
		}
	}
	shuffle(newRNG(seed, saltHouseholds), band)
	hh, pop = make([]int32, n), make([]int32, n)
	for i, bi := range band {
		b := Buckets[bi]
		h := hash3(seed, saltHouseholds, i, 0)
		v := b.SampleMin + int(h%uint64(b.SampleMax-b.SampleMin+1))
		size := 2.2 + 0.6*unit(mix(h)) // persons per household
		p := int(math.Round(float64(v) * size))
		if v <= 3000 {
			// Only households may make such a community oversized.
			p = min(p, 9000)
		}
		hh[i], pop[i] = int32(v), int32(p)
	}
	return hh, pop, nil
}

// pointsFor is the number of building points of a community: one per
// perPoint households or so, at least one (at most 61 for 150).
func pointsFor(households, perPoint int32) int { return 1 + int(min(households, 9000)/perPoint) }

// splitCount divides total into n positive parts with seeded weights.
func splitCount(total, n int, h uint64, dst []int) []int {
	dst = dst[:0]
	w := make([]float64, n)
	sum := 0.0
	for i := range w {
		h = mix(h + uint64(i) + 1)
		w[i] = 0.5 + unit(h)
		sum += w[i]
	}
	used := 0
	for i := range w {
		v := max(1, int(float64(total-n)*w[i]/sum)+1)
		dst = append(dst, v)
		used += v
	}
	// Rounding leftovers go to the parts in turn.
	for i := 0; used != total; i = (i + 1) % n {
		if used < total {
			dst[i]++
			used++
		} else if dst[i] > 1 {
			dst[i]--
			used--
		}
	}
	return dst
}

// splitProportional divides total in proportion to parts (summing to of).
func splitProportional(total int, parts []int, of int, dst []int) []int {
	dst = dst[:0]
	used := 0
	for _, p := range parts {
		v := total * p / of
		dst = append(dst, v)
		used += v
	}
	for i := 0; used < total; i = (i + 1) % len(dst) {
		dst[i]++
		used++
	}
	return dst
}
