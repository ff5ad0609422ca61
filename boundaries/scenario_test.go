package boundaries_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// liveHash is a hash of every current unit's code and geometry, to prove a
// scenario leaves units alone.
func liveHash(t *testing.T, s *boundaries.Store) (int, string) {
	t.Helper()
	var n int
	var h string
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*), md5(string_agg(code || ST_AsEWKT(geom), ',' ORDER BY code))
		FROM units WHERE valid_to IS NULL`).Scan(&n, &h); err != nil {
		t.Fatal(err)
	}
	return n, h
}

// TestScenarioFlow plans a street with an oversized community of the small
// demo city, keeps it as a scenario, analyses, diffs and adopts it.
func TestScenarioFlow(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	dir := t.TempDir()
	if _, err := demo.Generate(demo.Config{Seed: 1, Scale: demo.Small, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadDemo(ctx, dir, nil); err != nil {
		t.Fatal(err)
	}
	var street, big string
	if err := s.Pool.QueryRow(ctx, `SELECT parent_code, code FROM units WHERE level = 'community' AND valid_to IS NULL
		AND households > 3000 AND parent_code IS NOT NULL ORDER BY households DESC, code LIMIT 1`).Scan(&street, &big); err != nil {
		t.Fatal(err)
	}
	pl := planOf(t, s, boundaries.PlanOptions{Street: street, Seed: 1})
	n0, h0 := liveHash(t, s)
	sc, err := s.CreateScenario(ctx, "split-"+street, pl.Profile, boundaries.PlanSummary(pl, 0),
		boundaries.PlanScenarioUnits(pl), boundaries.PlanMerged(pl))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateScenario(ctx, sc.Name, pl.Profile, nil, boundaries.PlanScenarioUnits(pl), nil); !errors.Is(err, boundaries.ErrDuplicate) {
		t.Fatalf("second scenario of the same name: %v", err)
	}
	if n, h := liveHash(t, s); n != n0 || h != h0 {
		t.Fatalf("creating a scenario changed units: %d/%s → %d/%s", n0, h0, n, h)
	}
	p, err := boundaries.LoadProfile("beijing-2020")
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.AnalyzeScenario(ctx, sc.ID, p, boundaries.Today())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("before %+v after %+v", a.Before.Statuses, a.After.Statuses)
	if a.After.Statuses["oversized"] >= a.Before.Statuses["oversized"] {
		t.Errorf("oversized before %d, after %d", a.Before.Statuses["oversized"], a.After.Statuses["oversized"])
	}
	d, err := s.DiffScenario(ctx, sc.ID, p, boundaries.Today())
	if err != nil {
		t.Fatal(err)
	}
	var news []string
	for _, r := range d.Rows {
		if r.Change == "new" {
			news = append(news, r.Code)
			if !strings.HasPrefix(r.Code, "P"+street+"-") || r.HHAfter == nil {
				t.Errorf("new row %+v", r)
			}
		}
	}
	if len(news) == 0 {
		t.Fatalf("diff lists no new part: %+v", d.Rows)
	}
	if n, h := liveHash(t, s); n != n0 || h != h0 {
		t.Fatal("analysing a scenario changed units")
	}
	// A rival scenario of the same plan: once the first is adopted, its
	// units have changed under it.
	rival, err := s.CreateScenario(ctx, "rival", pl.Profile, nil, boundaries.PlanScenarioUnits(pl), boundaries.PlanMerged(pl))
	if err != nil {
		t.Fatal(err)
	}
	vf := boundaries.Today().AddDate(0, 0, 1)
	res, err := s.AdoptScenario(ctx, sc.ID, "京政函〔2026〕7号", vf, boundaries.Actor{KeyName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != len(news) {
		t.Errorf("created %v, diff new %v", res.Created, news)
	}
	us, err := s.Units(ctx, boundaries.UnitQuery{Level: boundaries.Community, Parent: street, At: vf})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, u := range us {
		if u.Approval != nil && *u.Approval == "京政函〔2026〕7号" {
			got[u.Code] = true
		}
	}
	for _, c := range append(res.Created, res.Updated...) {
		if !got[c] {
			t.Errorf("%s has no version with the approval on %s", c, vf.Format("2006-01-02"))
		}
	}
	h, err := s.History(ctx, big)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 {
		t.Errorf("history of %s: %d versions, want 2", big, len(h))
	}
	// The day before valid_from still has the old geometry.
	var same bool
	if err := s.Pool.QueryRow(ctx, `SELECT md5(string_agg(code || ST_AsEWKT(geom), ',' ORDER BY code)) = $2 FROM units
		WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)`, boundaries.Today(), h0).Scan(&same); err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Error("boundaries of the day before valid_from changed")
	}
	old, err := s.Units(ctx, boundaries.UnitQuery{Level: boundaries.Community, Parent: street, At: boundaries.Today()})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range old {
		if u.Code == big && u.Approval != nil && *u.Approval == "京政函〔2026〕7号" {
			t.Errorf("%s on the day before valid_from is the new version", big)
		}
	}
	if _, err := s.AdoptScenario(ctx, sc.ID, "again", vf, boundaries.Actor{KeyName: "test"}); !errors.Is(err, boundaries.ErrAdopted) {
		t.Fatalf("second adoption: %v", err)
	}
	if _, err := s.AdoptScenario(ctx, rival.ID, "rival", vf.AddDate(0, 0, 1), boundaries.Actor{KeyName: "test"}); !errors.Is(err, boundaries.ErrStale) {
		t.Fatalf("adopting a scenario made against replaced versions: %v", err)
	}
}
