package analysis

import (
	"math"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
)

func TestJudge(t *testing.T) {
	bj, err := LoadProfile("beijing-2020")
	if err != nil {
		t.Fatal(err)
	}
	nat, err := LoadProfile("national-1989")
	if err != nil {
		t.Fatal(err)
	}
	n := func(v int64) *int64 { return &v }
	cases := []struct {
		name     string
		p        *Profile
		m        Measures
		status   string
		reason   string
		staffMin int64
		staffMax int64
	}{
		{"exactly 500 is not under 500", bj, Measures{Level: boundaries.Community, Households: n(500)}, "normal", "", 9, 9},
		{"499 is under 500", bj, Measures{Level: boundaries.Community, Households: n(499)}, "undersized", "households 499 < 500", 9, 9},
		{"exactly 3000 is not over 3000", bj, Measures{Level: boundaries.Community, Households: n(3000)}, "normal", "", 20, 28},
		{"3001 is over 3000", bj, Measures{Level: boundaries.Community, Households: n(3001)}, "oversized", "households 3001 > 3000", 21, 28},
		{"民安", bj, Measures{Level: boundaries.Community, Households: n(3523), Population: n(8054)}, "oversized", "households 3523 > 3000", 24, 33},
		{"population over 9000", bj, Measures{Level: boundaries.Community, Households: n(2500), Population: n(9001)}, "oversized", "population 9001 > 9000", 17, 23},
		{"no counts", bj, Measures{Level: boundaries.Community}, "unknown", "no households or population", 0, 0},
		{"national: 99 households", nat, Measures{Level: boundaries.Community, Households: n(99)}, "undersized", "households 99 < 100", 5, 5},
		{"national: 701 households", nat, Measures{Level: boundaries.Community, Households: n(701)}, "oversized", "households 701 > 700", 5, 5},
		{"Dongcheng street too small", bj, Measures{Level: boundaries.Street, Code: "110101005", ParentCode: "110101", AreaKM2: 1.5, Population: n(60000)}, "undersized", "area 1.50 km² < 2", 0, 0},
		{"Dongcheng street over 100,000", bj, Measures{Level: boundaries.Street, Code: "110101005", ParentCode: "110101", AreaKM2: 2.5, Population: n(100001)}, "oversized", "population 100001 > 100000", 0, 0},
		{"Chaoyang street needs 3 km²", bj, Measures{Level: boundaries.Street, Code: "110105001", AreaKM2: 2.5, Population: n(60000)}, "undersized", "area 2.50 km² < 3", 0, 0},
		{"other district: 30,000 people ok", bj, Measures{Level: boundaries.Street, Code: "110111001", AreaKM2: 6, Population: n(30000)}, "normal", "", 0, 0},
		{"other district: 150,001 too many", bj, Measures{Level: boundaries.Street, Code: "110111001", AreaKM2: 6, Population: n(150001)}, "oversized", "population 150001 > 150000", 0, 0},
		{"grid of 300–500 households", bj, Measures{Level: boundaries.Grid, Households: n(420), Points: 3}, "normal", "", 1, 1},
		{"grid of 620 households", bj, Measures{Level: boundaries.Grid, Households: n(620), Points: 4}, "oversized", "households 620 > 500", 1, 1},
		{"grid of 299 households", bj, Measures{Level: boundaries.Grid, Households: n(299), Points: 2}, "undersized", "households 299 < 300", 1, 1},
		{"grid over 2,500 people", bj, Measures{Level: boundaries.Grid, Households: n(480), Population: n(2501)}, "oversized", "population 2501 > 2500", 1, 1},
		{"tower of 800 households", bj, Measures{Level: boundaries.Grid, Households: n(800), Points: 1}, "oversized", "households 800 > 500: one building point, cannot be split", 1, 1},
		{"village grid of 350 households", bj, Measures{Level: boundaries.Grid, ParentKind: "村", Households: n(350)}, "oversized", "households 350 > 300 (村)", 1, 1},
		{"village grid of 120 households", bj, Measures{Level: boundaries.Grid, ParentKind: "村", Households: n(120)}, "normal", "", 1, 1},
		{"grid without counts", bj, Measures{Level: boundaries.Grid}, "unknown", "no households or population", 1, 1},
		{"national: no grid sizes", nat, Measures{Level: boundaries.Grid, Households: n(5000)}, "normal", "", 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := c.p.Judge(c.m)
			if string(j.Status) != c.status {
				t.Fatalf("status %s (%v), want %s", j.Status, j.Reasons, c.status)
			}
			if c.reason != "" && !strings.Contains(strings.Join(j.Reasons, "; "), c.reason) {
				t.Fatalf("reasons %q, want %q", j.Reasons, c.reason)
			}
			if c.reason == "" && len(j.Reasons) != 0 {
				t.Fatalf("reasons %q, want none", j.Reasons)
			}
			if c.staffMax != 0 && (j.StaffMin == nil || *j.StaffMin != c.staffMin || *j.StaffMax != c.staffMax) {
				t.Fatalf("staff %v–%v, want %d–%d", j.StaffMin, j.StaffMax, c.staffMin, c.staffMax)
			}
		})
	}
}

func TestProfilesCarrySources(t *testing.T) {
	for _, name := range append(ProfileNames(), "../../data/profiles/custom.example.json") {
		p, err := LoadProfile(name)
		if err != nil {
			t.Fatal(err)
		}
		nums := []Number{p.Community.NormalHouseholds, p.Community.MaxHouseholds, p.Community.MinHouseholds, p.Community.StaffMinimum,
			p.Zones.MinZoneAreaM2, p.Zones.MinOutsideShare}
		for _, c := range p.Street.Classes {
			nums = append(nums, c.MinAreaKM2, c.MinPopulation, c.MaxPopulation)
		}
		for i, n := range nums {
			if strings.TrimSpace(n.Source) == "" {
				t.Errorf("profile %s: number %d has no source", name, i)
			}
		}
	}
}

// TestGridRulesFor: a kind's rules override the general ones field by
// field, matched on the grid's own kind first; a null switches a rule off.
func TestGridRulesFor(t *testing.T) {
	bj, err := LoadProfile("beijing-2020")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kind, community, matched string
		min, max                 float64 // NaN: off
	}{
		{"", "社区", "", 300, 500},
		{"", "村", "村", math.NaN(), 300},
		{"村", "社区", "村", math.NaN(), 300},
		{"专属网格", "", "", 300, 500},
	} {
		r, k := bj.GridRulesFor(c.kind, c.community)
		same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
		if k != c.matched || !same(r.MinHouseholds.Float(), c.min) || !same(r.MaxHouseholds.Float(), c.max) || r.MaxPopulation.Float() != 2500 || r.Kinds != nil {
			t.Errorf("GridRulesFor(%q, %q) = %v–%v, %q; want %v–%v, %q", c.kind, c.community, r.MinHouseholds.Float(), r.MaxHouseholds.Float(), k, c.min, c.max, c.matched)
		}
	}
	if !strings.Contains(bj.Grid.MaxHouseholds.Source, "secondary sources") {
		t.Errorf("grid households source %q does not say it is a secondary figure", bj.Grid.MaxHouseholds.Source)
	}
	for _, name := range []string{"national-1989", "../../data/profiles/custom.example.json"} {
		p, err := LoadProfile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Grid.StaffPerGrid.On() || p.Grid.StaffPerGrid.Source == "" {
			t.Errorf("%s: no grid staffing", name)
		}
	}
}
