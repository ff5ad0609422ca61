package layers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/dispatch"
	"github.com/jiedao/jiedao/boundaries/store"
)

// DisputedBoundary is the findings kind of a dispute spot: a place where
// hotline tickets were reassigned (改派/退单) across a boundary, ranked by
// tickets. It is not a zone kind: the spots come from the tickets
// (boundaries/dispatch), not from an analysis run, so they are the live
// boundaries' only.
const DisputedBoundary = "disputed_boundary"

// DisputesVersion moves whenever the dispute spots may change (see
// dispatch.Version): part of the ETag of anything listing them.
func (r *Reader) DisputesVersion(ctx context.Context) (int64, error) {
	return dispatch.Version(ctx, r.st)
}

// WorkloadVersion moves whenever the workload may change (see
// dispatch.WorkloadVersion).
func (r *Reader) WorkloadVersion(ctx context.Context) (int64, error) {
	return dispatch.WorkloadVersion(ctx, r.st)
}

// withDisputes says whether a findings query lists dispute spots: the
// live findings, unfiltered by status, of every kind or of theirs.
func withDisputes(q FindingsQuery) bool {
	return !q.Scenario && q.Status == "" && (q.Kind == "" || q.Kind == DisputedBoundary)
}

// spotInBox says whether a spot's tickets' centroid lies in b (nil: yes). The
// centroid, not the geometry: a shared line can run far past the view
// while the tickets cluster in it.
func spotInBox(s dispatch.Spot, b *[4]float64) bool {
	return b == nil || s.Lon >= b[0] && s.Lon <= b[2] && s.Lat >= b[1] && s.Lat <= b[3]
}

// DisputeFindings are the spots of the stored tickets' whole period as
// findings lines, ranked by tickets, kept by q.Street (a street involved)
// and q.BBox, with the units' names on q.At.
func (r *Reader) DisputeFindings(ctx context.Context, q FindingsQuery) ([]Finding, error) {
	spots, p, _, err := dispatch.AllSpots(ctx, r.st, q.At)
	if err != nil {
		return nil, err
	}
	var out []Finding
	codes := map[string]bool{}
	for _, s := range spots {
		if q.Street != "" && !slices.Contains(s.Streets, q.Street) || !spotInBox(s, q.BBox) {
			continue
		}
		f := Finding{Kind: DisputedBoundary, Level: string(s.Level), Codes: s.Codes, Spot: s.Key, SpotKind: s.Kind,
			Streets: s.Streets, Tickets: s.Tickets, Disputes: s.Disputes, Period: p.String(), Categories: s.Categories,
			Lon: s.Lon, Lat: s.Lat}
		if len(s.Streets) > 0 {
			f.Street = s.Streets[0]
		}
		for _, c := range append(slices.Clone(s.Codes), s.Streets...) {
			codes[c] = true
		}
		out = append(out, f)
	}
	names, err := r.unitNames(ctx, codes, q.At)
	if err != nil {
		return nil, err
	}
	for i := range out {
		f := &out[i]
		f.Names = make([]string, len(f.Codes))
		for j, c := range f.Codes {
			f.Names[j] = names[c]
		}
		f.StreetNames = make([]string, len(f.Streets))
		for j, c := range f.Streets {
			f.StreetNames[j] = names[c]
		}
		f.StreetName = names[f.Street]
	}
	return out, nil
}

// unitNames are the names of codes on day at ("" for a code without a
// unit then), in one query.
func (r *Reader) unitNames(ctx context.Context, codes map[string]bool, at time.Time) (map[string]string, error) {
	names := map[string]string{}
	if len(codes) == 0 {
		return names, nil
	}
	list := make([]string, 0, len(codes))
	for c := range codes {
		list = append(list, c)
	}
	rows, err := r.st.Reader().Query(ctx, `SELECT u.code, u.name FROM units u WHERE u.code = ANY($1) AND `+store.AsOf("u", 2), list, at)
	if err != nil {
		return nil, fmt.Errorf("unit names: %w", err)
	}
	var code, name string
	if _, err := pgx.ForEachRow(rows, []any{&code, &name}, func() error {
		names[code] = name
		return nil
	}); err != nil {
		return nil, fmt.Errorf("unit names: %w", err)
	}
	return names, nil
}

// MaxMapSpots bounds the spots the public map's disputes layer draws.
const MaxMapSpots = 500

// DisputeSpots is the public map's disputes layer: the spots of the whole
// period on day at (in bbox when given), at most limit (0 or more than
// MaxMapSpots: MaxMapSpots), as a GeoJSON FeatureCollection. Aggregates
// only: no ticket is named or placed — a spot of units that do not touch
// (whose geometry is the tickets' points) is drawn at their centroid.
func (r *Reader) DisputeSpots(ctx context.Context, at time.Time, bbox *[4]float64, limit int) ([]byte, error) {
	if limit <= 0 || limit > MaxMapSpots {
		limit = MaxMapSpots
	}
	spots, p, _, err := dispatch.AllSpots(ctx, r.st, at)
	if err != nil {
		return nil, err
	}
	type props struct {
		Key        string         `json:"key"`
		Kind       string         `json:"kind"`
		Level      string         `json:"level"`
		Codes      []string       `json:"codes"`
		Streets    []string       `json:"streets"`
		Tickets    int            `json:"tickets"`
		Disputes   int            `json:"disputes"`
		Categories map[string]int `json:"categories"`
	}
	type feature struct {
		Type       string          `json:"type"`
		ID         string          `json:"id"`
		Geometry   json.RawMessage `json:"geometry"`
		Properties props           `json:"properties"`
	}
	fc := struct {
		Type     string    `json:"type"`
		Period   string    `json:"period"`
		Total    int       `json:"total"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection", Period: p.String(), Features: []feature{}}
	for _, s := range spots {
		if !spotInBox(s, bbox) {
			continue
		}
		fc.Total++
		if len(fc.Features) == limit {
			continue
		}
		g := s.Geometry
		if s.Kind == "apart" || len(g) == 0 {
			g = json.RawMessage(fmt.Sprintf(`{"type":"Point","coordinates":[%.6f,%.6f]}`, s.Lon, s.Lat))
		}
		fc.Features = append(fc.Features, feature{Type: "Feature", ID: s.Key, Geometry: g, Properties: props{
			Key: s.Key, Kind: s.Kind, Level: string(s.Level), Codes: s.Codes, Streets: s.Streets,
			Tickets: s.Tickets, Disputes: s.Disputes, Categories: s.Categories}})
	}
	return json.Marshal(fc)
}

// MapWorkload is the map's workload colour mode: per community on day at,
// tickets per 1,000 households per month over the stored tickets' period
// (code → value; communities without households are left out), and the
// ratio to the street's median (code → ratio).
type MapWorkload struct {
	Period string             `json:"period"`
	Values map[string]float64 `json:"values"`
	Ratios map[string]float64 `json:"ratios"`
	Max    float64            `json:"max"`
	// MaxRatio is the profile's community.max_workload_ratio (null: the
	// rule is off) and Flagged the communities over it, code → reason.
	MaxRatio *float64          `json:"max_ratio"`
	Flagged  map[string]string `json:"flagged"`
}

// Workload reads the map's workload measure (see MapWorkload), flagged by
// p's community.max_workload_ratio (p nil: no rule).
func (r *Reader) Workload(ctx context.Context, at time.Time, p *analysis.Profile) (*MapWorkload, error) {
	w, err := dispatch.Workload(ctx, r.st, dispatch.Period{}, at, boundaries.Community)
	if err != nil {
		return nil, err
	}
	out := &MapWorkload{Period: dispatch.Period{Since: w.Since, Until: w.Until}.String(), Values: map[string]float64{}, Ratios: map[string]float64{},
		Flagged: map[string]string{}}
	if p != nil && p.Community.MaxWorkloadRatio.On() {
		out.MaxRatio = p.Community.MaxWorkloadRatio.Value
		w.Flag(*out.MaxRatio)
	}
	for _, l := range w.Units {
		if l.PerKHouseholdMonth == nil {
			continue
		}
		out.Values[l.Code] = *l.PerKHouseholdMonth
		out.Max = max(out.Max, *l.PerKHouseholdMonth)
		if l.Ratio != nil {
			out.Ratios[l.Code] = *l.Ratio
		}
		if l.Reason != "" {
			out.Flagged[l.Code] = l.Reason
		}
	}
	return out, nil
}
