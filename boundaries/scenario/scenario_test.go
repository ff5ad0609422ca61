package scenario_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// liveHash is a hash of every current unit's code and geometry, to prove a
// scenario leaves units alone.
func liveHash(t *testing.T, s *store.Store) (int, string) {
	t.Helper()
	var n int
	var h string
	if err := s.Primary().QueryRow(context.Background(), `SELECT count(*), md5(string_agg(code || ST_AsEWKT(geom), ',' ORDER BY code))
		FROM units WHERE valid_to IS NULL`).Scan(&n, &h); err != nil {
		t.Fatal(err)
	}
	return n, h
}

// TestScenarioFlow plans a street with an oversized community of the small
// demo city, keeps it as a scenario, analyses, diffs and adopts it.
func TestScenarioFlow(t *testing.T) {
	ctx := context.Background()
	s := pgtest.SmallDemo(t)
	var street, big string
	if err := s.Primary().QueryRow(ctx, `SELECT parent_code, code FROM units WHERE level = 'community' AND valid_to IS NULL
		AND households > 3000 AND parent_code IS NOT NULL ORDER BY households DESC, code LIMIT 1`).Scan(&street, &big); err != nil {
		t.Fatal(err)
	}
	pl := pgtest.Plan(t, s, plan.Options{Street: street, Seed: 1})
	n0, h0 := liveHash(t, s)
	sc, err := scenario.Create(ctx, s, "split-"+street, pl.Profile, pl.Summary(0),
		pgtest.ScenarioUnits(t, pl), pgtest.ScenarioRemoved(t, pl))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scenario.Create(ctx, s, sc.Name, pl.Profile, nil, pgtest.ScenarioUnits(t, pl), nil); !errors.Is(err, boundaries.ErrDuplicate) {
		t.Fatalf("second scenario of the same name: %v", err)
	}
	if n, h := liveHash(t, s); n != n0 || h != h0 {
		t.Fatalf("creating a scenario changed units: %d/%s → %d/%s", n0, h0, n, h)
	}
	p, err := analysis.LoadProfile("beijing-2020")
	if err != nil {
		t.Fatal(err)
	}
	a, err := scenario.Analyze(ctx, s, pgtest.Runs(s), sc.ID, p, boundaries.Today())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("before %+v after %+v", a.Before.Statuses, a.After.Statuses)
	if a.After.Statuses["oversized"] >= a.Before.Statuses["oversized"] {
		t.Errorf("oversized before %d, after %d", a.Before.Statuses["oversized"], a.After.Statuses["oversized"])
	}
	d, err := scenario.Difference(ctx, s, pgtest.Runs(s), sc.ID, p, boundaries.Today())
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
	rival, err := scenario.Create(ctx, s, "rival", pl.Profile, nil, pgtest.ScenarioUnits(t, pl), pgtest.ScenarioRemoved(t, pl))
	if err != nil {
		t.Fatal(err)
	}
	vf := boundaries.Today().AddDate(0, 0, 1)
	res, err := scenario.Adopt(ctx, s, sc.ID, "京政函〔2026〕7号", vf, units.Actor{KeyName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != len(news) {
		t.Errorf("created %v, diff new %v", res.Created, news)
	}
	var noKind int
	if err := s.Primary().QueryRow(ctx, `SELECT count(*) FROM units WHERE approval = $1 AND kind IS NULL`, "京政函〔2026〕7号").Scan(&noKind); err != nil {
		t.Fatal(err)
	}
	if noKind != 0 {
		t.Errorf("%d adopted versions have no kind (社区/村)", noKind)
	}
	us, err := units.List(ctx, s, units.Query{Level: boundaries.Community, Parent: street, At: vf})
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
	h, err := units.History(ctx, s, big)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 {
		t.Errorf("history of %s: %d versions, want 2", big, len(h))
	}
	// The day before valid_from still has the old geometry.
	var same bool
	if err := s.Primary().QueryRow(ctx, `SELECT md5(string_agg(code || ST_AsEWKT(geom), ',' ORDER BY code)) = $2 FROM units
		WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)`, boundaries.Today(), h0).Scan(&same); err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Error("boundaries of the day before valid_from changed")
	}
	old, err := units.List(ctx, s, units.Query{Level: boundaries.Community, Parent: street, At: boundaries.Today()})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range old {
		if u.Code == big && u.Approval != nil && *u.Approval == "京政函〔2026〕7号" {
			t.Errorf("%s on the day before valid_from is the new version", big)
		}
	}
	if _, err := scenario.Adopt(ctx, s, sc.ID, "again", vf, units.Actor{KeyName: "test"}); !errors.Is(err, scenario.ErrAdopted) {
		t.Fatalf("second adoption: %v", err)
	}
	if _, err := scenario.Adopt(ctx, s, rival.ID, "rival", vf.AddDate(0, 0, 1), units.Actor{KeyName: "test"}); !errors.Is(err, boundaries.ErrStale) {
		t.Fatalf("adopting a scenario made against replaced versions: %v", err)
	}
}

// TestScenarioLayers reads the layers of a scenario made of the full demo
// plan: the communities are the live ones with the plan applied, judged by
// the scenario's own analysis run, while the live layers stay as they are.
func TestScenarioLayers(t *testing.T) {
	ctx := context.Background()
	s := pgtest.SmallDemo(t)
	pl := pgtest.Plan(t, s, plan.Options{All: true, Seed: 1})
	sc, err := scenario.Create(ctx, s, "all", pl.Profile, pl.Summary(0),
		pgtest.ScenarioUnits(t, pl), pgtest.ScenarioRemoved(t, pl))
	if err != nil {
		t.Fatal(err)
	}
	p, err := analysis.LoadProfile("beijing-2020")
	if err != nil {
		t.Fatal(err)
	}
	day := boundaries.Today()
	a, err := scenario.Analyze(ctx, s, pgtest.Runs(s), sc.ID, p, day)
	if err != nil {
		t.Fatal(err)
	}
	type feature struct {
		Properties struct {
			Code     string  `json:"code"`
			Status   string  `json:"status"`
			Proposed bool    `json:"proposed"`
			Version  *int64  `json:"version_id"`
			Kind     *string `json:"kind"`
		} `json:"properties"`
	}
	read := func(layer string, scenario int64) []feature {
		t.Helper()
		var b strings.Builder
		if _, err := pgtest.Reader(s).Export(ctx, &b, layers.ExportOptions{Layer: layer, Profile: p, At: day, Scenario: scenario}); err != nil {
			t.Fatalf("export %s (scenario %d): %v", layer, scenario, err)
		}
		var fc struct{ Features []feature }
		if err := json.Unmarshal([]byte(b.String()), &fc); err != nil {
			t.Fatal(err)
		}
		return fc.Features
	}
	live, proposed := read("communities", 0), read("communities", sc.ID)
	var nLive int
	if err := s.Primary().QueryRow(ctx, `SELECT count(*) FROM units WHERE level = 'community' AND valid_to IS NULL`).Scan(&nLive); err != nil {
		t.Fatal(err)
	}
	if len(live) != nLive {
		t.Fatalf("live layer: %d communities, want %d", len(live), nLive)
	}
	// Live less the replaced and removed, plus the scenario's units.
	replaced := 0
	liveCodes := map[string]bool{}
	for _, f := range live {
		liveCodes[f.Properties.Code] = true
		if f.Properties.Proposed {
			t.Errorf("live layer: %s is marked proposed", f.Properties.Code)
		}
	}
	for _, c := range sc.Codes {
		if liveCodes[c] {
			replaced++
		}
	}
	if want := nLive - replaced - len(sc.Removed) + len(sc.Codes); len(proposed) != want {
		t.Errorf("scenario layer: %d communities, want %d (live %d − replaced %d − removed %d + proposed %d)",
			len(proposed), want, nLive, replaced, len(sc.Removed), len(sc.Codes))
	}
	statuses := map[string]int{}
	inScenario := map[string]bool{}
	for _, c := range sc.Codes {
		inScenario[c] = true
	}
	nProposed := 0
	for _, f := range proposed {
		statuses[f.Properties.Status]++
		if f.Properties.Proposed != inScenario[f.Properties.Code] {
			t.Errorf("%s: proposed = %v", f.Properties.Code, f.Properties.Proposed)
		}
		if f.Properties.Proposed {
			nProposed++
			if f.Properties.Version != nil || f.Properties.Kind == nil {
				t.Errorf("%s: version %v, kind %v (want no version and its street's kind)", f.Properties.Code, f.Properties.Version, f.Properties.Kind)
			}
		}
	}
	t.Logf("live %d communities, scenario %d (%d proposed, %d replaced, %d removed), statuses %v", nLive, len(proposed), nProposed, replaced, len(sc.Removed), statuses)
	if nProposed != len(sc.Codes) {
		t.Errorf("%d proposed units in the layer, scenario has %d", nProposed, len(sc.Codes))
	}
	// The layer's statuses are the scenario analysis's "after".
	for _, st := range []boundaries.Status{boundaries.Undersized, boundaries.Normal, boundaries.Oversized} {
		if statuses[string(st)] != a.After.Statuses[st] {
			t.Errorf("%s: layer %d, scenario analysis %d", st, statuses[string(st)], a.After.Statuses[st])
		}
	}
	if a.After.Statuses["oversized"] != 0 || a.Before.Statuses["oversized"] == 0 {
		t.Errorf("oversized before %d, after %d", a.Before.Statuses["oversized"], a.After.Statuses["oversized"])
	}
	zones := 0
	for _, n := range a.After.Zones {
		zones += n
	}
	if z := read("zones", sc.ID); len(z) != zones {
		t.Errorf("scenario zones layer: %d, scenario analysis %d", len(z), zones)
	}
	// A tile over the whole city differs between live and scenario.
	for _, l := range []string{"communities"} {
		layer, _ := layers.ByName(l)
		runLive, err := pgtest.Reader(s).Run(ctx, p, day, 0)
		if err != nil {
			t.Fatal(err)
		}
		runScen, err := pgtest.Reader(s).Run(ctx, p, day, sc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if runLive == runScen {
			t.Fatal("scenario and live share an analysis run")
		}
		ext, err := pgtest.Reader(s).Extent(ctx, layers.ExtentQuery{Layer: l, Profile: p, At: day, Scenario: sc.ID})
		if err != nil || ext.BBox == nil {
			t.Fatalf("extent: %v %v", ext, err)
		}
		bb := *ext.BBox
		z, x, y := tileOf((bb[0]+bb[2])/2, (bb[1]+bb[3])/2, 10)
		tl, err := pgtest.Reader(s).Tile(ctx, layer, runLive, false, day, z, x, y)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := pgtest.Reader(s).Tile(ctx, layer, runScen, true, day, z, x, y)
		if err != nil {
			t.Fatal(err)
		}
		if len(tl) == 0 || len(ts) == 0 || string(tl) == string(ts) {
			t.Errorf("tile %d/%d/%d: live %d bytes, scenario %d bytes, equal %v", z, x, y, len(tl), len(ts), string(tl) == string(ts))
		}
	}
	if _, err := pgtest.Reader(s).Run(ctx, p, day, sc.ID+100); !errors.Is(err, boundaries.ErrNotFound) {
		t.Errorf("unknown scenario: %v, want ErrNotFound", err)
	}
	if list, err := scenario.List(ctx, s); err != nil || len(list) != 1 || list[0].Units != len(sc.Codes) || list[0].Removed != len(sc.Removed) {
		t.Errorf("Scenarios = %+v, %v", list, err)
	}
}

// tileOf is the tile of zoom z holding a lon/lat point.
func tileOf(lon, lat float64, z int) (int, int, int) {
	n := math.Exp2(float64(z))
	x := int((lon + 180) / 360 * n)
	r := lat * math.Pi / 180
	y := int((1 - math.Log(math.Tan(r)+1/math.Cos(r))/math.Pi) / 2 * n)
	return z, x, y
}
