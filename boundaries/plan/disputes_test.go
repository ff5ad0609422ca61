package plan_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jiedao/jiedao/boundaries/dispatch"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/units"
)

// TestPlanDisputes: with the demo's tickets loaded, the reassign
// operations that repair the injected overlaps and gaps say how many
// tickets were reassigned there; every spot in scope is listed with what
// the plan did; a shared boundary with at least MinDisputeTickets
// reassigned tickets gets an operation moving its blocks or a note why not.
func TestPlanDisputes(t *testing.T) {
	s, m, dir := pgtest.SmallDemoFiles(t)
	ctx := context.Background()
	before := pgtest.Plan(t, s, plan.Options{All: true, Seed: 1})
	if len(before.Disputes) != 0 {
		t.Fatalf("no tickets, %d disputes", len(before.Disputes))
	}
	pgtest.LoadTickets(t, s, dir)
	spots, _, err := dispatch.Disputes(ctx, s, dispatch.Period{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	pl := pgtest.Plan(t, s, plan.Options{All: true, Seed: 1})
	listed := 0
	for _, sp := range spots {
		if sp.Tickets >= plan.MinDisputeTickets {
			listed++
		}
	}
	if len(pl.Disputes) < listed || len(pl.Disputes) < len(m.DisputeSpots) {
		t.Errorf("%d disputes listed, %d spots of %d tickets or more, %d injected", len(pl.Disputes), listed, plan.MinDisputeTickets, len(m.DisputeSpots))
	}
	noted := 0
	for _, op := range pl.Ops {
		if op.Kind == "reassign" && strings.Contains(op.Note, "tickets reassigned here in the period (") {
			noted++
		}
	}
	// Each injected spot is repaired by an operation that says so.
	for _, want := range m.DisputeSpots {
		i := slices.IndexFunc(pl.Disputes, func(d plan.DisputeNote) bool {
			return d.Kind == want.Kind && slices.Contains(d.Codes, want.Codes[len(want.Codes)-1]) && d.Op > 0
		})
		if i < 0 {
			t.Errorf("injected spot %+v: no repairing operation among %+v", want, pl.Disputes)
			continue
		}
		op := pl.Ops[pl.Disputes[i].Op-1]
		if !strings.Contains(op.Note, "tickets reassigned here in the period") {
			t.Errorf("operation %d repairs %s but its note is %q", op.Seq, pl.Disputes[i].Spot, op.Note)
		}
	}
	if noted == 0 {
		t.Error("no reassign operation notes the tickets")
	}
	moved := 0
	for _, d := range pl.Disputes {
		if d.Note == "" || !strings.Contains(d.Note, "tickets reassigned here") {
			t.Errorf("dispute %+v has no note", d)
		}
		if d.Kind == "boundary" && d.Tickets >= plan.MinDisputeTickets && d.Op > 0 {
			op := pl.Ops[d.Op-1]
			if op.Zone != d.Spot || op.Method != "blocks" || len(op.From) != 1 || len(op.To) != 1 || !strings.HasPrefix(op.Note, "disputed ground") {
				t.Errorf("dispute %s: operation %+v", d.Spot, op)
			}
			moved++
		}
		t.Logf("dispute %s %s %v: %d tickets, op %d: %s", d.Spot, d.Kind, d.Codes, d.Tickets, d.Op, d.Note)
	}
	t.Logf("%d spots, %d operations noted, %d disputed boundaries moved", len(pl.Disputes), noted, moved)
	checkUnits(t, s, pl)
}

// TestPlanDisputedBoundary: six tickets inside community A by its shared
// boundary with B, all reassigned to B, make the plan of their street move
// the blocks of A holding them to B (the demo has roads), with the note
// saying how many tickets were reassigned there.
func TestPlanDisputedBoundary(t *testing.T) {
	s := pgtest.SmallDemo(t)
	ctx := context.Background()
	var a, b, street string
	var xs, ys []float64
	// The pair sharing the longest boundary in one street, and points in A
	// within 40 m of it.
	if err := s.Primary().QueryRow(ctx, `WITH c AS (SELECT code, parent_code, geom FROM units WHERE level = 'community' AND valid_to IS NULL),
			pair AS (SELECT x.code AS a, y.code AS b, x.parent_code AS street, x.geom AS ga,
				ST_CollectionExtract(ST_Intersection(x.geom, y.geom), 2) AS line
				FROM c x JOIN c y ON x.parent_code = y.parent_code AND x.code < y.code AND ST_Relate(x.geom, y.geom, '****1****')
				ORDER BY ST_Length(ST_CollectionExtract(ST_Intersection(x.geom, y.geom), 2)::geography) DESC, x.code, y.code LIMIT 1),
			pts AS (SELECT (ST_Dump(ST_GeneratePoints(ST_Intersection(ga, ST_Buffer(ST_LineInterpolatePoint(ST_LineMerge(line), 0.5)::geography, 40)::geometry), 6, 1))).geom AS g FROM pair)
		SELECT a, b, street, array_agg(ST_X(g) ORDER BY ST_X(g)), array_agg(ST_Y(g) ORDER BY ST_X(g)) FROM pair, pts GROUP BY a, b, street`).Scan(&a, &b, &street, &xs, &ys); err != nil {
		t.Fatal(err)
	}
	loc := lookup.New(s)
	var ts []dispatch.Ticket
	for i := range xs {
		ts = append(ts, dispatch.Ticket{ID: "d" + strings.Repeat("x", i+1), Time: time.Date(2025, 3, 1+i, 9, 0, 0, 0, time.UTC), Lon: xs[i], Lat: ys[i], Category: "环境"})
	}
	res, err := dispatch.Dispatch(ctx, s, loc, 0, time.Time{}, ts, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Community == nil || r.Community.Code != a {
			t.Fatalf("ticket %s dispatched to %+v, want %s", r.ID, r.Community, a)
		}
		if _, err := dispatch.Reassign(ctx, s, units.Actor{KeyName: "test"}, r.ID, b, "不属于本社区"); err != nil {
			t.Fatal(err)
		}
	}
	pl := pgtest.Plan(t, s, plan.Options{Street: street, Seed: 1})
	key := "community:" + a + ":" + b
	i := slices.IndexFunc(pl.Disputes, func(d plan.DisputeNote) bool { return d.Spot == key })
	if i < 0 {
		t.Fatalf("spot %s not listed: %+v", key, pl.Disputes)
	}
	d := pl.Disputes[i]
	t.Logf("%+v", d)
	if d.Kind != "boundary" || d.Tickets != len(ts) || d.Op == 0 {
		t.Fatalf("dispute %+v: want a boundary of %d tickets with an operation", d, len(ts))
	}
	op := pl.Ops[d.Op-1]
	if op.Kind != "reassign" || op.Zone != key || !slices.Equal(op.From, []string{a}) || !slices.Equal(op.To, []string{b}) || op.AreaM2 <= 0 ||
		!strings.Contains(op.Note, "6 tickets reassigned here in the period (2025-03-01 – 2025-03-06)") {
		t.Errorf("operation %+v", op)
	}
	checkUnits(t, s, pl)
	// The moved ground holds the tickets: B's planned geometry covers them.
	if !slices.ContainsFunc(pl.Units, func(u plan.Unit) bool { return u.Code == b }) {
		t.Errorf("%s is not among the changed units", b)
	}
	for _, u := range pl.Units {
		if u.Code != b {
			continue
		}
		var n int
		if err := s.Primary().QueryRow(ctx, `SELECT count(*)::int FROM unnest($2::float8[], $3::float8[]) p(x, y)
			WHERE ST_Covers(ST_GeomFromGeoJSON($1), ST_SetSRID(ST_MakePoint(x, y), 4326))`, string(u.Geometry), xs, ys).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(xs) {
			t.Errorf("%s's planned ground holds %d of the %d disputed tickets", b, n, len(xs))
		}
	}
}
