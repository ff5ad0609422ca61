package demo

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// feature is a parsed GeoJSON feature; polygons are normalised to a
// MultiPolygon as [polygon][ring][point].
type feature struct {
	props map[string]any
	typ   string
	mp    [][][][2]float64
	point [2]float64
	line  [][2]float64
}

func (f feature) str(k string) string { s, _ := f.props[k].(string); return s }
func (f feature) num(k string) int    { v, _ := f.props[k].(float64); return int(v) }

func readFC(t testing.TB, path string) []feature {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Type     string
		Features []struct {
			Type       string
			Properties map[string]any
			Geometry   struct {
				Type        string
				Coordinates json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if fc.Type != "FeatureCollection" {
		t.Fatalf("%s: type %q", path, fc.Type)
	}
	out := make([]feature, 0, len(fc.Features))
	for i, f := range fc.Features {
		ft := feature{props: f.Properties, typ: f.Geometry.Type}
		var err error
		switch f.Geometry.Type {
		case "Polygon":
			var p [][][2]float64
			err = json.Unmarshal(f.Geometry.Coordinates, &p)
			ft.mp = [][][][2]float64{p}
		case "MultiPolygon":
			err = json.Unmarshal(f.Geometry.Coordinates, &ft.mp)
		case "Point":
			err = json.Unmarshal(f.Geometry.Coordinates, &ft.point)
		case "LineString":
			err = json.Unmarshal(f.Geometry.Coordinates, &ft.line)
		default:
			t.Fatalf("%s feature %d: geometry %q", path, i, f.Geometry.Type)
		}
		if err != nil {
			t.Fatalf("%s feature %d: %v", path, i, err)
		}
		out = append(out, ft)
	}
	return out
}

// city is one generated folder, parsed.
type parsed struct {
	dir                                     string
	m                                       *Manifest
	districts, streets, communities, points []feature
	barriers, grids                         []feature
	byCode                                  map[string]feature
}

func generate(t testing.TB, scale Scale, seed int64) *parsed {
	t.Helper()
	dir := t.TempDir()
	m, err := Generate(Config{Seed: seed, Scale: scale, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := &parsed{dir: dir, m: m, byCode: map[string]feature{},
		districts:   readFC(t, filepath.Join(dir, DistrictsFile)),
		streets:     readFC(t, filepath.Join(dir, StreetsFile)),
		communities: readFC(t, filepath.Join(dir, CommunitiesFile)),
		points:      readFC(t, filepath.Join(dir, PointsFile)),
		barriers:    readFC(t, filepath.Join(dir, BarriersFile)),
	}
	if m.Counts.Grids > 0 {
		p.grids = readFC(t, filepath.Join(dir, GridsFile))
	}
	for _, l := range [][]feature{p.districts, p.streets, p.communities} {
		for _, f := range l {
			p.byCode[f.str("code")] = f
		}
	}
	return p
}

// injectedCommunities are all communities named by the manifest, as codes
// or near; injectedStreets are their streets and the gap streets.
func (p *parsed) injected() (comms, streets map[string]bool) {
	comms, streets = map[string]bool{}, map[string]bool{}
	for _, in := range p.m.Injected {
		for _, c := range append(slices.Clone(in.Codes), in.Near...) {
			if len(c) == 12 {
				comms[c] = true
				streets[c[:9]] = true
			} else {
				streets[c] = true
			}
		}
	}
	return comms, streets
}

func TestDeterministic(t *testing.T) {
	files := []string{DistrictsFile, StreetsFile, CommunitiesFile, PointsFile, BarriersFile, GridsFile, ManifestFile}
	gen := func(seed int64) string {
		dir := t.TempDir()
		if _, err := Generate(Config{Seed: seed, Scale: Small, Dir: dir}); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	a, b, c := gen(7), gen(7), gen(8)
	for _, f := range files {
		fa, _ := os.ReadFile(filepath.Join(a, f))
		fb, _ := os.ReadFile(filepath.Join(b, f))
		fc, _ := os.ReadFile(filepath.Join(c, f))
		if len(fa) == 0 || !bytes.Equal(fa, fb) {
			t.Errorf("%s: same seed gave different bytes", f)
		}
		if bytes.Equal(fa, fc) {
			t.Errorf("%s: different seeds gave the same bytes", f)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Scale: "huge", Dir: t.TempDir()},
		{Scale: Small},
	} {
		if _, err := Generate(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	if _, err := ReadManifest(t.TempDir()); err == nil {
		t.Error("ReadManifest of an empty folder: no error")
	}
}

var (
	reDistrict = regexp.MustCompile(`^99\d{4}$`)
	reStreet   = regexp.MustCompile(`^99\d{7}$`)
	reComm     = regexp.MustCompile(`^99\d{10}$`)
	reGrid     = regexp.MustCompile(`^99\d{13}$`)
)

func TestCountsAndCodes(t *testing.T) {
	for _, tc := range []struct {
		scale                   Scale
		districts, streets      [2]int
		communities, injectEach int
	}{
		{Small, [2]int{3, 6}, [2]int{16, 26}, 301, 2},
		{Beijing, [2]int{16, 16}, [2]int{315, 385}, 7501, 10},
	} {
		t.Run(string(tc.scale), func(t *testing.T) {
			p := generate(t, tc.scale, 3)
			within := func(what string, n int, r [2]int) {
				if n < r[0] || n > r[1] {
					t.Errorf("%d %s, want %d–%d", n, what, r[0], r[1])
				}
			}
			within("districts", len(p.districts), tc.districts)
			within("streets", len(p.streets), tc.streets)
			within("communities", len(p.communities), [2]int{tc.communities, tc.communities})
			want := Counts{len(p.districts), len(p.streets), len(p.communities), len(p.points), len(p.barriers), len(p.grids)}
			if p.m.Counts != want {
				t.Errorf("manifest counts %+v, files %+v", p.m.Counts, want)
			}
			seen := map[string]bool{}
			for _, f := range slices.Concat(p.districts, p.streets, p.communities) {
				code := f.str("code")
				if seen[code] {
					t.Errorf("duplicate code %s", code)
				}
				seen[code] = true
				if f.props["synthetic"] != true || f.str("name") == "" {
					t.Errorf("%s: synthetic %v, name %q", code, f.props["synthetic"], f.str("name"))
				}
			}
			for _, d := range p.districts {
				if !reDistrict.MatchString(d.str("code")) || d.str("kind") != "区" || !strings.HasPrefix(d.str("name"), "示例第") {
					t.Errorf("district %v", d.props)
				}
			}
			for _, s := range p.streets {
				code, parent := s.str("code"), s.str("parent_code")
				if !reStreet.MatchString(code) || !strings.HasPrefix(code, parent) || !reDistrict.MatchString(parent) ||
					p.byCode[parent].props == nil || !slices.Contains([]string{"街道", "镇", "乡"}, s.str("kind")) ||
					!strings.HasSuffix(s.str("name"), s.str("kind")) {
					t.Errorf("street %v", s.props)
				}
			}
			var orphans []string
			for _, c := range p.communities {
				code, parent := c.str("code"), c.str("parent_code")
				if !reComm.MatchString(code) || !strings.HasPrefix(code, parent) || !reStreet.MatchString(parent) ||
					!slices.Contains([]string{"社区", "村"}, c.str("kind")) || !strings.HasSuffix(c.str("name"), c.str("kind")) {
					t.Errorf("community %v", c.props)
				}
				if p.byCode[parent].props == nil {
					orphans = append(orphans, code)
				}
			}
			var wantOrphans []string
			kinds := map[string]int{}
			for _, in := range p.m.Injected {
				kinds[in.Kind]++
				if in.Kind == KindOrphan {
					wantOrphans = append(wantOrphans, in.Codes...)
				}
			}
			if len(orphans) != 1 || !slices.Equal(orphans, wantOrphans) {
				t.Errorf("orphans %v, manifest %v", orphans, wantOrphans)
			}
			for _, k := range []string{KindOverlap, KindGap, KindCrossesParent, KindNoncontiguous} {
				if kinds[k] != tc.injectEach {
					t.Errorf("%d %s problems, want %d", kinds[k], k, tc.injectEach)
				}
			}
		})
	}
}

func TestBucket(t *testing.T) {
	for _, tc := range []struct {
		h    int
		want string
	}{
		{0, "lt500"}, {120, "lt500"}, {499, "lt500"}, {500, "500-999"}, {999, "500-999"},
		{1000, "1000-3000"}, {3000, "1000-3000"}, {3001, "3001-5000"}, {5000, "3001-5000"},
		{5001, "gt5000"}, {9000, "gt5000"},
	} {
		if got := Bucket(tc.h); got != tc.want {
			t.Errorf("Bucket(%d) = %s, want %s", tc.h, got, tc.want)
		}
	}
	sum := 0
	for _, b := range Buckets {
		sum += b.Beijing
	}
	if sum != BeijingCommunities || TargetShare("gt5000") != 70.0/3236 {
		t.Errorf("bands add up to %d", sum)
	}
}

func TestHouseholds(t *testing.T) {
	for _, scale := range []Scale{Small, Beijing} {
		t.Run(string(scale), func(t *testing.T) {
			p := generate(t, scale, 5)
			counts := map[string]int{}
			over3000 := 0
			for _, c := range p.communities {
				h, pop := c.num("households"), c.num("population")
				counts[Bucket(h)]++
				if h > 3000 {
					over3000++
				}
				if h < 120 || h > 9000 || float64(pop) < 2.2*float64(h)-1 || float64(pop) > 2.8*float64(h)+1 {
					t.Errorf("%s: %d households, %d people", c.str("code"), h, pop)
				}
				if h <= 3000 && pop > 9000 {
					t.Errorf("%s: %d people with only %d households", c.str("code"), pop, h)
				}
			}
			n := float64(len(p.communities))
			for i, b := range Buckets {
				share := float64(counts[b.Name]) / n
				if math.Abs(share-b.TargetShare()) > 0.02 {
					t.Errorf("%s: share %.4f, target %.4f", b.Name, share, b.TargetShare())
				}
				mb := p.m.HouseholdBuckets[i]
				if mb.Bucket != b.Name || mb.Count != counts[b.Name] {
					t.Errorf("manifest bucket %+v, counted %d", mb, counts[b.Name])
				}
			}
			if share := float64(over3000) / n; math.Abs(share-617.0/3236) > 0.02 {
				t.Errorf("over 3000: share %.4f", share)
			}
		})
	}
}

// metres converts lon/lat differences near lat to metres.
func metres(lat float64) (mx, my float64) { return metresPerDegLon(lat), metresPerDegLat(lat) }

func toOrb(mp [][][][2]float64) orb.MultiPolygon {
	var out orb.MultiPolygon
	for _, poly := range mp {
		var op orb.Polygon
		for _, r := range poly {
			ring := make(orb.Ring, len(r))
			for i, c := range r {
				ring[i] = orb.Point(c)
			}
			op = append(op, ring)
		}
		out = append(out, op)
	}
	return out
}

func TestPoints(t *testing.T) {
	for _, scale := range []Scale{Small, Beijing} {
		t.Run(string(scale), func(t *testing.T) {
			p := generate(t, scale, 11)
			hh, pop := map[string]int{}, map[string]int{}
			geoms := map[string]orb.MultiPolygon{}
			for _, c := range p.communities {
				geoms[c.str("code")] = toOrb(c.mp)
			}
			for _, pt := range p.points {
				code := pt.str("community_code")
				hh[code] += pt.num("households")
				pop[code] += pt.num("population")
				if pt.num("households") < 1 {
					t.Errorf("point of %s with %d households", code, pt.num("households"))
				}
				mp, ok := geoms[code]
				if !ok {
					t.Fatalf("point of unknown community %s", code)
				}
				if !planar.MultiPolygonContains(mp, orb.Point(pt.point)) {
					t.Errorf("point %v outside %s", pt.point, code)
				}
				// ≥ 5 m from every ring of its community.
				mx, my := metres(pt.point[1])
				for _, poly := range mp {
					for _, r := range poly {
						for i := 0; i+1 < len(r); i++ {
							a := pt2(r[i], pt.point, mx, my)
							b := pt2(r[i+1], pt.point, mx, my)
							if d := pointSegDist(pt2(pt.point, pt.point, mx, my), a, b); d < 5 {
								t.Errorf("point of %s is %.1f m from its boundary", code, d)
							}
						}
					}
				}
			}
			n := map[string]int{}
			for _, pt := range p.points {
				n[pt.str("community_code")]++
			}
			for _, c := range p.communities {
				code := c.str("code")
				if want := 1 + min(c.num("households"), 9000)/150; n[code] != want {
					t.Errorf("%s: %d points for %d households, want %d", code, n[code], c.num("households"), want)
				}
				if hh[code] != c.num("households") || pop[code] != c.num("population") {
					t.Errorf("%s: points sum to %d/%d, community has %d/%d", code, hh[code], pop[code],
						c.num("households"), c.num("population"))
				}
			}
			if scale == Small { // no point lies in another community
				for _, pt := range p.points {
					for code, mp := range geoms {
						if code != pt.str("community_code") && planar.MultiPolygonContains(mp, orb.Point(pt.point)) {
							t.Errorf("point of %s also inside %s", pt.str("community_code"), code)
						}
					}
				}
			}
		})
	}
}

// pt2 puts c in metres relative to origin o.
func pt2(c, o [2]float64, mx, my float64) pt {
	return pt{(c[0] - o[0]) * mx, (c[1] - o[1]) * my}
}

func shoelace(r [][2]float64) float64 {
	s := 0.0
	for i := 0; i+1 < len(r); i++ {
		s += r[i][0]*r[i+1][1] - r[i+1][0]*r[i][1]
	}
	return s / 2
}

// area is the planar lon/lat area of a feature (holes subtract).
func area(f feature) float64 {
	s := 0.0
	for _, poly := range f.mp {
		for _, r := range poly {
			s += shoelace(r)
		}
	}
	return s
}

// areaM2 converts a lon/lat area near lat to m².
func areaM2(a, lat float64) float64 { mx, my := metres(lat); return a * mx * my }

type seg [4]float64

func segments(f feature) []seg {
	var out []seg
	for _, poly := range f.mp {
		for _, r := range poly {
			for i := 0; i+1 < len(r); i++ {
				out = append(out, seg{r[i][0], r[i][1], r[i+1][0], r[i+1][1]})
			}
		}
	}
	return out
}

// boundaryOf returns the directed segments left when those walked both ways
// cancel: for children that tile their parent exactly, the parent's ring.
func boundaryOf(children []feature) map[seg]int {
	m := map[seg]int{}
	for _, c := range children {
		for _, s := range segments(c) {
			rev := seg{s[2], s[3], s[0], s[1]}
			if m[rev] > 0 {
				m[rev]--
				if m[rev] == 0 {
					delete(m, rev)
				}
				continue
			}
			m[s]++
		}
	}
	return m
}

// checkRings: rings are closed, ≥ 4 points, simple, exterior CCW, holes CW,
// coordinates of at most 7 decimals.
func checkRings(t *testing.T, p *parsed) {
	for _, f := range slices.Concat(p.districts, p.streets, p.communities) {
		for _, poly := range f.mp {
			for ri, r := range poly {
				ring := make([]pt, len(r))
				for i, c := range r {
					ring[i] = pt{c[0], c[1]}
				}
				if len(r) < 4 || r[0] != r[len(r)-1] || !ringSimple(ring) {
					t.Errorf("%s ring %d: not a closed simple ring", f.str("code"), ri)
				}
				if a := shoelace(r); (ri == 0) != (a > 0) {
					t.Errorf("%s ring %d: wrong orientation (area %g)", f.str("code"), ri, a)
				}
				for _, c := range r {
					for _, v := range c {
						if v != math.Round(v*1e7)/1e7 {
							t.Fatalf("%s: coordinate %v has more than 7 decimals", f.str("code"), v)
						}
					}
				}
			}
		}
	}
}

func TestGeometry(t *testing.T) {
	for _, scale := range []Scale{Small, Beijing} {
		t.Run(string(scale), func(t *testing.T) {
			p := generate(t, scale, 13)
			checkRings(t, p)
			injComms, injStreets := p.injected()
			kids := map[string][]feature{}
			for _, c := range slices.Concat(p.streets, p.communities) {
				kids[c.str("parent_code")] = append(kids[c.str("parent_code")], c)
			}
			problems := map[string]map[string]float64{} // street -> kind -> m²
			for _, in := range p.m.Injected {
				st := in.ParentCode
				if in.Level == LevelStreet {
					st = in.Codes[0]
				}
				if problems[st] == nil {
					problems[st] = map[string]float64{}
				}
				problems[st][in.Kind] += in.AreaM2
			}
			// Communities tile every un-injected street exactly; streets
			// tile every district.
			parents := slices.Concat(p.streets, p.districts)
			checked := 0
			for _, par := range parents {
				code := par.str("code")
				sum := 0.0
				for _, k := range kids[code] {
					sum += area(k)
				}
				lat := par.mp[0][0][0][1]
				diff := areaM2(sum-area(par), lat)
				if !injStreets[code] {
					checked++
					if math.Abs(sum-area(par)) > 1e-9*area(par) {
						t.Errorf("%s: children cover %g, parent %g", code, sum, area(par))
					}
					got := boundaryOf(kids[code])
					want := boundaryOf([]feature{par})
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%s: children's outer edges differ from the parent's ring", code)
					}
					continue
				}
				// Injected street: the area difference is the problems'.
				pr := problems[code]
				want := pr[KindOverlap] - pr[KindGap] + pr[KindCrossesParent]
				if math.Abs(diff-want) > 0.01*math.Max(want, 1000) {
					t.Errorf("%s: children exceed the street by %.0f m², problems say %.0f", code, diff, want)
				}
			}
			if checked < len(parents)/2 {
				t.Errorf("only %d of %d parents un-injected", checked, len(parents))
			}
			// Some un-injected neighbours: the shared edge is the same
			// vertices in reverse.
			pairs := 0
			for _, s := range p.streets {
				if injStreets[s.str("code")] || pairs >= 20 {
					continue
				}
				cs := kids[s.str("code")]
				for i := 0; i+1 < len(cs) && pairs < 20; i++ {
					a, b := cs[i], cs[i+1]
					if injComms[a.str("code")] || injComms[b.str("code")] {
						continue
					}
					if n := sharedRun(a.mp[0][0], b.mp[0][0]); n >= 4 {
						pairs++
					}
				}
			}
			if pairs < 10 {
				t.Errorf("only %d neighbouring pairs share an identical edge", pairs)
			}
		})
	}
}

// sharedRun returns how many consecutive vertices of ring a appear, in
// reverse order and contiguously, in ring b (0 if they are not neighbours or
// the shared part is not identical).
func sharedRun(a, b [][2]float64) int {
	ai := map[[2]float64]int{}
	for i, c := range a[:len(a)-1] {
		ai[c] = i
	}
	var shared []int // positions in b of vertices also in a, in b order
	for j, c := range b[:len(b)-1] {
		if _, ok := ai[c]; ok {
			shared = append(shared, j)
		}
	}
	if len(shared) < 2 {
		return 0
	}
	// Going forward along b over the shared vertices must go backward
	// along a, one step at a time (rings wrap around).
	na, nb := len(a)-1, len(b)-1
	run := 1
	for k := 1; k < len(shared); k++ {
		jp, j := shared[k-1], shared[k]
		if j != (jp+1)%nb {
			continue
		}
		if ai[b[j]] != (ai[b[jp]]-1+na)%na {
			return 0
		}
		run++
	}
	return run
}

func TestManifest(t *testing.T) {
	p := generate(t, Small, 17)
	m, err := ReadManifest(p.dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, p.m) {
		t.Errorf("ReadManifest differs from Generate's manifest")
	}
	if !m.Synthetic || !strings.Contains(m.Note, "ynthetic") || m.Seed != 17 || m.Scale != Small {
		t.Errorf("manifest header %+v", m)
	}
	if len(m.Files) != 6 {
		t.Fatalf("files %+v", m.Files)
	}
	for _, f := range m.Files {
		st, err := os.Stat(filepath.Join(p.dir, f.Name))
		if err != nil || st.Size() != f.Bytes || len(f.SHA256) != 64 {
			t.Errorf("file %+v: %v", f, err)
		}
	}
	kinds := map[string]int{}
	used := map[string]string{}
	for _, in := range m.Injected {
		kinds[in.Kind]++
		if !slices.IsSorted(in.Codes) || len(in.Codes) == 0 {
			t.Errorf("%+v: codes not sorted", in)
		}
		level := map[string]string{KindGap: LevelStreet}[in.Kind]
		if level == "" {
			level = LevelCommunity
		}
		if in.Level != level {
			t.Errorf("%+v: level %s, want %s", in, in.Level, level)
		}
		for _, c := range append(slices.Clone(in.Codes), in.Near...) {
			if p.byCode[c].props == nil {
				t.Errorf("%+v: %s not in the files", in, c)
			}
			if len(c) == 12 {
				if prev, ok := used[c]; ok {
					t.Errorf("%s in both %s and %s", c, prev, in.Kind)
				}
				used[c] = in.Kind
			}
		}
		lo, hi := 3000.0, math.Inf(1)
		switch in.Kind {
		case KindOverlap:
			hi = 20000
		case KindCrossesParent:
			c := p.byCode[in.Codes[0]]
			lo = math.Max(lo, 0.03*areaM2(area(c), c.mp[0][0][0][1]))
		}
		if in.AreaM2 < lo || in.AreaM2 > hi {
			t.Errorf("%+v: area outside %.0f–%.0f", in, lo, hi)
		}
		if in.Kind == KindNoncontiguous {
			b, a := p.byCode[in.Codes[0]], p.byCode[in.Near[0]]
			if len(b.mp) != 2 || len(a.mp[0]) != 2 || !reflect.DeepEqual(b.mp[1][0], reversedRing(a.mp[0][1])) {
				t.Errorf("%+v: the detached part is not the host's hole", in)
			}
		}
	}
	for _, k := range []string{KindOverlap, KindGap, KindCrossesParent, KindNoncontiguous} {
		if kinds[k] < 2 {
			t.Errorf("%d %s problems, want ≥ 2", kinds[k], k)
		}
	}
	if kinds[KindOrphan] != 1 {
		t.Errorf("%d orphans", kinds[KindOrphan])
	}
}

func reversedRing(r [][2]float64) [][2]float64 {
	out := slices.Clone(r)
	slices.Reverse(out)
	return out
}

func TestChineseNumber(t *testing.T) {
	for n, want := range map[int]string{1: "一", 10: "十", 11: "十一", 20: "二十", 105: "一百零五",
		110: "一百一十", 1005: "一千零五", 1010: "一千零一十", 2704: "二千七百零四", 9999: "九千九百九十九"} {
		if got := chineseNumber(n); got != want {
			t.Errorf("chineseNumber(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestProgress(t *testing.T) {
	last, calls := -1, 0
	var total int
	_, err := Generate(Config{Seed: 1, Scale: Small, Dir: t.TempDir(), Progress: func(d, tot int) {
		if d < last {
			t.Errorf("progress went back from %d to %d", last, d)
		}
		last, total = d, tot
		calls++
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 2 || last != total {
		t.Errorf("%d calls, ended at %d of %d", calls, last, total)
	}
}

func BenchmarkGenerateSmall(b *testing.B) { benchGenerate(b, Small) }

func BenchmarkGenerateBeijing(b *testing.B) { benchGenerate(b, Beijing) }

// benchGenerate also reports the bytes written per run.
func benchGenerate(b *testing.B, scale Scale) {
	dir := b.TempDir()
	var m *Manifest
	for b.Loop() {
		var err error
		if m, err = Generate(Config{Seed: 1, Scale: scale, Dir: dir}); err != nil {
			b.Fatal(err)
		}
	}
	var total int64
	for _, f := range m.Files {
		total += f.Bytes
		b.ReportMetric(float64(f.Bytes)/1e6, strings.TrimSuffix(f.Name, ".geojson")+"-MB")
	}
	b.ReportMetric(float64(total)/1e6, "total-MB")
}

// frame maps lon/lat to metres by one affine map for the whole city, so
// inside and crossing tests are exact under it; distances use the local
// scale at each point instead (pt2).
type frame struct{ lon0, lat0, mx, my float64 }

func newFrame(m *Manifest) frame {
	mx, my := metres((m.BBox[1] + m.BBox[3]) / 2)
	return frame{m.BBox[0], m.BBox[1], mx, my}
}

func (f frame) pt(c [2]float64) pt { return pt{(c[0] - f.lon0) * f.mx, (c[1] - f.lat0) * f.my} }

func (f frame) line(cs [][2]float64) []pt {
	out := make([]pt, len(cs))
	for i, c := range cs {
		out[i] = f.pt(c)
	}
	return out
}

// localDist is the distance in metres from o to segment ab, all lon/lat,
// at the scale of o's latitude.
func localDist(o, a, b [2]float64) float64 {
	mx, my := metres(o[1])
	return pointSegDist(pt{}, pt2(a, o, mx, my), pt2(b, o, mx, my))
}

// localLen is the length of segment ab (lon/lat) in metres.
func localLen(a, b [2]float64) float64 {
	mx, my := metres(a[1])
	d := pt2(b, a, mx, my)
	return math.Hypot(d.x, d.y)
}

// segGrid buckets lon/lat segments by a square of the frame.
type segGrid struct {
	f      frame
	size   float64
	cells  map[[2]int][]int
	segs   [][2][2]float64
	labels []string
}

func newSegGrid(f frame, size float64) *segGrid {
	return &segGrid{f: f, size: size, cells: map[[2]int][]int{}}
}

func (g *segGrid) add(a, b [2]float64, label string) {
	i := len(g.segs)
	g.segs, g.labels = append(g.segs, [2][2]float64{a, b}), append(g.labels, label)
	p, q := g.f.pt(a), g.f.pt(b)
	for x := int(math.Floor(math.Min(p.x, q.x) / g.size)); x <= int(math.Floor(math.Max(p.x, q.x)/g.size)); x++ {
		for y := int(math.Floor(math.Min(p.y, q.y) / g.size)); y <= int(math.Floor(math.Max(p.y, q.y)/g.size)); y++ {
			g.cells[[2]int{x, y}] = append(g.cells[[2]int{x, y}], i)
		}
	}
}

// near calls f for every segment in the squares within r metres of c
// (a segment may come more than once).
func (g *segGrid) near(c [2]float64, r float64, f func(i int)) {
	p := g.f.pt(c)
	for x := int(math.Floor((p.x - r) / g.size)); x <= int(math.Floor((p.x+r)/g.size)); x++ {
		for y := int(math.Floor((p.y - r) / g.size)); y <= int(math.Floor((p.y+r)/g.size)); y++ {
			for _, i := range g.cells[[2]int{x, y}] {
				f(i)
			}
		}
	}
}

// piece is a stretch [t0, t1] (metres along a line) of the line inside a
// polygon; open0 and open1 say that the stretch ends at an end of the line
// rather than on the polygon's boundary.
type piece struct {
	t0, t1       float64
	open0, open1 bool
}

// insidePieces clips a line to a polygon (its rings, even-odd).
func insidePieces(line []pt, rings [][]pt) []piece {
	cum := make([]float64, len(line))
	var ts []float64
	for i := 0; i+1 < len(line); i++ {
		a, b := line[i], line[i+1]
		l := math.Hypot(b.x-a.x, b.y-a.y)
		cum[i+1] = cum[i] + l
		for _, r := range rings {
			for j := 0; j+1 < len(r); j++ {
				c, d := r[j], r[j+1]
				ab, cd, ac := pt{b.x - a.x, b.y - a.y}, pt{d.x - c.x, d.y - c.y}, pt{c.x - a.x, c.y - a.y}
				den := ab.x*cd.y - ab.y*cd.x
				if den == 0 {
					continue
				}
				s, u := (ac.x*cd.y-ac.y*cd.x)/den, (ac.x*ab.y-ac.y*ab.x)/den
				if s >= 0 && s <= 1 && u >= 0 && u <= 1 {
					ts = append(ts, cum[i]+s*l)
				}
			}
		}
	}
	total := cum[len(cum)-1]
	slices.Sort(ts)
	touches := func(t float64) bool {
		return slices.ContainsFunc(ts, func(x float64) bool { return math.Abs(x-t) < 1e-6 })
	}
	at := func(t float64) pt {
		i := max(sort.SearchFloat64s(cum, t)-1, 0)
		return lerp(line[i], line[i+1], (t-cum[i])/(cum[i+1]-cum[i]))
	}
	cuts := slices.Concat([]float64{0}, ts, []float64{total})
	var out []piece
	for k := 0; k+1 < len(cuts); k++ {
		t0, t1 := cuts[k], cuts[k+1]
		if t1-t0 < 1e-6 {
			continue
		}
		mid, in := at((t0+t1)/2), false
		for _, r := range rings {
			in = in != inRing(mid, r)
		}
		if in {
			out = append(out, piece{t0, t1, k == 0 && !touches(0), k+2 == len(cuts) && !touches(total)})
		}
	}
	return out
}

// roadSuffixes are the name endings of each class.
var roadSuffixes = map[string]string{ClassTrunk: "大道", ClassPrimary: "路", ClassSecondary: "街",
	ClassAlley: "胡同", ClassRiver: "河", ClassRail: "铁路"}

func TestBarriers(t *testing.T) {
	for _, tc := range []struct {
		scale Scale
		seed  int64
	}{{Small, 19}, {Beijing, 23}} {
		t.Run(string(tc.scale), func(t *testing.T) {
			p := generate(t, tc.scale, tc.seed)
			t.Run("counts", func(t *testing.T) { checkBarrierCounts(t, p, tc.scale) })
			t.Run("river and rail", func(t *testing.T) { checkRiverRail(t, p) })
			t.Run("boundaries on roads", func(t *testing.T) { checkBoundariesOnRoads(t, p) })
			g := newSegGrid(newFrame(p.m), 200)
			for _, f := range p.barriers {
				for i := 0; i+1 < len(f.line); i++ {
					g.add(f.line[i], f.line[i+1], f.str("class"))
				}
			}
			t.Run("alleys cross", func(t *testing.T) { checkAlleysCross(t, p, g) })
			t.Run("points clear", func(t *testing.T) { checkPointsClear(t, p, g) })
		})
	}
}

// checkBarrierCounts: the manifest's counts and lengths are the file's,
// names and classes are as documented, lattice roads are merged into long
// polylines, and alleys cut every cell about 3×3.
func checkBarrierCounts(t *testing.T, p *parsed, scale Scale) {
	i := slices.IndexFunc(p.m.Files, func(f FileInfo) bool { return f.Name == BarriersFile })
	if i < 0 || p.m.Files[i].Features != len(p.barriers) || p.m.Counts.Barriers != len(p.barriers) {
		t.Fatalf("manifest files %+v, counts %+v; %d barriers in the file", p.m.Files, p.m.Counts, len(p.barriers))
	}
	n, km := map[string]int{}, map[string]float64{}
	for _, f := range p.barriers {
		cl := f.str("class")
		n[cl]++
		if f.typ != "LineString" || len(f.line) < 2 || f.props["synthetic"] != true ||
			!strings.HasPrefix(f.str("name"), "示例") || !strings.HasSuffix(f.str("name"), roadSuffixes[cl]) {
			t.Errorf("barrier %v: %s of %d points", f.props, f.typ, len(f.line))
		}
		for i, c := range f.line {
			if c[0] != math.Round(c[0]*1e7)/1e7 || c[1] != math.Round(c[1]*1e7)/1e7 {
				t.Fatalf("%s: coordinate %v has more than 7 decimals", f.str("name"), c)
			}
			if i > 0 {
				km[cl] += localLen(f.line[i-1], c) / 1000
			}
		}
	}
	if len(p.m.Barriers) != len(barrierClasses) {
		t.Fatalf("manifest barriers %+v", p.m.Barriers)
	}
	for i, bc := range p.m.Barriers {
		cl := barrierClasses[i]
		if bc.Class != cl || bc.Features != n[cl] || bc.Features == 0 || math.Abs(bc.LengthKM-km[cl]) > 0.005*km[cl]+0.1 {
			t.Errorf("manifest %+v; the file has %d features, %.1f km", bc, n[cl], km[cl])
		}
		if (cl == ClassTrunk || cl == ClassPrimary || cl == ClassSecondary) && km[cl]/float64(n[cl]) < 1.5 {
			t.Errorf("%s: %d features of %.2f km on average, want merged runs", cl, n[cl], km[cl]/float64(n[cl]))
		}
	}
	if n[ClassRiver] != 1 || n[ClassRail] != 1 {
		t.Errorf("%d rivers, %d railways", n[ClassRiver], n[ClassRail])
	}
	// Four alleys of 600 m per cell, some left out, plus the edges inside two-cell communities.
	sp := specs[scale]
	if perCell := km[ClassAlley] / float64(sp.gx*sp.gy); perCell < 1.9 || perCell > 2.6 {
		t.Errorf("%.2f km of alleys per cell", perCell)
	}
}

// checkRiverRail: both run from west of the units to east of them and stay
// inside the city north to south; the river has a vertex every ≈50 m (the
// last step up to 25% longer).
func checkRiverRail(t *testing.T, p *parsed) {
	bb := p.m.BBox
	for _, cl := range []string{ClassRiver, ClassRail} {
		i := slices.IndexFunc(p.barriers, func(f feature) bool { return f.str("class") == cl })
		if i < 0 {
			t.Fatalf("no %s", cl)
		}
		l := p.barriers[i].line
		if l[0][0] >= bb[0] || l[len(l)-1][0] <= bb[2] {
			t.Errorf("%s runs from %v to %v, does not cross the city %v", cl, l[0], l[len(l)-1], bb)
		}
		var steps []float64
		for k, c := range l {
			if c[1] <= bb[1] || c[1] >= bb[3] || (k > 0 && c[0] <= l[k-1][0]) {
				t.Fatalf("%s vertex %d %v: outside the city north to south, or not eastward", cl, k, c)
			}
			if k > 0 {
				steps = append(steps, localLen(c, l[k-1]))
			}
		}
		slices.Sort(steps)
		if med := steps[len(steps)/2]; cl == ClassRiver && (med < 45 || med > 55 || steps[len(steps)-1] > 1.25*riverStep+0.5) {
			t.Errorf("river vertices %.1f m apart (median), %.1f at most", med, steps[len(steps)-1])
		}
	}
}

type skey [4]float64

// segKey names a segment regardless of its direction.
func segKey(a, b [2]float64) skey {
	if a[0] > b[0] || (a[0] == b[0] && a[1] > b[1]) {
		a, b = b, a
	}
	return skey{a[0], a[1], b[0], b[1]}
}

// checkBoundariesOnRoads: every segment of an un-injected community's ring
// is a segment of a road, of the class its two sides call for (trunk
// between districts and on the rim, primary between streets, secondary
// inside a street), and every such road segment is a community's edge
// except on the few edges bent by injected problems.
func checkBoundariesOnRoads(t *testing.T, p *parsed) {
	roads := map[skey]string{}
	for _, f := range p.barriers {
		if cl := f.str("class"); cl != ClassRiver && cl != ClassRail {
			for i := 0; i+1 < len(f.line); i++ {
				roads[segKey(f.line[i], f.line[i+1])] = cl
			}
		}
	}
	owners := map[skey][]string{}
	for _, c := range p.communities {
		for _, poly := range c.mp {
			for _, r := range poly {
				for i := 0; i+1 < len(r); i++ {
					k := segKey(r[i], r[i+1])
					owners[k] = append(owners[k], c.str("code"))
				}
			}
		}
	}
	injComms, _ := p.injected()
	checked := 0
	for _, c := range p.communities {
		code := c.str("code")
		if injComms[code] {
			continue
		}
		r := c.mp[0][0]
		for i := 0; i+1 < len(r); i++ {
			k := segKey(r[i], r[i+1])
			want := ClassTrunk
			if o := slices.DeleteFunc(slices.Clone(owners[k]), func(s string) bool { return s == code }); len(o) == 1 {
				want = map[bool]string{true: ClassSecondary, false: ClassPrimary}[o[0][:9] == code[:9]]
				if o[0][:6] != code[:6] {
					want = ClassTrunk
				}
			} else if len(o) > 1 {
				t.Fatalf("%s: segment %v in %v", code, k, owners[k])
			}
			if got := roads[k]; got != want {
				t.Errorf("%s: edge segment %v is on %q, want %s", code, k, got, want)
			}
			checked++
		}
	}
	misses, crosses := 0, 0
	for k, cl := range roads {
		if cl != ClassAlley && len(owners[k]) == 0 {
			misses++
		}
	}
	for _, in := range p.m.Injected {
		if in.Kind == KindCrossesParent {
			crosses++
		}
	}
	// A bulge replaces at most three segments of a rim edge that no one else shares.
	if misses > 3*crosses || checked < 12*len(p.communities) {
		t.Errorf("%d road segments on no community's edge (%d crosses_parent); %d edge segments checked", misses, crosses, checked)
	}
}

// checkAlleysCross: an alley cuts every un-injected community it enters,
// from boundary to boundary; only the alleyOvershoot past the road at its
// ends may stop inside one, and it ends just past a road it crosses.
func checkAlleysCross(t *testing.T, p *parsed, g *segGrid) {
	f := g.f
	injComms, _ := p.injected()
	type comm struct {
		code  string
		rings [][]pt
		box   [4]float64
	}
	var comms []comm
	index := map[[2]int][]int{}
	const cell = 1000.0
	for _, c := range p.communities {
		if injComms[c.str("code")] {
			continue
		}
		cm := comm{code: c.str("code"), rings: [][]pt{f.line(c.mp[0][0])}}
		cm.box = bounds(cm.rings[0])
		for x := int(cm.box[0] / cell); x <= int(cm.box[2]/cell); x++ {
			for y := int(cm.box[1] / cell); y <= int(cm.box[3]/cell); y++ {
				index[[2]int{x, y}] = append(index[[2]int{x, y}], len(comms))
			}
		}
		comms = append(comms, cm)
	}
	alleys, crossings := 0, 0
	for _, a := range p.barriers {
		if a.str("class") != ClassAlley {
			continue
		}
		alleys++
		line := f.line(a.line)
		box := bounds(line)
		seen := map[int]bool{}
		for x := int(box[0] / cell); x <= int(box[2]/cell); x++ {
			for y := int(box[1] / cell); y <= int(box[3]/cell); y++ {
				for _, ci := range index[[2]int{x, y}] {
					c := comms[ci]
					if seen[ci] || c.box[0] > box[2] || c.box[2] < box[0] || c.box[1] > box[3] || c.box[3] < box[1] {
						continue
					}
					seen[ci] = true
					for _, pc := range insidePieces(line, c.rings) {
						if (pc.open0 || pc.open1) && pc.t1-pc.t0 > alleyOvershoot+0.5 {
							t.Errorf("%s (%v) stops %.1f m inside %s", a.str("name"), a.line[0], pc.t1-pc.t0, c.code)
						} else if !pc.open0 && !pc.open1 {
							crossings++
						}
					}
				}
			}
		}
		for _, end := range [][2][2]float64{{a.line[0], a.line[1]}, {a.line[len(a.line)-1], a.line[len(a.line)-2]}} {
			crossed := false
			g.near(end[0], 3, func(i int) {
				s := g.segs[i]
				if l := g.labels[i]; l != ClassAlley && l != ClassRiver && l != ClassRail &&
					localDist(end[0], s[0], s[1]) <= alleyOvershoot+0.05 &&
					segmentsIntersect(f.pt(end[0]), f.pt(end[1]), f.pt(s[0]), f.pt(s[1])) {
					crossed = true
				}
			})
			if !crossed {
				t.Errorf("%s ends at %v, not just past a road", a.str("name"), end[0])
			}
		}
	}
	if crossings < 2*alleys {
		t.Errorf("%d alleys cross communities only %d times", alleys, crossings)
	}
}

// checkPointsClear: no building point within 12 m of a barrier.
func checkPointsClear(t *testing.T, p *parsed, g *segGrid) {
	bad := 0
	for _, pt := range p.points {
		near := math.Inf(1)
		label := ""
		g.near(pt.point, 13, func(i int) {
			if d := localDist(pt.point, g.segs[i][0], g.segs[i][1]); d < near {
				near, label = d, g.labels[i]
			}
		})
		if near < 12 {
			if bad++; bad <= 10 {
				t.Errorf("point of %s at %v is %.1f m from a %s", pt.str("community_code"), pt.point, near, label)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d points within 12 m of a barrier", bad, len(p.points))
	}
}
