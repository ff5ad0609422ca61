package boundaries_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// rect is a rectangle polygon in units of 0.01° from (116.40, 39.90).
func rect(x0, y0, x1, y1 float64) string {
	p := func(x, y float64) string { return fmt.Sprintf("[%.6f,%.6f]", 116.40+x*0.01, 39.90+y*0.01) }
	return fmt.Sprintf("[%s,%s,%s,%s,%s]", p(x0, y0), p(x1, y0), p(x1, y1), p(x0, y1), p(x0, y0))
}

func polyOf(rings ...string) string {
	return `{"type":"Polygon","coordinates":[` + strings.Join(rings, ",") + `]}`
}

func multiOf(polys ...[]string) string {
	var ps []string
	for _, p := range polys {
		ps = append(ps, "["+strings.Join(p, ",")+"]")
	}
	return `{"type":"MultiPolygon","coordinates":[` + strings.Join(ps, ",") + `]}`
}

func comm(code, geometry string, households int) string {
	return feature(fmt.Sprintf(`{"code":%q,"name":"社区%s","hh":%d}`, code, code[len(code)-3:], households), geometry)
}

// zoneKeys lists zones as "kind:codes".
func zoneKeys(a *boundaries.Analysis) []string {
	seen := map[string]bool{}
	var out []string
	for _, z := range a.Zones {
		k := z.Kind + ":" + strings.Join(z.Codes, "+")
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestZonesHandMade(t *testing.T) {
	const st = "110101001"
	street := fc(feature(`{"code":"110101001","name":"甲街道"}`, polyOf(rect(0, 0, 2, 1))))
	cases := []struct {
		name        string
		communities []string
		want        []string
	}{
		{"exact tiling", []string{comm(st+"001", polyOf(rect(0, 0, 1, 1)), 2000), comm(st+"002", polyOf(rect(1, 0, 2, 1)), 2000)}, nil},
		{"overlap", []string{comm(st+"001", polyOf(rect(0, 0, 1.2, 1)), 2000), comm(st+"002", polyOf(rect(1, 0, 2, 1)), 2000)},
			[]string{"overlap:110101001001+110101001002"}},
		{"gap", []string{comm(st+"001", polyOf(rect(0, 0, 0.8, 1)), 2000), comm(st+"002", polyOf(rect(1, 0, 2, 1)), 2000)},
			[]string{"gap:110101001"}},
		{"crosses parent", []string{comm(st+"001", polyOf(rect(-0.3, 0, 1, 1)), 2000), comm(st+"002", polyOf(rect(1, 0, 2, 1)), 2000)},
			[]string{"crosses_parent:110101001001"}},
		{"crossing under tolerance", []string{comm(st+"001", polyOf(rect(-0.001, 0, 1, 1)), 2000), comm(st+"002", polyOf(rect(1, 0, 2, 1)), 2000)}, nil},
		{"noncontiguous", []string{
			comm(st+"001", multiOf([]string{rect(0, 0, 1, 0.4)}, []string{rect(0, 0.6, 1, 1)}), 2000),
			comm(st+"002", polyOf(rect(1, 0, 2, 1)), 2000),
			comm(st+"003", polyOf(rect(0, 0.4, 1, 0.6)), 2000)},
			[]string{"noncontiguous:110101001001"}},
		{"parts touching at a corner are contiguous", []string{
			comm(st+"001", multiOf([]string{rect(0, 0, 0.5, 0.5)}, []string{rect(0.5, 0.5, 1, 1)}), 2000),
			comm(st+"002", polyOf(rect(1, 0, 2, 1)), 2000),
			comm(st+"003", multiOf([]string{rect(0.5, 0, 1, 0.5)}, []string{rect(0, 0.5, 0.5, 1)}), 2000)}, nil},
		{"hole filled by a neighbour", []string{
			comm(st+"001", polyOf(rect(0, 0, 1, 1), rect(0.3, 0.3, 0.6, 0.6)), 2000),
			comm(st+"002", polyOf(rect(1, 0, 2, 1)), 2000),
			comm(st+"003", polyOf(rect(0.3, 0.3, 0.6, 0.6)), 2000)}, nil},
		{"hole left empty", []string{
			comm(st+"001", polyOf(rect(0, 0, 1, 1), rect(0.3, 0.3, 0.6, 0.6)), 2000),
			comm(st+"002", polyOf(rect(1, 0, 2, 1)), 2000)},
			[]string{"gap:110101001"}},
		{"orphan", []string{
			comm(st+"001", polyOf(rect(0, 0, 1, 1)), 2000), comm(st+"002", polyOf(rect(1, 0, 2, 1)), 2000),
			comm("110101999001", polyOf(rect(5, 5, 6, 6)), 2000)},
			[]string{"orphan:110101999001"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := pgtest.NewStore(t)
			if _, err := s.Import(ctx, writeFile(t, "s.geojson", street), boundaries.ImportOptions{Level: boundaries.Street}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Import(ctx, writeFile(t, "c.geojson", fc(c.communities...)), boundaries.ImportOptions{
				Level: boundaries.Community, HouseholdsField: "hh", AllowOrphans: true}); err != nil {
				t.Fatal(err)
			}
			a := analyze(t, s, "beijing-2020")
			got := zoneKeys(a)
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Fatalf("zones %v, want %v", got, c.want)
			}
			for _, z := range a.Zones {
				if z.AreaM2 < 100 {
					t.Errorf("zone %s listed with %.1f m², under the 100 m² tolerance", z.ID, z.AreaM2)
				}
			}
		})
	}
}

func TestPointsCountOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	if _, err := s.Import(ctx, writeFile(t, "s.geojson", fc(feature(`{"code":"110101001","name":"甲街道"}`, polyOf(rect(0, 0, 2, 1))))),
		boundaries.ImportOptions{Level: boundaries.Street}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, writeFile(t, "c.geojson", fc(
		feature(`{"code":"110101001001","name":"西社区"}`, polyOf(rect(0, 0, 1, 1))),
		feature(`{"code":"110101001002","name":"东社区"}`, polyOf(rect(1, 0, 2, 1))),
	)), boundaries.ImportOptions{Level: boundaries.Community}); err != nil {
		t.Fatal(err)
	}
	pt := func(x, y float64, h, p int) string {
		return fmt.Sprintf(`{"type":"Feature","properties":{"households":%d,"population":%d},"geometry":{"type":"Point","coordinates":[%.6f,%.6f]}}`,
			h, p, 116.40+x*0.01, 39.90+y*0.01)
	}
	// 100 households on the shared edge x=1 must count once, for the
	// smaller code (the documented rule).
	if _, err := s.ImportPoints(ctx, writeFile(t, "p.geojson", fc(pt(0.5, 0.5, 300, 700), pt(1.5, 0.5, 400, 900), pt(1, 0.5, 100, 250))), boundaries.PointsOptions{}); err != nil {
		t.Fatal(err)
	}
	a := analyze(t, s, "beijing-2020")
	got := map[string]int64{}
	for _, u := range a.Units {
		if u.Households != nil {
			got[u.Code] = *u.Households
		}
		if u.Level == boundaries.Community && (u.CountsMethod == nil || *u.CountsMethod != "points") {
			t.Errorf("%s counts method %v, want points", u.Code, u.CountsMethod)
		}
	}
	if got["110101001001"] != 400 || got["110101001002"] != 400 || got["110101001"] != 800 {
		t.Fatalf("households %v, want 400 (incl. the edge point) / 400 / street 800", got)
	}
	// Both communities are undersized (< 500 households).
	if a.Summary.Status["community"]["undersized"] != 2 {
		t.Fatalf("status counts %v", a.Summary.Status)
	}
	// A bad point file writes nothing.
	if _, err := s.ImportPoints(ctx, writeFile(t, "bad.geojson", fc(pt(0.2, 0.2, 1, 1), feature(`{"households":5}`, polyOf(rect(0, 0, 1, 1))))), boundaries.PointsOptions{}); err == nil {
		t.Fatal("a polygon in a points file was accepted")
	}
	var n int
	s.Pool.QueryRow(ctx, `SELECT count(*) FROM points`).Scan(&n)
	if n != 3 {
		t.Fatalf("%d points after a rejected import, want the 3 from before", n)
	}
}

func TestInterpolatedCounts(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	if _, err := s.Import(ctx, writeFile(t, "s.geojson", fc(feature(`{"code":"110101001","name":"甲街道"}`, polyOf(rect(0, 0, 2, 1))))),
		boundaries.ImportOptions{Level: boundaries.Street}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, writeFile(t, "c.geojson", fc(
		feature(`{"code":"110101001001","name":"西社区"}`, polyOf(rect(0, 0, 1, 1))),
		feature(`{"code":"110101001002","name":"东社区"}`, polyOf(rect(1, 0, 2, 1))),
	)), boundaries.ImportOptions{Level: boundaries.Community}); err != nil {
		t.Fatal(err)
	}
	// One census polygon over the east two thirds: a third of it lies in
	// the west community, two thirds in the east one.
	if _, err := s.ImportCountAreas(ctx, writeFile(t, "grid.geojson", fc(feature(`{"households":900,"population":2100}`, polyOf(rect(0.5, 0, 2, 1))))),
		boundaries.PointsOptions{}); err != nil {
		t.Fatal(err)
	}
	counts := func() map[string][2]int64 {
		out := map[string][2]int64{}
		for _, u := range analyze(t, s, "beijing-2020").Units {
			if u.Level == boundaries.Community {
				out[u.Code+" "+*u.CountsMethod] = [2]int64{*u.Households, *u.Population}
			}
		}
		return out
	}
	got := counts()
	want := map[string][2]int64{"110101001001 interpolated by area": {300, 700}, "110101001002 interpolated by area": {600, 1400}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("by area: %v, want %v", got, want)
	}
	// Building points with households only: households come from them,
	// population is shared by the points' households (30 west, 10 east).
	pt := func(x, y float64, h int) string {
		return fmt.Sprintf(`{"type":"Feature","properties":{"households":%d},"geometry":{"type":"Point","coordinates":[%.6f,%.6f]}}`, h, 116.40+x*0.01, 39.90+y*0.01)
	}
	if _, err := s.ImportPoints(ctx, writeFile(t, "p.geojson", fc(pt(0.6, 0.2, 10), pt(0.7, 0.5, 10), pt(0.8, 0.8, 10), pt(1.5, 0.5, 10))), boundaries.PointsOptions{}); err != nil {
		t.Fatal(err)
	}
	got = counts()
	want = map[string][2]int64{
		"110101001001 points (households), interpolated by households (population)": {30, 1575},
		"110101001002 points (households), interpolated by households (population)": {10, 525},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("by households: %v, want %v", got, want)
	}
}
