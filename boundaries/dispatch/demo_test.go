package dispatch_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/jiedao/jiedao/boundaries/dispatch"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// TestDemoDisputeSpots: once the small demo's tickets and reassignments
// are loaded, the top disputed places are the manifest's dispute spots.
func TestDemoDisputeSpots(t *testing.T) {
	s, m, dir := pgtest.SmallDemoFiles(t)
	ctx := context.Background()
	stored, n := pgtest.LoadTickets(t, s, dir)
	if stored != m.Tickets.Count || n != m.Tickets.Reassigned {
		t.Fatalf("%d tickets stored, %d reassigned; manifest %d, %d", stored, n, m.Tickets.Count, m.Tickets.Reassigned)
	}
	if len(m.DisputeSpots) == 0 {
		t.Fatal("the manifest lists no dispute spots")
	}
	spots, _, err := dispatch.Disputes(ctx, s, dispatch.Period{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	top := spots[:min(len(spots), len(m.DisputeSpots))]
	for _, want := range m.DisputeSpots {
		i := slices.IndexFunc(top, func(s dispatch.Spot) bool {
			return s.Kind == want.Kind && slices.Contains(s.Codes, want.Codes[len(want.Codes)-1]) &&
				metres(s.Lon, s.Lat, want.Lon, want.Lat) < 100
		})
		if i < 0 {
			t.Errorf("dispute spot %+v is not among the top %d: %v", want, len(top), keys(top))
			continue
		}
		if top[i].Tickets < want.Reassigned/2 {
			t.Errorf("spot %+v: %d tickets, manifest %d reassigned", want, top[i].Tickets, want.Reassigned)
		}
	}
	if len(spots) > len(top) && spots[len(top)].Tickets >= top[len(top)-1].Tickets {
		t.Errorf("the next spot %s (%d tickets) ties the last injected one %s", spots[len(top)].Key, spots[len(top)].Tickets, top[len(top)-1].Key)
	}
}

func keys(spots []dispatch.Spot) []string {
	var out []string
	for _, s := range spots {
		out = append(out, fmt.Sprintf("%s %s %d", s.Key, s.Kind, s.Tickets))
	}
	return out
}

func metres(lon1, lat1, lon2, lat2 float64) float64 {
	dx := (lon1 - lon2) * 111_320 * math.Cos(lat1*math.Pi/180)
	dy := (lat1 - lat2) * 110_570
	return math.Hypot(dx, dy)
}
