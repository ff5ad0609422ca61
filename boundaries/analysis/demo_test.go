package analysis_test

import (
	"context"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// TestAnalyzeDemo checks precision and recall on the demo city: every
// injected problem, of communities and of grids, is found with the right
// kind and codes, nothing else is.
func TestAnalyzeDemo(t *testing.T) {
	for _, seed := range []int64{1, 7} {
		ctx := context.Background()
		s, _ := pgtest.NewStore(t)
		dir := t.TempDir()
		m, err := demo.Generate(demo.Config{Seed: seed, Scale: demo.Small, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := importer.LoadDemo(ctx, s, dir, nil); err != nil {
			t.Fatal(err)
		}
		a := pgtest.Analyze(t, s, "beijing-2020")
		var want []string
		for _, inj := range slices.Concat(m.Injected, m.GridProblems) {
			want = append(want, inj.Kind+":"+strings.Join(inj.Codes, "+"))
		}
		sort.Strings(want)
		got := pgtest.ZoneKeys(a)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("seed %d: found zones\n%s\nwant (manifest)\n%s", seed, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// Grid problems are found with their area (unowned ground too): a
		// noncontiguous grid's detached part is one of its pieces.
		for _, inj := range m.GridProblems {
			found := slices.ContainsFunc(a.Zones, func(z analysis.Zone) bool {
				return string(z.Kind) == inj.Kind && slices.Equal(z.Codes, inj.Codes) && string(z.Level) == inj.Level &&
					math.Abs(z.AreaM2-inj.AreaM2) <= 0.01*inj.AreaM2
			})
			if !found {
				t.Errorf("seed %d: no %s zone of %v at level %s with %.0f m² ±1%%", seed, inj.Kind, inj.Codes, inj.Level, inj.AreaM2)
			}
		}
		if len(m.GridProblems) < 9 || a.Summary.Status["grid"]["normal"] == 0 {
			t.Errorf("seed %d: %d grid problems, grid statuses %v", seed, len(m.GridProblems), a.Summary.Status["grid"])
		}
		// Statuses follow the generated household buckets.
		buckets := map[string]int{}
		for _, b := range m.HouseholdBuckets {
			buckets[b.Bucket] = b.Count
		}
		st := a.Summary.Status["community"]
		if st["undersized"] != buckets["lt500"] || st["oversized"] != buckets["3001-5000"]+buckets["gt5000"] {
			t.Fatalf("seed %d: community statuses %v, buckets %v", seed, st, buckets)
		}
	}
}
