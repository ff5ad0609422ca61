package dispatch

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/store"
)

// decide answers tickets[fresh...] from the locator: the community (and
// grid) claims within NearM give every rule; outside points get their
// nearest street from PostGIS (they are few).
func decide(ctx context.Context, tx pgx.Tx, loc *lookup.Locator, run int64, at time.Time, tickets []Ticket, fresh []int, opt Options) ([]Result, error) {
	if len(fresh) == 0 {
		return nil, nil
	}
	pts := make([]lookup.Point, len(fresh))
	for k, i := range fresh {
		pts[k] = lookup.Point{ID: tickets[i].ID, Lon: tickets[i].Lon, Lat: tickets[i].Lat}
	}
	near, uv, err := loc.LookupNear(ctx, run, at, opt.NearM, pts, boundaries.Community, boundaries.Grid)
	if err != nil {
		return nil, fmt.Errorf("locate: %w", err)
	}
	day := at.Format(time.DateOnly)
	out := make([]Result, len(fresh))
	var outside []int
	for k, i := range fresh {
		t := &tickets[i]
		out[k] = judge(&near[k])
		r := &out[k]
		r.ID, r.Time, r.Lon, r.Lat, r.Category = t.ID, t.Time, t.Lon, t.Lat, t.Category
		r.UnitsVersion, r.UnitsDay = uv, day
		if r.Ambiguity == Outside {
			outside = append(outside, k)
		}
	}
	if err := nearestStreets(ctx, tx, at, out, outside, opt.NearestStreetM); err != nil {
		return nil, err
	}
	return out, nil
}

// judge applies the rules to one point's lookup and community claims.
func judge(n *lookup.Near) Result {
	r := Result{District: n.District, Street: n.Street, Community: n.Community, Grid: n.Grid, Candidates: []Candidate{}}
	if n.Claims[1] != nil {
		r.GridAmbiguity = gridAmbiguity(n.Claims[1])
	}
	var covering, interior, others []lookup.Claim
	for _, c := range n.Claims[0] {
		switch {
		case c.Covers:
			covering = append(covering, c)
			if !c.OnBoundary {
				interior = append(interior, c)
			}
		default:
			others = append(others, c)
		}
	}
	list := func(cs []lookup.Claim) {
		for _, c := range cs {
			r.Candidates = append(r.Candidates, Candidate{Level: boundaries.Community, Code: c.Code, Name: c.Name,
				Covers: c.Covers, DistanceM: math.Round(c.DistanceM*100) / 100})
		}
	}
	r.Rule = RuleCovers
	if len(covering) > 1 {
		r.Rule = RuleSmallestCode
	}
	switch {
	case n.Street == nil:
		r.Ambiguity, r.Rule = Outside, RuleNone
		list(covering)
	case len(covering) == 0:
		r.Ambiguity, r.Rule = Gap, RuleStreetFallback
		list(others)
	case len(covering) > 1 && len(interior) > 0:
		r.Ambiguity = Overlap
		list(covering)
	case len(interior) == 0:
		r.Ambiguity = OnBoundary
		list(covering)
	case len(others) > 0:
		r.Ambiguity = NearBoundary
		list(others)
	default:
		r.Ambiguity = Clear
	}
	return r
}

// nearestStreets gives each outside point (out[k] for k in idx) the
// street nearest to it within maxM, by geodesic distance; the KNN index
// proposes a few by their boxes and the exact distance picks.
func nearestStreets(ctx context.Context, tx pgx.Tx, at time.Time, out []Result, idx []int, maxM float64) error {
	if len(idx) == 0 {
		return nil
	}
	lons, lats := make([]float64, len(idx)), make([]float64, len(idx))
	for j, k := range idx {
		lons[j], lats[j] = out[k].Lon, out[k].Lat
	}
	// Candidates by the streets' own tile index (units_geom_3857_street):
	// the shared one on geom would walk every community near the point too.
	rows, err := tx.Query(ctx, `SELECT p.i, s.code, s.name, s.d FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS p(lon, lat, i)
		CROSS JOIN LATERAL (SELECT c.code, c.name, ST_Distance(c.geom::geography, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)::geography) AS d
			FROM (SELECT u.code, u.name, u.geom FROM units u WHERE u.level = 'street' AND `+store.AsOf("u", 3)+`
				ORDER BY u.geom_3857 <-> ST_Transform(ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326), 3857) LIMIT 5) c
			ORDER BY d, c.code LIMIT 1) s
		WHERE s.d <= $4`, lons, lats, at, maxM)
	if err != nil {
		return fmt.Errorf("nearest streets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var code, name string
		var d float64
		if err := rows.Scan(&i, &code, &name, &d); err != nil {
			return fmt.Errorf("nearest streets: %w", err)
		}
		r := &out[idx[i-1]]
		d = math.Round(d*100) / 100
		r.Street, r.Rule, r.DistanceM = &lookup.Unit{Code: code, Name: name}, RuleNearestStreet, &d
		r.Candidates = append(r.Candidates, Candidate{Level: boundaries.Street, Code: code, Name: name, DistanceM: d})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("nearest streets: %w", err)
	}
	return nil
}

// gridAmbiguity judges the grid (网格) level by the community rules, gap
// being no grid; the grid given is the covering one with the smallest code.
func gridAmbiguity(claims []lookup.Claim) Ambiguity {
	covering, interior, others := 0, 0, 0
	for _, c := range claims {
		switch {
		case c.Covers && !c.OnBoundary:
			covering, interior = covering+1, interior+1
		case c.Covers:
			covering++
		default:
			others++
		}
	}
	switch {
	case covering == 0:
		return Gap
	case covering > 1 && interior > 0:
		return Overlap
	case interior == 0:
		return OnBoundary
	case others > 0:
		return NearBoundary
	}
	return Clear
}
