package scenario_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/geo"
)

// TestDraftEditsInvalidateRun edits a draft and checks that its analysis
// run is remade with the edit, that live runs are kept, that the history
// holds every write with the unit before and after, and that a refused
// write leaves everything as it was.
func TestDraftEditsInvalidateRun(t *testing.T) {
	ctx := context.Background()
	s := pgtest.SmallDemo(t)
	runs := analysis.NewRuns(s)
	p, err := analysis.LoadProfile("beijing-2020")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.CreateDraft(ctx, s, "draft", p.Name)
	if err != nil || !sc.Draft || len(sc.Codes) != 0 {
		t.Fatalf("draft: %+v %v", sc, err)
	}
	if _, err := scenario.CreateDraft(ctx, s, "draft", p.Name); !errors.Is(err, boundaries.ErrDuplicate) {
		t.Fatalf("same name again: %v", err)
	}
	var code, g string
	var hh int64
	if err := s.Primary().QueryRow(ctx, `SELECT code, ST_AsGeoJSON(geom), households FROM units
		WHERE level = 'community' AND valid_to IS NULL AND households > 100 ORDER BY code LIMIT 1`).Scan(&code, &g, &hh); err != nil {
		t.Fatal(err)
	}
	live0, err := runs.Ensure(ctx, p, boundaries.Today(), analysis.Live)
	if err != nil {
		t.Fatal(err)
	}
	before, err := runs.Current(ctx, p, boundaries.Today(), scenario.Boundaries(s, sc.ID))
	if err != nil {
		t.Fatal(err)
	}
	tag0, err := scenario.ETag(ctx, s, sc.ID, boundaries.Community, code)
	if err != nil {
		t.Fatal(err)
	}
	_, tag1, err := scenario.Apply(ctx, s, scenario.Edit{Scenario: sc.ID, Level: boundaries.Community, Code: code, Op: "update",
		Body: []byte(`{"type":"Feature","properties":{"households":7}}`), CRS: geo.CRS84, IfMatch: tag0, KeyName: "k"})
	if err != nil || tag1 == tag0 {
		t.Fatalf("PATCH: %s %v", tag1, err)
	}
	after, err := runs.Current(ctx, p, boundaries.Today(), scenario.Boundaries(s, sc.ID))
	if err != nil {
		t.Fatal(err)
	}
	got := func(a *analysis.Analysis) int64 {
		for _, u := range a.Units {
			if u.Code == code && u.Households != nil {
				return *u.Households
			}
		}
		return -1
	}
	if after.RunID == before.RunID || got(before) != hh || got(after) != 7 {
		t.Errorf("run %d → %d, households %d → %d, want %d → 7", before.RunID, after.RunID, got(before), got(after), hh)
	}
	if live1, err := runs.Ensure(ctx, p, boundaries.Today(), analysis.Live); err != nil || live1 != live0 {
		t.Errorf("a draft edit moved the live run %d → %d (%v)", live0, live1, err)
	}
	// Stale tag, and bad geometry: refused, nothing recorded.
	if _, _, err := scenario.Apply(ctx, s, scenario.Edit{Scenario: sc.ID, Level: boundaries.Community, Code: code, Op: "update",
		Body: []byte(`{"properties":{"households":8}}`), CRS: geo.CRS84, IfMatch: tag0}); !errors.Is(err, boundaries.ErrStale) {
		t.Errorf("stale If-Match: %v", err)
	}
	var ve *boundaries.ValidationError
	if _, _, err := scenario.Apply(ctx, s, scenario.Edit{Scenario: sc.ID, Level: boundaries.Community, Code: code, Op: "replace",
		Body: []byte(`{"type":"Feature","properties":{"name":"x","households":-1},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}}`),
		CRS:  geo.CRS84}); !errors.As(err, &ve) {
		t.Errorf("bad feature: %v", err)
	}
	if err := scenario.Remove(ctx, s, sc.ID, boundaries.Community, code, tag1, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := scenario.ETag(ctx, s, sc.ID, boundaries.Community, code); !errors.Is(err, boundaries.ErrNotFound) {
		t.Errorf("ETag of a removed unit: %v", err)
	}
	edits, err := scenario.Edits(ctx, s, sc.ID)
	if err != nil || len(edits) != 2 || edits[0].Op != "update" || edits[1].Op != "delete" || *edits[0].KeyName != "k" {
		t.Fatalf("history: %+v %v", edits, err)
	}
	var hb, ha *int64
	var gone bool
	if err := s.Primary().QueryRow(ctx, `SELECT (SELECT (before->>'households')::bigint FROM scenario_edits WHERE id = $1),
			(SELECT (after->>'households')::bigint FROM scenario_edits WHERE id = $1),
			(SELECT after IS NULL FROM scenario_edits WHERE id = $2)`, edits[0].ID, edits[1].ID).Scan(&hb, &ha, &gone); err != nil {
		t.Fatal(err)
	}
	if hb == nil || *hb != hh || ha == nil || *ha != 7 || !gone {
		t.Errorf("history rows: before %v after %v, delete has no after: %v", hb, ha, gone)
	}
	d, err := scenario.Get(ctx, s, sc.ID)
	if err != nil || len(d.Removed) != 1 || d.Removed[0] != code || len(d.Codes) != 0 {
		t.Errorf("scenario after the delete: %+v %v", d, err)
	}
}
