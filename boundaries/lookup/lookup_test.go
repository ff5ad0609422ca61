package lookup_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
)

// A street of two communities (pgtest.Rect units: x 0–2 and 2–4, y 0–2)
// from 2024; from 2025 the first has four grids of one cell each, numbered
// west→east, north→south; the second has none.
func gridStore(t *testing.T) *store.Store {
	t.Helper()
	s, _ := pgtest.NewStore(t)
	for _, l := range []struct {
		level boundaries.Level
		from  string
		fc    string
	}{
		{boundaries.District, "2024-01-01", pgtest.FC(pgtest.Feature(`{"code":"110101","name":"东城区"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 4, 2))))},
		{boundaries.Street, "2024-01-01", pgtest.FC(pgtest.Feature(`{"code":"110101001","name":"东华门街道"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 4, 2))))},
		{boundaries.Community, "2024-01-01", pgtest.FC(pgtest.Comm("110101001001", pgtest.PolyOf(pgtest.Rect(0, 0, 2, 2)), 1600),
			pgtest.Comm("110101001002", pgtest.PolyOf(pgtest.Rect(2, 0, 4, 2)), 1500))},
		{boundaries.Grid, "2025-01-01", pgtest.FC(
			pgtest.Feature(`{"code":"110101001001001","name":"第一网格"}`, pgtest.PolyOf(pgtest.Rect(0, 1, 1, 2))),
			pgtest.Feature(`{"code":"110101001001002","name":"第二网格"}`, pgtest.PolyOf(pgtest.Rect(1, 1, 2, 2))),
			pgtest.Feature(`{"code":"110101001001003","name":"第三网格"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1))),
			pgtest.Feature(`{"code":"110101001001004","name":"第四网格"}`, pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1))))},
	} {
		opt := importer.Options{Level: l.level, ValidFrom: pgtest.Date(t, l.from), Approval: "test"}
		if _, err := importer.Import(context.Background(), s, pgtest.WriteFile(t, string(l.level)+".geojson", l.fc), opt); err != nil {
			t.Fatalf("import %s: %v", l.level, err)
		}
	}
	return s
}

func answer(r lookup.Result) string {
	code := func(u *lookup.Unit) string {
		if u == nil {
			return "-"
		}
		return u.Code
	}
	return fmt.Sprintf("%s/%s/%s edge=%v", code(r.Street), code(r.Community), code(r.Grid), r.OnBoundary)
}

// TestLookupGrid: every answer names the grid covering the point, or none
// (outside the grids, or on a day before grids were loaded).
func TestLookupGrid(t *testing.T) {
	loc := lookup.New(gridStore(t))
	at := func(x, y float64) lookup.Point {
		lon, _ := strconv.ParseFloat(fmt.Sprintf("%.6f", 116.40+x*0.01), 64)
		lat, _ := strconv.ParseFloat(fmt.Sprintf("%.6f", 39.90+y*0.01), 64)
		return lookup.Point{Lon: lon, Lat: lat}
	}
	for _, c := range []struct {
		name string
		day  string
		pt   lookup.Point
		want string
	}{
		{"north-west grid", "", at(0.5, 1.5), "110101001/110101001001/110101001001001 edge=false"},
		{"south-east grid", "", at(1.5, 0.5), "110101001/110101001001/110101001001004 edge=false"},
		{"edge of two grids: the smaller code", "", at(1, 1.5), "110101001/110101001001/110101001001001 edge=true"},
		{"community without grids", "", at(3, 1), "110101001/110101001002/- edge=false"},
		{"outside everything", "", at(6, 6), "-/-/- edge=false"},
		{"before the grids", "2024-06-01", at(0.5, 1.5), "110101001/110101001001/- edge=false"},
	} {
		var day = boundaries.Today()
		if c.day != "" {
			day = pgtest.Date(t, c.day)
		}
		r, err := loc.Lookup(context.Background(), 0, day, []lookup.Point{c.pt})
		if err != nil {
			t.Fatal(err)
		}
		if got := answer(r[0]); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
		if r[0].Grid != nil && r[0].Grid.Name == "" {
			t.Errorf("%s: grid without its name", c.name)
		}
	}
}

// TestLookupGridMatchesPostGIS: on a lattice over the street, edges and
// corners included, the index answers what ST_Covers does (smallest code
// per level), grids included.
func TestLookupGridMatchesPostGIS(t *testing.T) {
	s := gridStore(t)
	ctx := context.Background()
	loc := lookup.New(s)
	var pts []lookup.Point
	for i := 0; i <= 40; i++ {
		for j := 0; j <= 20; j++ {
			// Parsed from the text the fixtures are written in, so a point
			// on an edge is exactly on it.
			lon, _ := strconv.ParseFloat(fmt.Sprintf("%.6f", 116.40+float64(i)*0.001), 64)
			lat, _ := strconv.ParseFloat(fmt.Sprintf("%.6f", 39.90+float64(j)*0.001), 64)
			pts = append(pts, lookup.Point{ID: fmt.Sprint(i, ",", j), Lon: lon, Lat: lat})
		}
	}
	got, err := loc.Lookup(ctx, 0, boundaries.Today(), pts)
	if err != nil {
		t.Fatal(err)
	}
	grids := 0
	for i, p := range pts {
		want, err := lookup.SQL(ctx, s, boundaries.Today(), 0, p)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := answer(got[i]), answer(want); a != b {
			t.Errorf("point %s: index %s, PostGIS %s", p.ID, a, b)
		}
		if want.Grid != nil {
			grids++
		}
	}
	// x 0–2 of 0–4 (21 of 41 columns) has grids, every row.
	if grids != 21*21 {
		t.Errorf("%d of %d points in a grid, want %d", grids, len(pts), 21*21)
	}
}
