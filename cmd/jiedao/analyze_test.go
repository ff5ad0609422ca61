package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// TestCLIAnalyzeWorkload: jiedao demo loads the demo's hotline tickets, and
// analyze then reports the workload per community (tickets per 1,000
// households per month, with the ratio to the street's median) in its text
// and beside the analysis in its JSON.
func TestCLIAnalyzeWorkload(t *testing.T) {
	db := pgtest.NewDatabase(t)
	if code, out, errs := jiedao(t, db, "demo", "--seed", "1", "--scale", "small", "--out", filepath.Join(t.TempDir(), "demo")); code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := jiedao(t, db, "analyze")
	if code != 0 || !strings.Contains(out, "Hotline workload (community") || !strings.Contains(out, "× the median of its parent") {
		t.Fatalf("analyze: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = jiedao(t, db, "analyze", "--format", "json")
	var a struct {
		Units    []json.RawMessage `json:"units"`
		Workload []struct {
			Level string `json:"level"`
			Units []struct {
				Code    string   `json:"code"`
				Tickets int      `json:"tickets"`
				PerK    *float64 `json:"per_1000_households_month"`
			} `json:"units"`
		} `json:"workload"`
	}
	if code != 0 {
		t.Fatalf("analyze --format json: exit %d\n%s", code, errs)
	}
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatal(err)
	}
	tickets, withRate := 0, 0
	for _, u := range a.Workload[0].Units {
		tickets += u.Tickets
		if u.PerK != nil && *u.PerK > 0 {
			withRate++
		}
	}
	if len(a.Units) == 0 || len(a.Workload) != 2 || a.Workload[0].Level != "community" || tickets == 0 || withRate == 0 {
		t.Errorf("analysis of %d units, workload %d levels, %d community tickets, %d with a rate", len(a.Units), len(a.Workload), tickets, withRate)
	}
}
