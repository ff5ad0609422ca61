package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/store"
)

// planFC is the part of `jiedao plan --format geojson` (and of export) the
// test reads.
type planFC struct {
	Type     string `json:"type"`
	Features []struct {
		Properties struct {
			Code        string `json:"code"`
			Op          string `json:"op"`
			Street      string `json:"street"`
			Provisional bool   `json:"provisional"`
		} `json:"properties"`
		Geometry json.RawMessage `json:"geometry"`
	} `json:"features"`
}

func readFC(t *testing.T, b []byte) planFC {
	t.Helper()
	var fc planFC
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatalf("not GeoJSON: %v\n%.300s", err, b)
	}
	return fc
}

// TestCLIScenario runs plan → scenario create/analyze/diff/adopt → export
// through the CLI on the small demo city, and the ways each step refuses.
func TestCLIScenario(t *testing.T) {
	db := pgtest.NewDatabase(t)
	dir := t.TempDir()
	must := func(args ...string) string {
		t.Helper()
		code, out, errs := jiedao(t, db, args...)
		if code != 0 {
			t.Fatalf("jiedao %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	// --out keeps the generated files out of $JIEDAO_DATA_DIR.
	must("demo", "--seed", "1", "--scale", "small", "--out", filepath.Join(dir, "demo"))

	// 1. The plan's resulting units as GeoJSON.
	planFile := filepath.Join(dir, "plan.geojson")
	must("plan", "--all", "--seed", "1", "--format", "geojson", "-o", planFile)
	b, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	fcPlan := readFC(t, b)
	if fcPlan.Type != "FeatureCollection" || len(fcPlan.Features) == 0 {
		t.Fatalf("plan file: type %q, %d features", fcPlan.Type, len(fcPlan.Features))
	}
	inPlan := map[string]bool{}
	var provisional []string
	for _, f := range fcPlan.Features {
		p := f.Properties
		inPlan[p.Code] = true
		if len(f.Geometry) == 0 || string(f.Geometry) == "null" {
			t.Errorf("plan feature %s has no geometry", p.Code)
		}
		if p.Provisional {
			// Split parts get P<street>-<hex> codes.
			if !strings.HasPrefix(p.Code, "P"+p.Street+"-") {
				t.Errorf("provisional code %s not under street %s", p.Code, p.Street)
			}
			provisional = append(provisional, p.Code)
		}
	}
	if len(provisional) == 0 {
		t.Fatal("the demo plan splits nothing: no provisional code to follow")
	}
	// The same plan as JSON (same seed, same plan): its merges are what the
	// scenario must retire, found by coverage since the GeoJSON lacks them.
	jsonPlan := filepath.Join(dir, "plan.json")
	must("plan", "--all", "--seed", "1", "--format", "json", "-o", jsonPlan)
	b, err = os.ReadFile(jsonPlan)
	if err != nil {
		t.Fatal(err)
	}
	var pl plan.Plan
	if err := json.Unmarshal(b, &pl); err != nil {
		t.Fatal(err)
	}
	var merged []string
	for _, r := range pl.Merged() {
		if r.BaseVersion == nil {
			t.Errorf("plan removes %s without the version it read", r.Code)
		}
		merged = append(merged, r.Code)
	}
	if len(merged) == 0 {
		t.Fatal("the demo plan merges nothing")
	}

	// 2. Create, then the same name again.
	const name = "demo-all-seed1"
	var sc scenario.Scenario
	if err := json.Unmarshal([]byte(must("scenario", "create", name, "--from-plan", planFile, "--json")), &sc); err != nil {
		t.Fatal(err)
	}
	if len(sc.Codes) == 0 || len(sc.Codes)+len(sc.Removed) < len(fcPlan.Features) {
		t.Fatalf("scenario holds %d units and %d removed, plan has %d features", len(sc.Codes), len(sc.Removed), len(fcPlan.Features))
	}
	if strings.Join(sc.Removed, " ") != strings.Join(merged, " ") {
		t.Errorf("scenario removes %v, the plan merges away %v", sc.Removed, merged)
	}
	if code, out, errs := jiedao(t, db, "scenario", "create", name, "--from-plan", planFile); code == 0 ||
		!strings.Contains(errs, name) || !strings.Contains(errs, "already exists") {
		t.Fatalf("second create of %s: exit %d, want non-zero naming it as existing\n%s%s", name, code, out, errs)
	}
	// A rival made from the same file goes stale once the first is adopted.
	must("scenario", "create", "rival", "--from-plan", planFile)

	// 3. Analyze: text shows before/after; the plan's splits must lower
	// the oversized count (the JSON is parsed, and the text must agree).
	text := must("scenario", "analyze", name)
	over := regexp.MustCompile(`(?m)^(Before|After):.*?\boversized (\d+)`)
	got := map[string]int{}
	for _, m := range over.FindAllStringSubmatch(text, -1) {
		got[m[1]], _ = strconv.Atoi(m[2])
	}
	if !strings.Contains(text, "Before:") || !strings.Contains(text, "After:") {
		t.Fatalf("analyze text has no before/after:\n%s", text)
	}
	var a scenario.Comparison
	if err := json.Unmarshal([]byte(must("scenario", "analyze", name, "--json")), &a); err != nil {
		t.Fatal(err)
	}
	before, after := a.Before.Statuses["oversized"], a.After.Statuses["oversized"]
	t.Logf("statuses before %v, after %v; zones before %v, after %v", a.Before.Statuses, a.After.Statuses, a.Before.Zones, a.After.Zones)
	if before == 0 || after >= before {
		t.Errorf("oversized before %d, after %d: want fewer after", before, after)
	}
	// "none" or a missing status means 0 in the text.
	if got["Before"] != before || got["After"] != after {
		t.Errorf("text says oversized %d → %d, JSON %d → %d:\n%s", got["Before"], got["After"], before, after, text)
	}

	// 4. Diff lists every plan unit; split parts as new.
	diff := must("scenario", "diff", name)
	rows := map[string]string{}
	for _, line := range strings.Split(diff, "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 2 {
			rows[f[0]] = f[1]
		}
	}
	for c := range inPlan {
		if rows[c] == "" {
			t.Errorf("diff does not list plan unit %s", c)
		}
	}
	for _, c := range provisional {
		if rows[c] != "new" {
			t.Errorf("split part %s: diff says %q, want new", c, rows[c])
		}
	}

	// 5. Adopt, then see it in the export of that day and not the day before.
	// The demo is valid from the day it was loaded and no version may start
	// earlier, so once 2027-01-01 has passed, tomorrow is used instead.
	const approval = "京民函〔2026〕1号"
	vf, prev := "2027-01-01", "2026-12-31"
	if tomorrow := boundaries.Today().AddDate(0, 0, 1); tomorrow.Format("2006-01-02") > vf {
		vf, prev = tomorrow.Format("2006-01-02"), boundaries.Today().Format("2006-01-02")
	}
	out := must("scenario", "adopt", name, "--approval", approval, "--valid-from", vf)
	m := regexp.MustCompile(`(\d+) updated, (\d+) created, (\d+) retired`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("adopt output: %q", out)
	}
	updated, _ := strconv.Atoi(m[1])
	created, _ := strconv.Atoi(m[2])
	retired, _ := strconv.Atoi(m[3])
	if created != len(provisional) || updated+created != len(sc.Codes) || retired != len(sc.Removed) {
		t.Errorf("adopted %d updated, %d created, %d retired; scenario has %d units (%d provisional), %d removed",
			updated, created, retired, len(sc.Codes), len(provisional), len(sc.Removed))
	}
	exported := func(at string) map[string]bool {
		t.Helper()
		fc := readFC(t, []byte(must("export", "--layer", "communities", "--at", at, "--format", "geojson")))
		codes := map[string]bool{}
		for _, f := range fc.Features {
			codes[f.Properties.Code] = f.Properties.Provisional
		}
		return codes
	}
	newDay, oldDay := exported(vf), exported(prev)
	for _, c := range provisional {
		if p, ok := newDay[c]; !ok || !p {
			t.Errorf("split part %s on %s: exported %v, provisional %v", c, vf, ok, p)
		}
		if _, ok := oldDay[c]; ok {
			t.Errorf("split part %s exported on %s, before valid_from", c, prev)
		}
	}
	for _, c := range sc.Removed {
		if _, ok := newDay[c]; ok {
			t.Errorf("merged-away %s still exported on %s", c, vf)
		}
		if _, ok := oldDay[c]; !ok {
			t.Errorf("merged-away %s missing on %s", c, prev)
		}
	}
	// No CLI command shows approvals: read them from units. New versions
	// carry it as approval, closed merged-away ones as retired_approval
	// (communities: the grids that follow them are counted apart).
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var nApproval, nRetired int
	if err := s.Primary().QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE approval = $1 AND valid_from = $2::date),
		count(*) FILTER (WHERE retired_approval = $1 AND valid_to = $2::date) FROM units WHERE level <> 'grid'`, approval, vf).Scan(&nApproval, &nRetired); err != nil {
		t.Fatal(err)
	}
	if nApproval != updated+created || nRetired != retired {
		t.Errorf("%d versions carry the approval (want %d), %d retired with it (want %d)", nApproval, updated+created, nRetired, retired)
	}

	// The list shows both scenarios, the adopted one with its approval.
	list := must("scenario", "list")
	var adoptedLine string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == name {
			adoptedLine = line
		}
	}
	if !strings.Contains(list, "rival") || !strings.Contains(adoptedLine, approval) ||
		!strings.Contains(adoptedLine, strconv.Itoa(len(sc.Codes))) {
		t.Errorf("scenario list:\n%s", list)
	}

	// 6. A scenario is adopted once.
	if code, out, errs := jiedao(t, db, "scenario", "adopt", name, "--approval", "again", "--valid-from", vf); code == 0 ||
		!strings.Contains(errs, "already adopted") || !strings.Contains(errs, name) {
		t.Errorf("second adopt: exit %d, want non-zero saying already adopted\n%s%s", code, out, errs)
	}
	if code, out, errs := jiedao(t, db, "scenario", "adopt", "rival", "--approval", "rival", "--valid-from", vf); code == 0 ||
		!strings.Contains(errs, "changed since") {
		t.Errorf("adopting the stale rival: exit %d, want non-zero saying a unit changed\n%s%s", code, out, errs)
	}
	// A scenario made of the same file after the adoption: the file names
	// the versions its plan read, which are gone now, so it is refused at
	// adoption rather than writing the same boundaries again.
	must("scenario", "create", "late", "--from-plan", planFile)
	if code, out, errs := jiedao(t, db, "scenario", "adopt", "late", "--approval", "late", "--valid-from", vf); code == 0 ||
		!strings.Contains(errs, "changed since") {
		t.Errorf("adopting a scenario made from an outdated plan file: exit %d, want non-zero saying a unit changed\n%s%s", code, out, errs)
	}

	// 7. Bad inputs; the JSON plan has no geometries and must be refused.
	for _, tc := range []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"missing plan file", []string{"create", "x", "--from-plan", "/nonexistent"}, []string{"/nonexistent", "no such file"}},
		{"JSON plan", []string{"create", "x", "--from-plan", jsonPlan}, []string{"not a FeatureCollection", "--format geojson"}},
		{"no --from-plan", []string{"create", "x"}, []string{"--from-plan"}},
		{"unknown scenario analyze", []string{"analyze", "unknown-name"}, []string{"unknown-name", "not found"}},
		{"unknown scenario diff", []string{"diff", "unknown-name"}, []string{"unknown-name", "not found"}},
		{"unknown scenario adopt", []string{"adopt", "unknown-name", "--approval", "x", "--valid-from", "2027-01-01"}, []string{"unknown-name", "not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := jiedao(t, db, append([]string{"scenario"}, tc.args...)...)
			if code == 0 {
				t.Fatalf("exit 0, want an error\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("exit %d, stderr %q lacks %q", code, errs, w)
				}
			}
		})
	}
	// None of the refused creates left a scenario behind.
	if code, _, errs := jiedao(t, db, "scenario", "analyze", "x"); code == 0 || !strings.Contains(errs, "not found") {
		t.Errorf("scenario x exists after refused creates: exit %d %s", code, errs)
	}
}
