package analysis_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// TestAnalyzeDemo checks precision and recall on the demo city: every
// injected problem is found with the right kind and codes, nothing else is.
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
		for _, inj := range m.Injected {
			want = append(want, inj.Kind+":"+strings.Join(inj.Codes, "+"))
		}
		sort.Strings(want)
		got := pgtest.ZoneKeys(a)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("seed %d: found zones\n%s\nwant (manifest)\n%s", seed, strings.Join(got, "\n"), strings.Join(want, "\n"))
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
