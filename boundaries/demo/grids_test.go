package demo

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// TestGrids: the grids of a community without a grid problem tile it
// vertex for vertex, their households and population sum to its, their
// codes are its code and 001…n in rows of label points (north→south, each
// west→east, as grids.OrderRule), they are simple rings; some communities have grids, most
// do not; the problems are listed per kind.
func TestGrids(t *testing.T) {
	for _, seed := range []int64{1, 7} {
		p := generate(t, Small, seed)
		if len(p.grids) != p.m.Counts.Grids || len(p.grids) < 100 {
			t.Fatalf("seed %d: %d grids, manifest %d", seed, len(p.grids), p.m.Counts.Grids)
		}
		touched := map[string]bool{}
		kinds := map[string]int{}
		for _, in := range p.m.GridProblems {
			kinds[in.Kind]++
			for _, c := range slices.Concat(in.Codes, in.Near, []string{in.ParentCode}) {
				touched[c[:min(12, len(c))]] = true
			}
		}
		for _, k := range []string{KindOverlap, KindUnowned, KindCrossesParent, KindNoncontiguous} {
			if kinds[k] != 2 {
				t.Errorf("seed %d: %d %s grid problems, want 2", seed, kinds[k], k)
			}
		}
		if kinds[KindOrphan] != 1 {
			t.Errorf("seed %d: %d orphan grids", seed, kinds[KindOrphan])
		}
		byComm := map[string][]feature{}
		for _, g := range p.grids {
			code := g.str("code")
			if !reGrid.MatchString(code) || g.str("parent_code") != code[:12] || !strings.HasSuffix(g.str("name"), "网格") {
				t.Errorf("grid %s: parent %s, name %s", code, g.str("parent_code"), g.str("name"))
			}
			byComm[code[:12]] = append(byComm[code[:12]], g)
		}
		checked := 0
		for comm, gs := range byComm {
			c, ok := p.byCode[comm]
			if touched[comm] || !ok {
				continue
			}
			checkGridsOf(t, c, gs)
			checked++
		}
		if checked < 50 || len(byComm) > len(p.communities)/2 {
			t.Errorf("seed %d: %d of %d communities with grids checked", seed, checked, len(byComm))
		}
	}
}

// checkGridsOf checks one community's grids: tiling, counts, codes, order.
func checkGridsOf(t *testing.T, c feature, gs []feature) {
	t.Helper()
	code := c.str("code")
	want := map[seg]int{}
	for _, s := range segments(c) {
		want[s]++
	}
	got := boundaryOf(gs)
	hh, pop := 0, 0
	for _, g := range gs {
		hh, pop = hh+g.num("households"), pop+g.num("population")
		for _, r := range g.mp[0] {
			ring := make([]pt, len(r))
			for i, q := range r {
				ring[i] = pt{q[0], q[1]}
			}
			if !ringSimple(ring) || shoelace(r) <= 0 {
				t.Errorf("grid %s: not a simple counter-clockwise ring", g.str("code"))
			}
		}
	}
	if len(got) != len(want) || !func() bool {
		for s := range want {
			if got[s] != 1 {
				return false
			}
		}
		return true
	}() {
		t.Errorf("community %s: its %d grids do not tile it vertex for vertex (%d boundary segments, want %d)", code, len(gs), len(got), len(want))
	}
	if hh != c.num("households") || pop != c.num("population") {
		t.Errorf("community %s: grids hold %d households, %d people; the community %d, %d", code, hh, pop, c.num("households"), c.num("population"))
	}
	// Codes 001…n in grids.OrderRule's order: rows of the median height
	// down from the northernmost edge, by ST_PointOnSurface's label point.
	type lab struct {
		code              string
		lon, lat, n, s, h float64
	}
	var labs []lab
	var hs []float64
	top := math.Inf(-1)
	for _, g := range gs {
		ring := make([]pt, len(g.mp[0][0]))
		for i, q := range g.mp[0][0] {
			ring[i] = pt{q[0], q[1]}
		}
		b := bounds(ring)
		q := pointOnSurface(ring, b)
		labs = append(labs, lab{g.str("code"), q.x, q.y, b[3], b[1], b[3] - b[1]})
		hs = append(hs, b[3]-b[1])
		top = math.Max(top, b[3])
	}
	slices.Sort(hs)
	h := hs[len(hs)/2]
	if len(hs)%2 == 0 {
		h = (hs[len(hs)/2-1] + h) / 2
	}
	slices.SortFunc(labs, func(a, b lab) int {
		if ra, rb := math.Floor((top-a.lat)/h), math.Floor((top-b.lat)/h); ra != rb {
			return cmpF(ra, rb)
		}
		if a.lon != b.lon {
			return cmpF(a.lon, b.lon)
		}
		return cmpF(b.lat, a.lat)
	})
	for i, l := range labs {
		if l.code != code+threeDigits(i+1) {
			t.Errorf("community %s: grid %d in rows of label points is %s", code, i+1, l.code)
			break
		}
	}
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func threeDigits(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}
