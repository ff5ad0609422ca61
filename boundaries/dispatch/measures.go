package dispatch

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

//go:embed disputes.sql
var disputesSQL string

// Period is a half-open span of ticket times [Since, Until). A zero end
// is the stored tickets' own: Since the first ticket's day, Until the day
// after the last's.
type Period struct {
	Since, Until time.Time
}

// resolve fills a zero end from the stored tickets; ok is false when
// there are none (and no end was given).
func (p Period) resolve(ctx context.Context, q pgx.Tx) (Period, bool, error) {
	if !p.Since.IsZero() && !p.Until.IsZero() {
		return p, true, p.check()
	}
	var lo, hi *time.Time
	if err := q.QueryRow(ctx, `SELECT min(time), max(time) FROM tickets`).Scan(&lo, &hi); err != nil {
		return p, false, fmt.Errorf("ticket period: %w", err)
	}
	if lo == nil {
		if p.Since.IsZero() && p.Until.IsZero() {
			return p, false, nil
		}
		lo, hi = &p.Since, &p.Until
		if p.Since.IsZero() {
			lo = &p.Until
		} else {
			hi = &p.Since
		}
	}
	if p.Since.IsZero() {
		y, m, d := lo.In(beijing).Date()
		p.Since = time.Date(y, m, d, 0, 0, 0, 0, beijing)
	}
	if p.Until.IsZero() {
		y, m, d := hi.In(beijing).Date()
		p.Until = time.Date(y, m, d+1, 0, 0, 0, 0, beijing)
	}
	return p, true, p.check()
}

func (p Period) check() error {
	if !p.Until.After(p.Since) {
		return &boundaries.QueryError{Param: "until", Err: fmt.Errorf("%s is not after since %s",
			p.Until.Format(time.RFC3339), p.Since.Format(time.RFC3339))}
	}
	return nil
}

// Months is the period's length in average months.
func (p Period) Months() float64 {
	return p.Until.Sub(p.Since).Hours() / 24 / (365.2425 / 12)
}

// Spot is one place where tickets were reassigned across a boundary: a
// hot spot of the `disputes` layer and a `disputed_boundary` finding.
type Spot struct {
	Key     string           `json:"key"`  // stable: "community:A:B", "street:A:B", "gap:STREET:PART"
	Kind    string           `json:"kind"` // boundary, overlap, gap, apart
	Level   boundaries.Level `json:"level"`
	Codes   []string         `json:"codes"`   // the units involved
	Streets []string         `json:"streets"` // the streets involved
	// Tickets reassigned here in the period, and reassignments (a
	// ticket may bounce more than once).
	Tickets    int            `json:"tickets"`
	Disputes   int            `json:"disputes"`
	Categories map[string]int `json:"categories"`
	// Geometry is GeoJSON: the shared line, the overlap or gap polygon,
	// or the tickets' points when the units do not touch.
	Geometry json.RawMessage `json:"geometry,omitempty"`
	Lon      float64         `json:"lon"` // the tickets' centroid
	Lat      float64         `json:"lat"`
}

// DefaultSpots is how many spots Disputes returns by default.
const DefaultSpots = 1000

// Disputes aggregates the reassignments of tickets of the period along
// the shared boundary of the units they moved between, or the gap or
// overlap they fell in, drawn with the boundaries of day at (zero: today);
// ranked by tickets, at most limit (0: DefaultSpots).
func Disputes(ctx context.Context, st *store.Store, p Period, at time.Time, limit int) ([]Spot, Period, error) {
	if at.IsZero() {
		at = boundaries.Today()
	}
	if limit <= 0 {
		limit = DefaultSpots
	}
	out := []Spot{}
	err := st.Snapshot(ctx, func(tx pgx.Tx) error {
		var ok bool
		var err error
		if p, ok, err = p.resolve(ctx, tx); err != nil || !ok {
			return err
		}
		rows, err := tx.Query(ctx, disputesSQL, p.Since, p.Until, at, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s Spot
			var cats []byte
			var geom *string
			if err := rows.Scan(&s.Key, &s.Kind, &s.Level, &s.Tickets, &s.Disputes, &s.Codes, &s.Streets, &cats, &geom, &s.Lon, &s.Lat); err != nil {
				return err
			}
			if err := json.Unmarshal(cats, &s.Categories); err != nil {
				return err
			}
			if geom != nil {
				s.Geometry = json.RawMessage(*geom)
			}
			slices.Sort(s.Codes)
			slices.Sort(s.Streets)
			out = append(out, s)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, p, fmt.Errorf("disputes: %w", err)
	}
	return out, p, nil
}

// Load is one unit's workload: tickets per 1,000 households per month.
type Load struct {
	Code       string  `json:"code"`
	Name       string  `json:"name"`
	Parent     *string `json:"parent_code"`
	Households *int    `json:"households"`
	Tickets    int     `json:"tickets"`
	// PerKHouseholdMonth is null without households.
	PerKHouseholdMonth *float64 `json:"per_1000_households_month"`
	// ParentMedian is the median of the same measure over the units of
	// the same parent (a community's street), and Ratio this unit's
	// measure over it: the profile rule "k× the street median" reads it.
	ParentMedian *float64 `json:"parent_median"`
	Ratio        *float64 `json:"ratio"`
	// Reason is set by Flag when Ratio exceeds the profile's k.
	Reason string `json:"reason,omitempty"`
}

// WorkloadReport is the measure for every current unit of a level.
type WorkloadReport struct {
	Level  boundaries.Level `json:"level"`
	Since  time.Time        `json:"since"`
	Until  time.Time        `json:"until"`
	Months float64          `json:"months"`
	Units  []Load           `json:"units"`
}

// Workload counts the tickets of the period owned now (after any
// reassignment) by each street or community valid on day at (zero:
// today), per 1,000 households per month.
func Workload(ctx context.Context, st *store.Store, p Period, at time.Time, level boundaries.Level) (*WorkloadReport, error) {
	if level != boundaries.Street && level != boundaries.Community {
		return nil, &boundaries.QueryError{Param: "level", Err: fmt.Errorf("%q: want street or community", level)}
	}
	if at.IsZero() {
		at = boundaries.Today()
	}
	w := &WorkloadReport{Level: level, Units: []Load{}}
	col := "assigned_community"
	if level == boundaries.Street {
		col = "assigned_street"
	}
	err := st.Snapshot(ctx, func(tx pgx.Tx) error {
		var ok bool
		var err error
		if p, ok, err = p.resolve(ctx, tx); err != nil {
			return err
		}
		if !ok { // no tickets and no period: a month from today, all zero
			p = Period{Since: at.AddDate(0, -1, 0), Until: at}
		}
		rows, err := tx.Query(ctx, `SELECT u.code, u.name, u.parent_code, u.households, coalesce(n.tickets, 0)::int
			FROM units u LEFT JOIN (SELECT `+col+` AS code, count(*) AS tickets FROM tickets
				WHERE time >= $1 AND time < $2 AND `+col+` IS NOT NULL GROUP BY 1) n ON n.code = u.code
			WHERE u.level = $3 AND `+store.AsOf("u", 4)+` ORDER BY u.code COLLATE "C"`, p.Since, p.Until, string(level), at)
		if err != nil {
			return err
		}
		w.Units, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Load, error) {
			var l Load
			return l, r.Scan(&l.Code, &l.Name, &l.Parent, &l.Households, &l.Tickets)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("workload of %s: %w", level.Layer(), err)
	}
	w.Since, w.Until, w.Months = p.Since, p.Until, p.Months()
	rates(w)
	return w, nil
}

// rates fills the measure, the parent medians and the ratios.
func rates(w *WorkloadReport) {
	byParent := map[string][]float64{}
	for i := range w.Units {
		l := &w.Units[i]
		if l.Households == nil || *l.Households == 0 || w.Months <= 0 {
			continue
		}
		v := round3(float64(l.Tickets) / w.Months / float64(*l.Households) * 1000)
		l.PerKHouseholdMonth = &v
		if l.Parent != nil {
			byParent[*l.Parent] = append(byParent[*l.Parent], v)
		}
	}
	medians := make(map[string]float64, len(byParent))
	for k, vs := range byParent {
		sort.Float64s(vs)
		m := vs[len(vs)/2]
		if len(vs)%2 == 0 {
			m = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
		}
		medians[k] = m
	}
	for i := range w.Units {
		l := &w.Units[i]
		if l.Parent == nil || l.PerKHouseholdMonth == nil {
			continue
		}
		m := round3(medians[*l.Parent])
		l.ParentMedian = &m
		if m > 0 {
			r := round3(*l.PerKHouseholdMonth / m)
			l.Ratio = &r
		}
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// ParsePeriod reads since and until (either may be empty): RFC 3339, or a
// day (YYYY-MM-DD, midnight Beijing time). The period is [since, until).
func ParsePeriod(since, until string) (Period, error) {
	var p Period
	for _, f := range []struct {
		name, v string
		dst     *time.Time
	}{{"since", since, &p.Since}, {"until", until, &p.Until}} {
		if strings.TrimSpace(f.v) == "" {
			continue
		}
		t, err := ParseTime(f.v)
		if err != nil {
			return p, &boundaries.QueryError{Param: f.name, Err: err}
		}
		*f.dst = t
	}
	if !p.Since.IsZero() && !p.Until.IsZero() {
		return p, p.check()
	}
	return p, nil
}

// Flag sets the Reason of every unit whose ratio to its parent's median
// exceeds k (a profile's community.max_workload_ratio) and returns how
// many; k ≤ 0 or NaN flags none.
func (w *WorkloadReport) Flag(k float64) int {
	if !(k > 0) {
		return 0
	}
	n := 0
	for i := range w.Units {
		l := &w.Units[i]
		if l.Ratio != nil && *l.Ratio > k {
			l.Reason = fmt.Sprintf("workload %g tickets per 1,000 households per month > %g× the street median %g", *l.PerKHouseholdMonth, k, *l.ParentMedian)
			n++
		}
	}
	return n
}
