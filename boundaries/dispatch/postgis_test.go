package dispatch_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jiedao/jiedao/boundaries/dispatch"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
)

// referenceSQL judges points with PostGIS alone: the covering streets and
// communities (ST_Covers), those of them with the point on their boundary,
// and the other communities within $3 metres (ST_DWithin on geography;
// the box test only lets the index in, it is wider than $3).
const referenceSQL = `WITH p AS (SELECT i, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS g
	FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS q(lon, lat, i))
SELECT p.i,
	EXISTS (SELECT 1 FROM units s WHERE s.level = 'street' AND s.valid_to IS NULL AND ST_Covers(s.geom, p.g)),
	ARRAY(SELECT c.code FROM units c WHERE c.level = $4 AND c.valid_to IS NULL AND ST_Covers(c.geom, p.g) ORDER BY c.code COLLATE "C"),
	ARRAY(SELECT c.code FROM units c WHERE c.level = $4 AND c.valid_to IS NULL AND ST_Covers(c.geom, p.g)
		AND NOT ST_DWithin(ST_Boundary(c.geom), p.g, 1e-9) ORDER BY c.code COLLATE "C"),
	ARRAY(SELECT c.code FROM units c WHERE c.level = $4 AND c.valid_to IS NULL AND c.geom && ST_Expand(p.g, 0.01)
		AND NOT ST_Covers(c.geom, p.g) AND ST_DWithin(c.geom::geography, p.g::geography, $3) ORDER BY c.code COLLATE "C")
FROM p ORDER BY p.i`

type reference struct {
	street                     bool
	covering, interior, nearby []string
}

func (r reference) ambiguity() dispatch.Ambiguity {
	switch {
	case !r.street:
		return dispatch.Outside
	case len(r.covering) == 0:
		return dispatch.Gap
	case len(r.covering) > 1 && len(r.interior) > 0:
		return dispatch.Overlap
	case len(r.interior) == 0:
		return dispatch.OnBoundary
	case len(r.nearby) > 0:
		return dispatch.NearBoundary
	}
	return dispatch.Clear
}

// randomPoints are n points over the city: half anywhere in its box (and
// a little beyond), half within about 80 m of a community vertex, where
// the near_boundary threshold is decided.
func randomPoints(t *testing.T, s *store.Store, n int) (lons, lats []float64) {
	t.Helper()
	ctx := context.Background()
	var x0, y0, x1, y1 float64
	if err := s.Primary().QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
		FROM (SELECT ST_Extent(geom) AS e FROM units WHERE valid_to IS NULL) x`).Scan(&x0, &y0, &x1, &y1); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Primary().Query(ctx, `SELECT ST_X(d.geom), ST_Y(d.geom) FROM units u, ST_DumpPoints(u.geom) d
		WHERE u.level = 'community' AND u.valid_to IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	var vx, vy []float64
	for rows.Next() {
		var x, y float64
		if err := rows.Scan(&x, &y); err != nil {
			t.Fatal(err)
		}
		vx, vy = append(vx, x), append(vy, y)
	}
	rows.Close()
	r := rand.New(rand.NewPCG(7, 11))
	for i := range n {
		if i%2 == 0 {
			lons = append(lons, x0-0.01+(x1-x0+0.02)*r.Float64())
			lats = append(lats, y0-0.01+(y1-y0+0.02)*r.Float64())
			continue
		}
		k := r.IntN(len(vx))
		lons = append(lons, vx[k]+(r.Float64()-0.5)*0.002)
		lats = append(lats, vy[k]+(r.Float64()-0.5)*0.0015)
	}
	return lons, lats
}

// TestAgainstPostGIS: on 10,000 random points of the small demo city every
// rule, owner and candidate list is what PostGIS says.
func TestAgainstPostGIS(t *testing.T) {
	s := pgtest.SmallDemo(t)
	ctx := context.Background()
	const n = 10_000
	lons, lats := randomPoints(t, s, n)
	ts := make([]dispatch.Ticket, n)
	for i := range ts {
		ts[i] = dispatch.Ticket{ID: fmt.Sprintf("r%05d", i), Time: t0, Lon: lons[i], Lat: lats[i]}
	}
	res, err := dispatch.Dispatch(ctx, s, lookup.New(s), 0, time.Time{}, ts, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	grids := gridReference(t, s, lons, lats)
	rows, err := s.Primary().Query(ctx, referenceSQL, lons, lats, dispatch.DefaultNearM, "community")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	mismatches, seen := 0, map[dispatch.Ambiguity]int{}
	for rows.Next() {
		var i int
		var ref reference
		if err := rows.Scan(&i, &ref.street, &ref.covering, &ref.interior, &ref.nearby); err != nil {
			t.Fatal(err)
		}
		r := res[i-1]
		want := ref.ambiguity()
		seen[want]++
		wantComm, wantCands := "", []string(nil)
		if len(ref.covering) > 0 {
			wantComm = ref.covering[0]
		}
		switch want {
		case dispatch.Overlap, dispatch.OnBoundary, dispatch.Outside:
			wantCands = ref.covering
		case dispatch.NearBoundary, dispatch.Gap:
			wantCands = ref.nearby
		}
		var got []string
		for _, c := range r.Candidates {
			if c.Level == "community" {
				got = append(got, c.Code)
			}
		}
		slices.Sort(got)
		g := grids[i-1]
		wantGrid, wantGridAmb := "", dispatch.Ambiguity("")
		if g != nil {
			g.street = true
			if wantGridAmb = g.ambiguity(); len(g.covering) > 0 {
				wantGrid = g.covering[0]
			}
		}
		if r.Ambiguity != want || code(r.Community) != wantComm || strings.Join(got, ",") != strings.Join(wantCands, ",") ||
			code(r.Grid) != wantGrid || r.GridAmbiguity != wantGridAmb {
			mismatches++
			if mismatches <= 10 {
				t.Errorf("point %d (%.8f, %.8f): %s %s %v grid %s %s, PostGIS %s %s %v grid %s %s", i, lons[i-1], lats[i-1],
					r.Ambiguity, code(r.Community), got, code(r.Grid), r.GridAmbiguity, want, wantComm, wantCands, wantGrid, wantGridAmb)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	gridSeen := map[dispatch.Ambiguity]int{}
	for i := range res {
		gridSeen[res[i].GridAmbiguity]++
	}
	t.Logf("%d points, %d mismatches; by ambiguity %v; grids %v", n, mismatches, seen, gridSeen)
	if mismatches > 0 {
		t.Errorf("%d of %d points differ from PostGIS", mismatches, n)
	}
	if seen[dispatch.NearBoundary] < 100 || seen[dispatch.Clear] < 100 || seen[dispatch.Outside] < 10 || seen[dispatch.Gap] < 1 || seen[dispatch.Overlap] < 1 {
		t.Errorf("the points do not exercise every rule: %v", seen)
	}
}

// gridReference is the reference at the grid level (nil per point when no
// grids are loaded; the street test does not apply).
func gridReference(t *testing.T, s *store.Store, lons, lats []float64) []*reference {
	t.Helper()
	out := make([]*reference, len(lons))
	var n int
	if err := s.Primary().QueryRow(context.Background(), `SELECT count(*) FROM units WHERE level = 'grid' AND valid_to IS NULL`).Scan(&n); err != nil || n == 0 {
		return out
	}
	rows, err := s.Primary().Query(context.Background(), referenceSQL, lons, lats, dispatch.DefaultNearM, "grid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var ref reference
		if err := rows.Scan(&i, &ref.street, &ref.covering, &ref.interior, &ref.nearby); err != nil {
			t.Fatal(err)
		}
		out[i-1] = &ref
	}
	return out
}
