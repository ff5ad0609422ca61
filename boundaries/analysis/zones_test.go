package analysis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

func TestZonesHandMade(t *testing.T) {
	const st = "110101001"
	street := pgtest.FC(pgtest.Feature(`{"code":"110101001","name":"甲街道"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 2, 1))))
	cases := []struct {
		name        string
		communities []string
		want        []string
	}{
		{"exact tiling", []string{pgtest.Comm(st+"001", pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1)), 2000), pgtest.Comm(st+"002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 2000)}, nil},
		{"overlap", []string{pgtest.Comm(st+"001", pgtest.PolyOf(pgtest.Rect(0, 0, 1.2, 1)), 2000), pgtest.Comm(st+"002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 2000)},
			[]string{"overlap:110101001001+110101001002"}},
		{"gap", []string{pgtest.Comm(st+"001", pgtest.PolyOf(pgtest.Rect(0, 0, 0.8, 1)), 2000), pgtest.Comm(st+"002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 2000)},
			[]string{"gap:110101001"}},
		{"crosses parent", []string{pgtest.Comm(st+"001", pgtest.PolyOf(pgtest.Rect(-0.3, 0, 1, 1)), 2000), pgtest.Comm(st+"002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 2000)},
			[]string{"crosses_parent:110101001001"}},
		{"crossing under tolerance", []string{pgtest.Comm(st+"001", pgtest.PolyOf(pgtest.Rect(-0.001, 0, 1, 1)), 2000), pgtest.Comm(st+"002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 2000)}, nil},
		{"noncontiguous", []string{
			pgtest.Comm(st+"001", pgtest.MultiOf([]string{pgtest.Rect(0, 0, 1, 0.4)}, []string{pgtest.Rect(0, 0.6, 1, 1)}), 2000),
			pgtest.Comm(st+"002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 2000),
			pgtest.Comm(st+"003", pgtest.PolyOf(pgtest.Rect(0, 0.4, 1, 0.6)), 2000)},
			[]string{"noncontiguous:110101001001"}},
		{"parts touching at a corner are contiguous", []string{
			pgtest.Comm(st+"001", pgtest.MultiOf([]string{pgtest.Rect(0, 0, 0.5, 0.5)}, []string{pgtest.Rect(0.5, 0.5, 1, 1)}), 2000),
			pgtest.Comm(st+"002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 2000),
			pgtest.Comm(st+"003", pgtest.MultiOf([]string{pgtest.Rect(0.5, 0, 1, 0.5)}, []string{pgtest.Rect(0, 0.5, 0.5, 1)}), 2000)}, nil},
		{"hole filled by a neighbour", []string{
			pgtest.Comm(st+"001", pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1), pgtest.Rect(0.3, 0.3, 0.6, 0.6)), 2000),
			pgtest.Comm(st+"002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 2000),
			pgtest.Comm(st+"003", pgtest.PolyOf(pgtest.Rect(0.3, 0.3, 0.6, 0.6)), 2000)}, nil},
		{"hole left empty", []string{
			pgtest.Comm(st+"001", pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1), pgtest.Rect(0.3, 0.3, 0.6, 0.6)), 2000),
			pgtest.Comm(st+"002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 2000)},
			[]string{"gap:110101001"}},
		{"orphan", []string{
			pgtest.Comm(st+"001", pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1)), 2000), pgtest.Comm(st+"002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 2000),
			pgtest.Comm("110101999001", pgtest.PolyOf(pgtest.Rect(5, 5, 6, 6)), 2000)},
			[]string{"orphan:110101999001"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := pgtest.NewStore(t)
			if _, err := importer.Import(ctx, s, pgtest.WriteFile(t, "s.geojson", street), importer.Options{Level: boundaries.Street}); err != nil {
				t.Fatal(err)
			}
			if _, err := importer.Import(ctx, s, pgtest.WriteFile(t, "c.geojson", pgtest.FC(c.communities...)), importer.Options{
				Level: boundaries.Community, HouseholdsField: "hh", AllowOrphans: true}); err != nil {
				t.Fatal(err)
			}
			a := pgtest.Analyze(t, s, "beijing-2020")
			got := pgtest.ZoneKeys(a)
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
	if _, err := importer.Import(ctx, s, pgtest.WriteFile(t, "s.geojson", pgtest.FC(pgtest.Feature(`{"code":"110101001","name":"甲街道"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 2, 1))))),
		importer.Options{Level: boundaries.Street}); err != nil {
		t.Fatal(err)
	}
	if _, err := importer.Import(ctx, s, pgtest.WriteFile(t, "c.geojson", pgtest.FC(
		pgtest.Feature(`{"code":"110101001001","name":"西社区"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1))),
		pgtest.Feature(`{"code":"110101001002","name":"东社区"}`, pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1))),
	)), importer.Options{Level: boundaries.Community}); err != nil {
		t.Fatal(err)
	}
	pt := func(x, y float64, h, p int) string {
		return fmt.Sprintf(`{"type":"Feature","properties":{"households":%d,"population":%d},"geometry":{"type":"Point","coordinates":[%.6f,%.6f]}}`,
			h, p, 116.40+x*0.01, 39.90+y*0.01)
	}
	// 100 households on the shared edge x=1 must count once, for the
	// smaller code (the documented rule).
	if _, err := importer.Points(ctx, s, pgtest.WriteFile(t, "p.geojson", pgtest.FC(pt(0.5, 0.5, 300, 700), pt(1.5, 0.5, 400, 900), pt(1, 0.5, 100, 250))), importer.PointsOptions{}); err != nil {
		t.Fatal(err)
	}
	a := pgtest.Analyze(t, s, "beijing-2020")
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
	if _, err := importer.Points(ctx, s, pgtest.WriteFile(t, "bad.geojson", pgtest.FC(pt(0.2, 0.2, 1, 1), pgtest.Feature(`{"households":5}`, pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1))))), importer.PointsOptions{}); err == nil {
		t.Fatal("a polygon in a points file was accepted")
	}
	var n int
	s.Primary().QueryRow(ctx, `SELECT count(*) FROM points`).Scan(&n)
	if n != 3 {
		t.Fatalf("%d points after a rejected import, want the 3 from before", n)
	}
}

func TestInterpolatedCounts(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	if _, err := importer.Import(ctx, s, pgtest.WriteFile(t, "s.geojson", pgtest.FC(pgtest.Feature(`{"code":"110101001","name":"甲街道"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 2, 1))))),
		importer.Options{Level: boundaries.Street}); err != nil {
		t.Fatal(err)
	}
	if _, err := importer.Import(ctx, s, pgtest.WriteFile(t, "c.geojson", pgtest.FC(
		pgtest.Feature(`{"code":"110101001001","name":"西社区"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1))),
		pgtest.Feature(`{"code":"110101001002","name":"东社区"}`, pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1))),
	)), importer.Options{Level: boundaries.Community}); err != nil {
		t.Fatal(err)
	}
	// One census polygon over the east two thirds: a third of it lies in
	// the west community, two thirds in the east one.
	if _, err := importer.CountAreas(ctx, s, pgtest.WriteFile(t, "grid.geojson", pgtest.FC(pgtest.Feature(`{"households":900,"population":2100}`, pgtest.PolyOf(pgtest.Rect(0.5, 0, 2, 1))))),
		importer.PointsOptions{}); err != nil {
		t.Fatal(err)
	}
	counts := func() map[string][2]int64 {
		out := map[string][2]int64{}
		for _, u := range pgtest.Analyze(t, s, "beijing-2020").Units {
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
	if _, err := importer.Points(ctx, s, pgtest.WriteFile(t, "p.geojson", pgtest.FC(pt(0.6, 0.2, 10), pt(0.7, 0.5, 10), pt(0.8, 0.8, 10), pt(1.5, 0.5, 10))), importer.PointsOptions{}); err != nil {
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
