package grids_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/grids"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

func TestK(t *testing.T) {
	r := grids.Rules{Min: 300, Max: 500, Target: 400}
	cases := []struct {
		h    float64
		want int
	}{
		{0, 1}, {250, 1}, {450, 1}, {550, 1}, // 550: one is over, two under; round(1.4) = 1
		{700, 2}, {1000, 3}, {1100, 3}, {2613, 7}, {3523, 9},
	}
	for _, c := range cases {
		if got := r.K(c.h); got != c.want {
			t.Errorf("K(%v) = %d, want %d", c.h, got, c.want)
		}
	}
	// A target outside the range is moved into the counts that fit:
	// 1,000 households at 800 a grid would be 1 grid of 1,000.
	if got := (grids.Rules{Min: 300, Max: 500, Target: 800}).K(1000); got != 2 {
		t.Errorf("K(1000) at target 800 = %d, want 2", got)
	}
}

func TestRulesOf(t *testing.T) {
	r, err := grids.RulesOf(profile(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Min != 300 || r.Max != 500 || r.Target != 400 {
		t.Errorf("rules %+v, want 300–500, target 400", r)
	}
	if r, _ = grids.RulesOf(profile(t), 350); r.Target != 350 {
		t.Errorf("--households 350: target %v", r.Target)
	}
	if _, err := grids.RulesOf(profile(t), -1); err == nil {
		t.Error("negative households accepted")
	}
}

// TestGenerateTower: a building point of 800 households is a grid of its
// own, flagged with the reason, and the rest of the community is cut
// within range.
func TestGenerateTower(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	if _, err := importer.Import(ctx, s, pgtest.WriteFile(t, "s.geojson", pgtest.FC(pgtest.Feature(`{"code":"110101001","name":"甲街道"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1))))),
		importer.Options{Level: boundaries.Street}); err != nil {
		t.Fatal(err)
	}
	if _, err := importer.Import(ctx, s, pgtest.WriteFile(t, "c.geojson", pgtest.FC(pgtest.Feature(`{"code":"110101001001","name":"甲社区","households":2000}`,
		pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1))))), importer.Options{Level: boundaries.Community, ParentField: "street", HouseholdsField: "households"}); err != nil {
		t.Fatal(err)
	}
	// The tower in the south-west corner, twelve points of 100 around.
	pts := []string{pgtest.Feature(`{"households":800}`, pointAt(0.1, 0.1))}
	for i := range 12 {
		pts = append(pts, pgtest.Feature(`{"households":100}`, pointAt(0.2+0.6*float64(i%4)/3, 0.35+0.55*float64(i/4)/2)))
	}
	if _, err := importer.Points(ctx, s, pgtest.WriteFile(t, "p.geojson", pgtest.FC(pts...)), importer.PointsOptions{}); err != nil {
		t.Fatal(err)
	}
	pl := propose(t, s, grids.Options{Community: "110101001001", Seed: 1})
	var tower, inRange int
	for _, u := range pl.Units {
		h := *u.Households
		switch {
		case h >= 800:
			tower++
			if u.Status != boundaries.Oversized || len(u.Reasons) != 1 || !strings.Contains(u.Reasons[0], "building point of 800 households") {
				t.Errorf("tower grid %s: %s %v", u.Code, u.Status, u.Reasons)
			}
		case h >= 300 && h <= 500:
			inRange++
		default:
			t.Errorf("grid %s: %d households (%v)", u.Code, h, u.Reasons)
		}
	}
	// 800 on its own, 1,200 into 3 grids of 400.
	if tower != 1 || inRange != 3 {
		t.Errorf("%d tower grids, %d in range; want 1 and 3: %+v", tower, inRange, pl.Infeasible)
	}
	loadPlanGrids(t, s, pl)
	checkTiling(t, s, "test_grids")
	checkOrder(t, s, "test_grids")
}

func pointAt(x, y float64) string {
	return fmt.Sprintf(`{"type":"Point","coordinates":[%.6f,%.6f]}`, 116.40+x*0.01, 39.90+y*0.01)
}

// TestGenerateRefuses checks bad requests name what was asked for.
func TestGenerateRefuses(t *testing.T) {
	s := beixinqiaoWithPoints(t)
	p := profile(t)
	cases := []struct {
		name    string
		opt     grids.Options
		mention string
	}{
		{"no scope", grids.Options{}, "choose one of a community, a street or all"},
		{"two scopes", grids.Options{Community: "110101005006", All: true}, "choose one of"},
		{"unknown community", grids.Options{Community: "110101005999"}, "community 110101005999: no community in scope"},
		{"unknown street", grids.Options{Street: "110101999"}, "street 110101999"},
		{"blocks without barriers", grids.Options{Street: beixinqiao, Method: "blocks"}, "no barriers are loaded"},
		{"unknown method", grids.Options{All: true, Method: "voronoi"}, `method "voronoi"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := grids.Propose(context.Background(), s, p, c.opt)
			var ve *boundaries.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), c.mention) {
				t.Errorf("error %v, want a validation error mentioning %q", err, c.mention)
			}
		})
	}
	if _, err := grids.Renumber(context.Background(), s, p, "110101005006", boundaries.Today()); err == nil || !strings.Contains(err.Error(), "has no grids") {
		t.Errorf("renumber of a community without grids: %v", err)
	}
}
