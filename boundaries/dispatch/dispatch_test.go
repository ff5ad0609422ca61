package dispatch_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/dispatch"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// handCity is one district of two streets: street 001 has four
// communities, 003 overlapping 004; street 002 has one community and a gap.
//
//	y 2 +------+--+----+------+------+
//	    | 003  |ov| 004|      |      |
//	y 1 +------+--+----+ 2001 | gap  |
//	    | 001  | 002   |      |      |
//	y 0 +------+-------+------+------+
//	    x 0    1       2      3      4   (0.01° from 116.40, 39.90)
func handCity(t *testing.T) *store.Store {
	t.Helper()
	s, _ := pgtest.NewStore(t)
	ctx := context.Background()
	imp := func(level boundaries.Level, body string) {
		t.Helper()
		rep, err := importer.Import(ctx, s, pgtest.WriteFile(t, string(level)+".geojson", body),
			importer.Options{Level: level, HouseholdsField: "hh", ValidFrom: pgtest.Date(t, "2024-01-01")})
		if err != nil {
			t.Fatalf("import %s: %v %+v", level, err, rep)
		}
	}
	imp(boundaries.District, pgtest.FC(pgtest.Feature(`{"code":"110101","name":"东城区"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 4, 2)))))
	imp(boundaries.Street, pgtest.FC(
		pgtest.Feature(`{"code":"110101001","name":"甲街道"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 2, 2))),
		pgtest.Feature(`{"code":"110101002","name":"乙街道"}`, pgtest.PolyOf(pgtest.Rect(2, 0, 4, 2)))))
	imp(boundaries.Community, pgtest.FC(
		pgtest.Comm("110101001001", pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1)), 1000),
		pgtest.Comm("110101001002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 2000),
		pgtest.Comm("110101001003", pgtest.PolyOf(pgtest.Rect(0, 1, 1.2, 2)), 1500),
		pgtest.Comm("110101001004", pgtest.PolyOf(pgtest.Rect(1, 1, 2, 2)), 1500),
		pgtest.Comm("110101002001", pgtest.PolyOf(pgtest.Rect(2, 0, 3, 2)), 3000)))
	return s
}

func at(x, y float64) (float64, float64) { return 116.40 + x*0.01, 39.90 + y*0.01 }

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func ticket(id string, x, y float64) dispatch.Ticket {
	lon, lat := at(x, y)
	return dispatch.Ticket{ID: id, Time: t0, Lon: lon, Lat: lat, Category: "噪音"}
}

func code(u *lookup.Unit) string {
	if u == nil {
		return ""
	}
	return u.Code
}

// TestRules: every ambiguity on a hand-made case, in the order they apply.
func TestRules(t *testing.T) {
	s := handCity(t)
	ctx := context.Background()
	loc := lookup.New(s)
	cases := []struct {
		t                 dispatch.Ticket
		amb               dispatch.Ambiguity
		rule              string
		street, community string
		candidates        []string
		wantDistance      bool
	}{
		{ticket("outside", 4.5, 1), dispatch.Outside, dispatch.RuleNearestStreet, "110101002", "", []string{"110101002"}, true},
		{ticket("far", 20, 1), dispatch.Outside, dispatch.RuleNone, "", "", nil, false},
		{ticket("gap", 3.5, 1), dispatch.Gap, dispatch.RuleStreetFallback, "110101002", "", nil, false},
		{ticket("gap-edge", 3.0025, 1), dispatch.Gap, dispatch.RuleStreetFallback, "110101002", "", []string{"110101002001"}, false},
		{ticket("overlap", 1.1, 1.5), dispatch.Overlap, dispatch.RuleSmallestCode, "110101001", "110101001003", []string{"110101001003", "110101001004"}, false},
		{ticket("edge", 1, 0.5), dispatch.OnBoundary, dispatch.RuleSmallestCode, "110101001", "110101001001", []string{"110101001001", "110101001002"}, false},
		{ticket("rim", 0, 0.5), dispatch.OnBoundary, dispatch.RuleCovers, "110101001", "110101001001", []string{"110101001001"}, false},
		{ticket("near", 0.98, 0.5), dispatch.NearBoundary, dispatch.RuleCovers, "110101001", "110101001001", []string{"110101001002"}, false},
		{ticket("clear", 0.5, 0.5), dispatch.Clear, dispatch.RuleCovers, "110101001", "110101001001", nil, false},
	}
	var ts []dispatch.Ticket
	for _, c := range cases {
		ts = append(ts, c.t)
	}
	res, err := dispatch.Dispatch(ctx, s, loc, 0, time.Time{}, ts, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		r := res[i]
		var cands []string
		for _, cd := range r.Candidates {
			cands = append(cands, cd.Code)
		}
		if r.Ambiguity != c.amb || r.Rule != c.rule || code(r.Street) != c.street || code(r.Community) != c.community ||
			strings.Join(cands, ",") != strings.Join(c.candidates, ",") || (r.DistanceM != nil) != c.wantDistance {
			t.Errorf("%s: %s %s street %s community %s candidates %v distance %v; want %s %s %s %s %v",
				c.t.ID, r.Ambiguity, r.Rule, code(r.Street), code(r.Community), cands, r.DistanceM, c.amb, c.rule, c.street, c.community, c.candidates)
		}
		if r.Stored || r.UnitsVersion == 0 || r.UnitsDay == "" {
			t.Errorf("%s: stored %v units version %d day %q", c.t.ID, r.Stored, r.UnitsVersion, r.UnitsDay)
		}
	}
	// The distances are PostGIS's geography distances.
	for _, i := range []int{0, 3, 7} {
		r := res[i]
		for _, cd := range r.Candidates {
			var want float64
			if err := s.Primary().QueryRow(ctx, `SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography)
				FROM units WHERE code = $1`, cd.Code, r.Lon, r.Lat).Scan(&want); err != nil {
				t.Fatal(err)
			}
			if math.Abs(cd.DistanceM-want) > 0.011 {
				t.Errorf("%s: distance to %s %.3f m, PostGIS %.3f m", r.ID, cd.Code, cd.DistanceM, want)
			}
		}
	}
	// A nearer threshold turns near_boundary into none.
	res, err = dispatch.Dispatch(ctx, s, loc, 0, time.Time{}, []dispatch.Ticket{ticket("near2", 0.98, 0.5)}, dispatch.Options{NearM: 10})
	if err != nil || res[0].Ambiguity != dispatch.Clear {
		t.Errorf("near_m 10: %+v %v, want none", res, err)
	}
}

// TestIdempotent: the same ticket again gets the stored answer and adds no
// row; a repeat inside one batch is the same ticket.
func TestIdempotent(t *testing.T) {
	s := handCity(t)
	ctx := context.Background()
	loc := lookup.New(s)
	batch := []dispatch.Ticket{ticket("a", 0.98, 0.5), ticket("b", 3.5, 1), ticket("a", 0.98, 0.5)}
	first, err := dispatch.Dispatch(ctx, s, loc, 0, time.Time{}, batch, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if first[0].ID != "a" || first[2].ID != "a" || first[2].Ambiguity != first[0].Ambiguity {
		t.Errorf("repeat in batch: %+v", first)
	}
	again, err := dispatch.Dispatch(ctx, s, loc, 0, time.Time{}, batch[:2], dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		if !again[i].Stored || again[i].Ambiguity != first[i].Ambiguity || code(again[i].Community) != code(first[i].Community) ||
			code(again[i].Street) != code(first[i].Street) || len(again[i].Candidates) != len(first[i].Candidates) ||
			again[i].Street.Name != first[i].Street.Name {
			t.Errorf("again %d: %+v, first %+v", i, again[i], first[i])
		}
	}
	if n := count(t, s, `SELECT count(*) FROM tickets`); n != 2 {
		t.Errorf("%d tickets stored, want 2", n)
	}
}

func count(t *testing.T, s *store.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Primary().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBadTickets: every bad row is named and nothing of the batch is stored.
func TestBadTickets(t *testing.T) {
	s := handCity(t)
	ctx := context.Background()
	loc := lookup.New(s)
	if _, err := dispatch.Dispatch(ctx, s, loc, 0, time.Time{}, []dispatch.Ticket{ticket("x", 0.5, 0.5)}, dispatch.Options{}); err != nil {
		t.Fatal(err)
	}
	nan := ticket("nan", 0.5, 0.5)
	nan.Lon = math.NaN()
	noTime := ticket("notime", 0.5, 0.5)
	noTime.Time = time.Time{}
	moved := ticket("x", 0.6, 0.5) // stored at another point
	cases := []struct {
		name     string
		batch    []dispatch.Ticket
		rows     []int
		conflict bool
	}{
		{"nan and missing id", []dispatch.Ticket{ticket("ok", 0.5, 0.5), nan, ticket("", 0.5, 0.5), noTime}, []int{2, 3, 4}, false},
		{"repeat with another point", []dispatch.Ticket{ticket("ok", 0.5, 0.5), ticket("ok", 0.5, 0.6)}, []int{2}, false},
		{"stored with another point", []dispatch.Ticket{ticket("ok", 0.5, 0.5), moved}, []int{2}, true},
	}
	for _, c := range cases {
		_, err := dispatch.Dispatch(ctx, s, loc, 0, time.Time{}, c.batch, dispatch.Options{})
		var re *dispatch.RowErrors
		if !errors.As(err, &re) {
			t.Fatalf("%s: %v, want row errors", c.name, err)
		}
		var rows []int
		for _, r := range re.Rows {
			rows = append(rows, r.Row)
		}
		if !equalInts(rows, c.rows) || re.Conflict != c.conflict || errors.Is(err, boundaries.ErrConflict) != c.conflict {
			t.Errorf("%s: rows %v conflict %v (%v), want %v %v", c.name, rows, re.Conflict, err, c.rows, c.conflict)
		}
		var ve *boundaries.ValidationError
		if !c.conflict && !errors.As(err, &ve) {
			t.Errorf("%s: %v is not a validation error", c.name, err)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM tickets`); n != 1 {
		t.Errorf("%d tickets stored, want only the first batch's 1", n)
	}
	if _, err := dispatch.ParseCRS("EPSG:3857"); err == nil {
		t.Error("EPSG:3857 accepted as a ticket CRS")
	}
	if _, err := dispatch.ParseCRS("mars"); err == nil {
		t.Error("unknown CRS accepted")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReassign: the dispute is stored with from and to, the owner moves,
// the audit has a row; bad targets are refused.
func TestReassign(t *testing.T) {
	s := handCity(t)
	ctx := context.Background()
	loc := lookup.New(s)
	if _, err := dispatch.Dispatch(ctx, s, loc, 0, time.Time{}, []dispatch.Ticket{ticket("g", 3.5, 1), ticket("o", 1.1, 1.5)}, dispatch.Options{}); err != nil {
		t.Fatal(err)
	}
	actor := units.Actor{KeyName: "hotline"}
	a, err := dispatch.Reassign(ctx, s, actor, "o", "110101001004", "不属于本社区")
	if err != nil {
		t.Fatal(err)
	}
	if code(a.Community) != "110101001004" || code(a.Street) != "110101001" || code(a.District) != "110101" ||
		a.Dispute.From == nil || *a.Dispute.From != "110101001003" || a.Dispute.Level != boundaries.Community {
		t.Errorf("reassign: %+v %+v", a, a.Dispute)
	}
	a, err = dispatch.Reassign(ctx, s, actor, "g", "110101002001", "就近社区")
	if err != nil || a.Dispute.From != nil || code(a.Community) != "110101002001" {
		t.Errorf("reassign a gap ticket: %+v %v", a, err)
	}
	for _, bad := range []struct{ id, to, reason string }{
		{"o", "110101001004", "again"}, {"o", "110101", "a district"}, {"o", "nowhere", "x"}, {"o", "110101001001", ""},
	} {
		if _, err := dispatch.Reassign(ctx, s, actor, bad.id, bad.to, bad.reason); !errors.As(err, new(*boundaries.ValidationError)) {
			t.Errorf("reassign %s → %s (%q): %v, want a validation error", bad.id, bad.to, bad.reason, err)
		}
	}
	if _, err := dispatch.Reassign(ctx, s, actor, "nope", "110101001001", "x"); !errors.Is(err, boundaries.ErrNotFound) {
		t.Errorf("unknown ticket: %v", err)
	}
	info, err := dispatch.Get(ctx, s, "o")
	if err != nil || len(info.Disputes) != 1 || code(info.Current.Community) != "110101001004" || code(info.Result.Community) != "110101001003" {
		t.Errorf("get: %+v %v", info, err)
	}
	if n := count(t, s, `SELECT count(*) FROM audit WHERE action = 'reassign'`); n != 2 {
		t.Errorf("%d audit rows, want 2", n)
	}
	spots, _, err := dispatch.Disputes(ctx, s, dispatch.Period{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, sp := range spots {
		kinds[sp.Kind] = strings.Join(sp.Codes, ",")
		if sp.Tickets != 1 || len(sp.Geometry) == 0 || sp.Categories["噪音"] != 1 {
			t.Errorf("spot %+v", sp)
		}
	}
	if kinds["overlap"] != "110101001003,110101001004" || kinds["gap"] != "110101002,110101002001" {
		t.Errorf("spots %+v", spots)
	}
	w, err := dispatch.Workload(ctx, s, dispatch.Period{}, time.Time{}, boundaries.Community)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range w.Units {
		if l.Code == "110101001004" && (l.Tickets != 1 || l.PerKHouseholdMonth == nil || *l.PerKHouseholdMonth != math.Round(1/w.Months/1500*1e6)/1000) {
			t.Errorf("workload %+v (months %v)", l, w.Months)
		}
	}
	stats, err := dispatch.Stats(ctx, s, dispatch.Period{}, boundaries.Street, 5)
	if err != nil || stats.Tickets != 2 || stats.Reassigned != 2 || stats.Ambiguity[dispatch.Gap] != 1 || len(stats.Disputed) != 2 {
		t.Errorf("stats %+v %v", stats, err)
	}
}
