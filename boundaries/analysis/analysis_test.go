package analysis_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

func TestAnalyzeBeixinqiao(t *testing.T) {
	s, _ := pgtest.NewStore(t)
	pgtest.ImportBeixinqiao(t, s)
	a := pgtest.Analyze(t, s, "beijing-2020")
	var over, under []analysis.UnitResult
	for _, u := range a.Units {
		if u.Level != boundaries.Community {
			continue
		}
		switch u.Status {
		case "oversized":
			over = append(over, u)
		case "undersized":
			under = append(under, u)
		}
	}
	if len(over) != 1 || over[0].Code != "110101005006" || *over[0].Households != 3523 {
		t.Fatalf("oversized %+v, want only 民安 110101005006 with 3523 households", over)
	}
	if len(under) != 0 {
		t.Fatalf("undersized %+v, want none", under)
	}
	m := over[0]
	if *m.StaffMin < 24 || *m.StaffMax > 33 || *m.StaffMin > *m.StaffMax {
		t.Fatalf("民安 staff %d–%d, want within 24–33", *m.StaffMin, *m.StaffMax)
	}
	if len(m.Reasons) != 1 || m.Reasons[0] != "households 3523 > 3000" {
		t.Fatalf("民安 reasons %q", m.Reasons)
	}
	for _, z := range a.Zones {
		if z.Kind == "overlap" || z.Kind == "gap" {
			t.Errorf("zone %s %v %.0f m², want no overlaps or gaps in Beixinqiao", z.Kind, z.Codes, z.AreaM2)
		}
	}
	// The street's counts are the sum of its communities.
	for _, u := range a.Units {
		if u.Code == "110101005" && (u.Households == nil || *u.Households != 23873 || *u.CountsMethod != "sum of communities") {
			t.Fatalf("street counts %v (%v), want 23873 summed from communities", u.Households, u.CountsMethod)
		}
	}
}

func TestAnalyzeDongchengNoOverlaps(t *testing.T) {
	dir := pgtest.SharedData(t, "beijing")
	s, _ := pgtest.NewStore(t)
	if _, err := importer.Import(context.Background(), s, filepath.Join(dir, "dongcheng_streets.geojson"),
		importer.Options{Level: boundaries.Street, CRS: pgtest.MustCRS(t, "gcj02"), CodeField: "code_2023"}); err != nil {
		t.Fatal(err)
	}
	a := pgtest.Analyze(t, s, "beijing-2020")
	if len(a.Units) != 17 {
		t.Fatalf("%d units analysed, want 17", len(a.Units))
	}
	if a.Summary.Zones["overlap"] != 0 {
		t.Fatalf("%d overlaps among the Dongcheng streets, want 0", a.Summary.Zones["overlap"])
	}
}
