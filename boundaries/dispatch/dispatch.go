// Package dispatch routes citizen requests (12345 hotline tickets, 接诉即办)
// to the street and community responsible for their place, says how sure
// that answer is (ambiguity), stores every ticket, records reassignments
// (改派/退单) and turns them into boundary findings: the shared boundaries
// and the gaps and overlaps where tickets bounce (Disputes), and tickets
// per household as a sizing measure (Workload).
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/store"
)

// Ambiguity says how clear a ticket's owner is, judged at the community
// level: the first of these that applies.
type Ambiguity string

// The ambiguities, in the order they are tried.
const (
	Outside      Ambiguity = "outside"       // no street covers the point
	Gap          Ambiguity = "gap"           // a street but no community covers it
	Overlap      Ambiguity = "overlap"       // two or more communities claim it, inside one of them
	OnBoundary   Ambiguity = "on_boundary"   // on the boundary of every community covering it
	NearBoundary Ambiguity = "near_boundary" // inside one community, within NearM of another
	Clear        Ambiguity = "none"          // inside one community, no other near
)

// Ambiguities lists them in the order they are tried.
var Ambiguities = []Ambiguity{Outside, Gap, Overlap, OnBoundary, NearBoundary, Clear}

// Rules: what decided the owner.
const (
	RuleCovers         = "covers"          // the one community covering the point
	RuleSmallestCode   = "smallest_code"   // several cover it: the smallest code, as every lookup answers
	RuleStreetFallback = "street_fallback" // 属地兜底: no community, the street covering the point
	RuleNearestStreet  = "nearest_street"  // outside every street: the nearest one within NearestStreetM
	RuleNone           = "none"            // outside, no street near enough
)

// Limits and defaults.
const (
	DefaultNearM          = 30.0
	MaxNearM              = 1000.0
	DefaultNearestStreetM = 5000.0
	DefaultMaxBatch       = 100_000
	MaxIDLen              = 128
	MaxCategoryLen        = 100
	// maxListedErrors bounds the row errors an answer lists.
	maxListedErrors = 100
)

// Ticket is one request to dispatch. Lon/Lat are WGS84 (a reader or the
// caller has undone any GCJ-02/BD-09 shift).
type Ticket struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Lon      float64   `json:"lon"`
	Lat      float64   `json:"lat"`
	Category string    `json:"category"`
	// Row names the ticket in errors: a CSV line, or the index+1 in a
	// list (0: the index+1 in the batch).
	Row int `json:"-"`
}

// Candidate is another unit that may own a ticket: a claimant of an
// overlap or a shared boundary, a community near the point, the street of
// an outside point.
type Candidate struct {
	Level     boundaries.Level `json:"level"`
	Code      string           `json:"code"`
	Name      string           `json:"name"`
	Covers    bool             `json:"covers"`
	DistanceM float64          `json:"distance_m"`
}

// Result is the answer for one ticket.
type Result struct {
	ID            string       `json:"id"`
	Time          time.Time    `json:"time"`
	Lon           float64      `json:"lon"`
	Lat           float64      `json:"lat"`
	Category      string       `json:"category"`
	District      *lookup.Unit `json:"district"`
	Street        *lookup.Unit `json:"street"`
	Community     *lookup.Unit `json:"community"`
	Grid          *lookup.Unit `json:"grid"`
	Rule          string       `json:"rule"`
	Ambiguity     Ambiguity    `json:"ambiguity"`
	GridAmbiguity Ambiguity    `json:"grid_ambiguity,omitempty"`
	// DistanceM is the distance to the street of an outside ticket.
	DistanceM    *float64    `json:"distance_m"`
	Candidates   []Candidate `json:"candidates"`
	UnitsVersion int64       `json:"units_version"`
	UnitsDay     string      `json:"units_day"`
	// Stored is true when the ticket was already stored: the answer is
	// the one given then.
	Stored bool `json:"stored"`
}

// Options tune a dispatch; the zero value takes the defaults.
type Options struct {
	NearM          float64 // near_boundary distance in metres (default 30, at most 1000)
	NearestStreetM float64 // how far an outside point looks for a street (default 5000)
	MaxBatch       int     // tickets per call (default 100,000)
}

func (o Options) withDefaults() (Options, error) {
	if o.NearM == 0 {
		o.NearM = DefaultNearM
	}
	if math.IsNaN(o.NearM) || o.NearM < 0 || o.NearM > MaxNearM {
		return o, &boundaries.QueryError{Param: "near_m", Err: fmt.Errorf("%v: want 0 to %v metres", o.NearM, MaxNearM)}
	}
	if o.NearestStreetM <= 0 || math.IsNaN(o.NearestStreetM) {
		o.NearestStreetM = DefaultNearestStreetM
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	return o, nil
}

// RowError is what is wrong with one ticket.
type RowError struct {
	Row     int    `json:"row"`
	ID      string `json:"id,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e RowError) String() string {
	s := fmt.Sprintf("row %d", e.Row)
	if e.ID != "" {
		s += fmt.Sprintf(" (id %q)", e.ID)
	}
	if e.Field != "" {
		s += " " + e.Field
	}
	return s + ": " + e.Message
}

// RowErrors refuses a batch: nothing of it was stored. Conflict is set
// when a row contradicts a stored ticket (same id, another point, time or
// category) rather than being malformed.
type RowErrors struct {
	Rows     []RowError // at most maxListedErrors
	Total    int        // all the rows in error
	Conflict bool
}

func (e *RowErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d ticket(s) refused, nothing stored: ", e.Total)
	for i, r := range e.Rows {
		if i == 5 {
			fmt.Fprintf(&b, "; … (%d more)", e.Total-5)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.String())
	}
	return b.String()
}

// Unwrap makes the refusal a validation error (422), or a conflict (409).
func (e *RowErrors) Unwrap() error {
	if e.Conflict {
		return boundaries.ErrConflict
	}
	return &boundaries.ValidationError{Msg: e.Error()}
}

// Add counts a bad row and lists it while fewer than maxListedErrors are.
func (e *RowErrors) Add(r RowError) {
	e.Total++
	if len(e.Rows) < maxListedErrors {
		e.Rows = append(e.Rows, r)
	}
}

func (e *RowErrors) orNil() error {
	if e.Total == 0 {
		return nil
	}
	return e
}

// CheckTicket says what is wrong with a ticket ("" when nothing), naming
// the field.
func CheckTicket(t *Ticket) (field, msg string) {
	switch {
	case strings.TrimSpace(t.ID) == "":
		return "id", "required"
	case len(t.ID) > MaxIDLen:
		return "id", fmt.Sprintf("longer than %d bytes", MaxIDLen)
	case !utf8.ValidString(t.ID) || strings.ContainsFunc(t.ID, isControl):
		return "id", "not valid text"
	case math.IsNaN(t.Lon) || math.IsInf(t.Lon, 0) || t.Lon < -180 || t.Lon > 180:
		return "lon", fmt.Sprintf("%v is not a longitude in [-180, 180]", t.Lon)
	case math.IsNaN(t.Lat) || math.IsInf(t.Lat, 0) || t.Lat < -90 || t.Lat > 90:
		return "lat", fmt.Sprintf("%v is not a latitude in [-90, 90]", t.Lat)
	case t.Time.IsZero():
		return "time", "required"
	case t.Time.Year() < 1900 || t.Time.Year() > 9999:
		return "time", "out of range"
	case utf8.RuneCountInString(t.Category) > MaxCategoryLen:
		return "category", fmt.Sprintf("longer than %d characters", MaxCategoryLen)
	case !utf8.ValidString(t.Category) || strings.ContainsFunc(t.Category, isControl):
		return "category", "not valid text"
	}
	return "", ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// row is the ticket's name in errors.
func row(t *Ticket, i int) int {
	if t.Row > 0 {
		return t.Row
	}
	return i + 1
}

// Dispatch decides every ticket's owner and ambiguity from the units
// valid on day at (zero: today) and stores the new tickets; tickets stored
// before (same id, point, time and category) get their stored answer and
// are not stored again. run is the analysis run whose zones the locator
// reads (0: none). All or nothing: a malformed ticket, or one whose id is
// stored with another point, time or category, refuses the batch with a
// *RowErrors naming every such row.
func Dispatch(ctx context.Context, st *store.Store, loc *lookup.Locator, run int64, at time.Time, tickets []Ticket, opt Options) ([]Result, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(tickets) > opt.MaxBatch {
		return nil, &TooMany{Limit: opt.MaxBatch}
	}
	if at.IsZero() {
		at = boundaries.Today()
	}
	var out []Result
	for attempt := 0; ; attempt++ {
		err = st.Tx(ctx, func(tx pgx.Tx) error {
			var err error
			out, _, err = dispatchTx(ctx, tx, loc, run, at, tickets, opt)
			return err
		})
		// Another request stored one of these ids meanwhile: once more,
		// which now sees its row.
		if attempt == 0 && isUniqueViolation(err) {
			continue
		}
		break
	}
	if err != nil {
		var re *RowErrors
		if errors.As(err, &re) {
			return nil, err
		}
		return nil, fmt.Errorf("dispatch %d tickets: %w", len(tickets), err)
	}
	return out, nil
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// dispatchTx is one batch inside a transaction: checks, stored answers,
// decisions for the rest, stored by COPY; n is how many were stored.
func dispatchTx(ctx context.Context, tx pgx.Tx, loc *lookup.Locator, run int64, at time.Time, tickets []Ticket, opt Options) (_ []Result, n int, _ error) {
	first, err := checkBatch(tickets)
	if err != nil {
		return nil, 0, err
	}
	stored, err := storedAnswers(ctx, tx, tickets, first)
	if err != nil {
		return nil, 0, err
	}
	var fresh []int // indexes of tickets to decide (first occurrences, not stored)
	for i := range tickets {
		if first[i] == i {
			if _, ok := stored[tickets[i].ID]; !ok {
				fresh = append(fresh, i)
			}
		}
	}
	decided, err := decide(ctx, tx, loc, run, at, tickets, fresh, opt)
	if err != nil {
		return nil, 0, err
	}
	if err := copyTickets(ctx, tx, decided); err != nil {
		return nil, 0, err
	}
	byID := make(map[string]*Result, len(decided))
	for i := range decided {
		byID[decided[i].ID] = &decided[i]
	}
	out := make([]Result, len(tickets))
	for i := range tickets {
		if r, ok := stored[tickets[i].ID]; ok {
			out[i] = *r
		} else {
			out[i] = *byID[tickets[i].ID]
		}
	}
	return out, len(decided), nil
}

// checkBatch checks every ticket; first[i] is the index of the first
// ticket with tickets[i]'s id (a repeat with the same point, time and
// category is the same ticket; with another, an error).
func checkBatch(tickets []Ticket) ([]int, error) {
	errs := &RowErrors{}
	first := make([]int, len(tickets))
	seen := make(map[string]int, len(tickets))
	for i := range tickets {
		t := &tickets[i]
		if field, msg := CheckTicket(t); field != "" {
			errs.Add(RowError{Row: row(t, i), ID: t.ID, Field: field, Message: msg})
			first[i] = i
			continue
		}
		j, dup := seen[t.ID]
		if !dup {
			seen[t.ID], first[i] = i, i
			continue
		}
		first[i] = j
		if !sameTicket(t, &tickets[j]) {
			errs.Add(RowError{Row: row(t, i), ID: t.ID, Field: "id",
				Message: fmt.Sprintf("repeats row %d's id with another point, time or category", row(&tickets[j], j))})
		}
	}
	return first, errs.orNil()
}

func sameTicket(a, b *Ticket) bool {
	return a.Lon == b.Lon && a.Lat == b.Lat && a.Time.Equal(b.Time) && a.Category == b.Category
}
