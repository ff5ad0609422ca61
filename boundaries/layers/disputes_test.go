package layers_test

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// TestDemoDisputedBoundaryFindings: once the small demo's tickets and
// reassignments are loaded, the manifest's dispute spots are the top
// findings of kind disputed_boundary, each line naming its units and
// streets and counting its tickets; the public map layer has them too,
// without a ticket's id.
func TestDemoDisputedBoundaryFindings(t *testing.T) {
	s, m, dir := pgtest.SmallDemoFiles(t)
	ctx := context.Background()
	r := layers.NewReader(s, pgtest.Runs(s))
	v0, err := r.DisputesVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pgtest.LoadTickets(t, s, dir)
	if v1, err := r.DisputesVersion(ctx); err != nil || v1 == v0 {
		t.Fatalf("the disputes version did not move with the reassignments: %d → %d, %v", v0, v1, err)
	}
	at := boundaries.Today()
	page, err := r.Findings(ctx, layers.FindingsQuery{At: at, Kind: layers.DisputedBoundary, Limit: len(m.DisputeSpots)})
	if err != nil {
		t.Fatal(err)
	}
	if page.Zones != 0 || page.Units != 0 || page.Disputed < len(m.DisputeSpots) || len(page.Items) != len(m.DisputeSpots) {
		t.Fatalf("page: %d disputed, %d zones, %d units, %d items; manifest %d spots", page.Disputed, page.Zones, page.Units, len(page.Items), len(m.DisputeSpots))
	}
	for i, f := range page.Items {
		if f.Kind != layers.DisputedBoundary || f.Tickets <= 0 || len(f.Names) != len(f.Codes) || len(f.Streets) == 0 ||
			len(f.StreetNames) != len(f.Streets) || f.Period == "" || slices.Contains(f.Names, "") {
			t.Errorf("line %d: %+v", i, f)
		}
		if i > 0 && f.Tickets > page.Items[i-1].Tickets {
			t.Errorf("line %d: %d tickets after %d: not ranked", i, f.Tickets, page.Items[i-1].Tickets)
		}
	}
	for _, want := range m.DisputeSpots {
		if !slices.ContainsFunc(page.Items, func(f layers.Finding) bool {
			return f.SpotKind == want.Kind && slices.Contains(f.Codes, want.Codes[len(want.Codes)-1]) &&
				slices.Contains(f.Streets, want.Street) && metres(f.Lon, f.Lat, want.Lon, want.Lat) < 100
		}) {
			t.Errorf("dispute spot %+v is not among the top findings", want)
		}
	}
	// The whole list puts them first and pages on into the run's; a
	// status filter drops them; a street keeps its own.
	all, err := r.Findings(ctx, layers.FindingsQuery{At: at, Limit: 1000, Kind: layers.DisputedBoundary})
	if err != nil {
		t.Fatal(err)
	}
	p, err := analysis.LoadProfile("")
	if err != nil {
		t.Fatal(err)
	}
	run, err := r.Run(ctx, p, at, 0)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := r.Findings(ctx, layers.FindingsQuery{Run: run, At: at, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if whole.Disputed != all.Disputed || whole.Zones == 0 || len(whole.Items) != min(1000, whole.Disputed+whole.Zones+whole.Units) ||
		whole.Items[0].Spot != all.Items[0].Spot || whole.Items[whole.Disputed].Kind == layers.DisputedBoundary {
		t.Fatalf("whole list: %d disputed, %d zones, %d units, %d items", whole.Disputed, whole.Zones, whole.Units, len(whole.Items))
	}
	// A page straddling the end of the disputes.
	straddle, err := r.Findings(ctx, layers.FindingsQuery{Run: run, At: at, Limit: 4, Offset: whole.Disputed - 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range straddle.Items {
		if g := whole.Items[whole.Disputed-2+i]; f.Spot != g.Spot || f.Kind != g.Kind || f.Code != g.Code || !slices.Equal(f.Codes, g.Codes) {
			t.Errorf("straddling page item %d: %+v, want %+v", i, f, g)
		}
	}
	if flagged, err := r.Findings(ctx, layers.FindingsQuery{Run: run, At: at, Status: "oversized"}); err != nil || flagged.Disputed != 0 {
		t.Errorf("a status filter keeps %v disputed lines (%v)", flagged, err)
	}
	want := m.DisputeSpots[0]
	inStreet, err := r.Findings(ctx, layers.FindingsQuery{At: at, Kind: layers.DisputedBoundary, Street: want.Street, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if inStreet.Disputed == 0 || inStreet.Disputed > all.Disputed {
		t.Errorf("street %s: %d of %d disputed lines", want.Street, inStreet.Disputed, all.Disputed)
	}
	for _, f := range inStreet.Items {
		if !slices.Contains(f.Streets, want.Street) {
			t.Errorf("street %s lists %+v", want.Street, f)
		}
	}
	if err := r.CheckFindings(ctx, layers.FindingsQuery{At: at, Kind: "disputed"}); err == nil || !strings.Contains(err.Error(), layers.DisputedBoundary) {
		t.Errorf("a bad kind: %v", err)
	}
	// The public layer: aggregates only.
	body, err := r.DisputeSpots(ctx, at, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Total    int `json:"total"`
		Features []struct {
			Geometry   struct{ Type string } `json:"geometry"`
			Properties map[string]any        `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(body, &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Total != all.Disputed || len(fc.Features) != min(fc.Total, layers.MaxMapSpots) {
		t.Fatalf("layer: %d of %d features, %d findings", len(fc.Features), fc.Total, all.Disputed)
	}
	for _, f := range fc.Features {
		if f.Geometry.Type == "MultiPoint" || f.Properties["tickets"] == nil || f.Properties["ids"] != nil {
			t.Errorf("feature %+v", f)
		}
	}
	w, err := r.Workload(ctx, at, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Values) == 0 || w.Max <= 0 || w.Period == "" || w.MaxRatio != nil || len(w.Flagged) != 0 {
		t.Errorf("workload: %d values, max %v, period %q, rule %v flags %d", len(w.Values), w.Max, w.Period, w.MaxRatio, len(w.Flagged))
	}
	// The profile rule, on: exactly the communities over k× their street's median.
	k := 1.5
	on := *p
	on.Community.MaxWorkloadRatio.Value = &k
	w, err = r.Workload(ctx, at, &on)
	if err != nil {
		t.Fatal(err)
	}
	over := 0
	for code, ratio := range w.Ratios {
		if _, flagged := w.Flagged[code]; flagged != (ratio > k) {
			t.Errorf("%s: ratio %v, flagged %v", code, ratio, flagged)
		}
		if ratio > k {
			over++
		}
	}
	if over == 0 || len(w.Flagged) != over || !strings.Contains(w.Flagged[firstKey(w.Flagged)], "street median") {
		t.Errorf("rule k=%v: %d over, %d flagged %v", k, over, len(w.Flagged), w.Flagged)
	}
}

func metres(lon1, lat1, lon2, lat2 float64) float64 {
	dx := (lon1 - lon2) * 111_320 * math.Cos(lat1*math.Pi/180)
	dy := (lat1 - lat2) * 110_570
	return math.Hypot(dx, dy)
}

func firstKey(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}
