package analysis_test

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
)

// gridCity loads a street of two communities (x 0–1 and 1–2) and grids.
func gridCity(t *testing.T, grids ...string) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	street := pgtest.FC(pgtest.Feature(`{"code":"110101001","name":"甲街道"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 2, 1))))
	comms := pgtest.FC(
		pgtest.Feature(`{"code":"110101001001","name":"一社区","hh":2000,"kind":"社区"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1))),
		pgtest.Feature(`{"code":"110101001002","name":"二村","hh":900,"kind":"村"}`, pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1))))
	for _, f := range []struct {
		level boundaries.Level
		body  string
	}{{boundaries.Street, street}, {boundaries.Community, comms}, {boundaries.Grid, pgtest.FC(grids...)}} {
		if _, err := importer.Import(ctx, s, pgtest.WriteFile(t, string(f.level)+".geojson", f.body), importer.Options{
			Level: f.level, HouseholdsField: "hh", KindField: "kind", AllowOrphans: true}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// grid is a grid feature with households (0: none).
func grid(code string, hh int, geometry string) string {
	props := `{"code":"` + code + `","name":"网格` + code[12:] + `"`
	if hh > 0 {
		props += `,"hh":` + strconv.Itoa(hh)
	}
	return pgtest.Feature(props+`}`, geometry)
}

// TestGridZones: each zone kind of grids on hand-made grids, unowned with
// its area, and the communities' own rules unchanged.
func TestGridZones(t *testing.T) {
	const c1 = "110101001001"
	half := func(code string, x0, x1 float64) string {
		return grid(code, 400, pgtest.PolyOf(pgtest.Rect(x0, 0, x1, 1)))
	}
	cases := []struct {
		name  string
		grids []string
		want  []string
	}{
		{"exact tiling", []string{half(c1+"001", 0, 0.5), half(c1+"002", 0.5, 1)}, nil},
		{"overlap", []string{half(c1+"001", 0, 0.6), half(c1+"002", 0.5, 1)}, []string{"overlap:110101001001001+110101001001002"}},
		{"unowned", []string{half(c1+"001", 0, 0.4), half(c1+"002", 0.5, 1)}, []string{"unowned:110101001001"}},
		{"crosses parent", []string{half(c1+"001", 0, 0.5), half(c1+"002", 0.5, 1.2)}, []string{"crosses_parent:110101001001002", "overlap:110101001001002+110101001002001"}},
		{"noncontiguous", []string{
			grid(c1+"001", 400, pgtest.MultiOf([]string{pgtest.Rect(0, 0, 0.5, 0.4)}, []string{pgtest.Rect(0, 0.6, 0.5, 1)})),
			grid(c1+"002", 400, pgtest.PolyOf(pgtest.Rect(0.5, 0, 1, 1))),
			grid(c1+"003", 400, pgtest.PolyOf(pgtest.Rect(0, 0.4, 0.5, 0.6)))}, []string{"noncontiguous:110101001001001"}},
		{"orphan", []string{half(c1+"001", 0, 0.5), half(c1+"002", 0.5, 1), grid("110101001009001", 400, pgtest.PolyOf(pgtest.Rect(5, 5, 6, 6)))},
			[]string{"orphan:110101001009001"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			grids := c.grids
			if c.name == "crosses parent" {
				// The second community's own grid, which the crossing grid overlaps.
				grids = append(grids, grid("110101001002001", 200, pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1))))
			}
			s := gridCity(t, grids...)
			a := pgtest.Analyze(t, s, "beijing-2020")
			if got := pgtest.ZoneKeys(a); strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Fatalf("zones %v, want %v (%v)", got, c.want, a.Summary)
			}
			for _, z := range a.Zones {
				if z.Kind == boundaries.Unowned {
					// 0.001° × 0.01° at 39.9°N: 85.4 m × 1,110.5 m.
					if z.Level != boundaries.Community || math.Abs(z.AreaM2-94_800) > 500 {
						t.Errorf("unowned zone %s at level %s, %.0f m²; want community, about 94,800 m²", z.ID, z.Level, z.AreaM2)
					}
				}
			}
			if st := a.Summary.Status[boundaries.Community]; st[boundaries.Normal] != 2 {
				t.Errorf("community statuses %v: the grids changed them", st)
			}
		})
	}
}

// TestGridStatuses: grids judged with reasons, counted by their building
// points when they carry no counts (a tower of 800 households in one
// point), by the village rules in a 村, staffed one worker each.
func TestGridStatuses(t *testing.T) {
	ctx := context.Background()
	s := gridCity(t,
		grid("110101001001001", 0, pgtest.PolyOf(pgtest.Rect(0, 0, 0.5, 1))),
		grid("110101001001002", 620, pgtest.PolyOf(pgtest.Rect(0.5, 0, 1, 1))),
		grid("110101001002001", 350, pgtest.PolyOf(pgtest.Rect(1, 0, 1.5, 1))),
		grid("110101001002002", 0, pgtest.PolyOf(pgtest.Rect(1.5, 0, 2, 1))))
	pts := pgtest.FC(
		pgtest.Feature(`{"households":800,"population":2100}`, `{"type":"Point","coordinates":[116.4025,39.905]}`),
		pgtest.Feature(`{"households":150,"population":400}`, `{"type":"Point","coordinates":[116.416,39.905]}`),
		pgtest.Feature(`{"households":90,"population":200}`, `{"type":"Point","coordinates":[116.418,39.905]}`))
	if _, err := importer.Points(ctx, s, pgtest.WriteFile(t, "p.geojson", pts), importer.PointsOptions{}); err != nil {
		t.Fatal(err)
	}
	a := pgtest.Analyze(t, s, "beijing-2020")
	want := map[string]struct {
		status, reasons, method string
		households              int64
	}{
		"110101001001001": {"oversized", "households 800 > 500: one building point, cannot be split", "points", 800},
		"110101001001002": {"oversized", "households 620 > 500", "attribute (households)", 620},
		"110101001002001": {"oversized", "households 350 > 300 (村)", "attribute (households)", 350},
		"110101001002002": {"normal", "", "points", 240},
	}
	n := 0
	for _, u := range a.Units {
		w, ok := want[u.Code]
		if !ok {
			continue
		}
		n++
		if string(u.Status) != w.status || strings.Join(u.Reasons, "; ") != w.reasons || *u.CountsMethod != w.method ||
			*u.Households != w.households || *u.StaffMin != 1 || *u.StaffMax != 1 {
			t.Errorf("grid %s: %s %q by %s, %d households, staff %d–%d; want %+v", u.Code, u.Status, u.Reasons, *u.CountsMethod,
				*u.Households, *u.StaffMin, *u.StaffMax, w)
		}
	}
	if n != len(want) || a.Summary.Status[boundaries.Grid][boundaries.Oversized] != 3 {
		t.Errorf("%d grids judged, summary %v", n, a.Summary.Status)
	}
	if got := pgtest.ZoneKeys(a); len(got) != 0 {
		t.Errorf("zones %v, want none", got)
	}
	var b strings.Builder
	p, err := analysis.LoadProfile("beijing-2020")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WriteText(&b, p); err != nil || !strings.Contains(b.String(), "grid households (4 grids") ||
		!slices.ContainsFunc(strings.Split(b.String(), "\n"), func(l string) bool { return strings.HasPrefix(l, "grids ") }) {
		t.Errorf("report: %v\n%s", err, b.String())
	}
}
