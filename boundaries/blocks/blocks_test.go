package blocks_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries/blocks"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
)

// The hand-made unit: a square of 0.004° (about 340 × 445 m) in Beijing.
const (
	x0, y0, x1, y1 = 116.400, 39.900, 116.404, 39.904
	xm, ym         = (x0 + x1) / 2, (y0 + y1) / 2
)

var square = fmt.Sprintf("POLYGON((%[1]g %[2]g,%[3]g %[2]g,%[3]g %[4]g,%[1]g %[4]g,%[1]g %[2]g))", x0, y0, x1, y1)

// unit is one row of a test build's source.
type unit struct {
	key                    string
	wkt                    string
	households, population int64
}

// barrier is one barriers row.
type barrier struct{ class, wkt string }

// point is one building point.
type point struct {
	x, y       float64
	households int
}

// line is a WKT line string through the points (x, y, x, y …).
func line(c ...float64) string {
	var p []string
	for i := 0; i+1 < len(c); i += 2 {
		p = append(p, fmt.Sprintf("%.9f %.9f", c[i], c[i+1]))
	}
	return "LINESTRING(" + strings.Join(p, ",") + ")"
}

// srcSQL is Build's source over unnested arrays: $1 keys, $2 WKT, $3 households, $4 population.
const srcSQL = `SELECT key, ST_GeomFromText(wkt, 4326), h, p FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) t(key, wkt, h, p)`

func srcArgs(us []unit) []any {
	var k, w []string
	var h, p []int64
	for _, u := range us {
		k, w, h, p = append(k, u.key), append(w, u.wkt), append(h, u.households), append(p, u.population)
	}
	return []any{k, w, h, p}
}

// seed loads barriers and points into st.
func seed(t *testing.T, st *store.Store, bs []barrier, pts []point) {
	t.Helper()
	ctx := context.Background()
	for _, b := range bs {
		if _, err := st.Primary().Exec(ctx, `INSERT INTO barriers (class, geom) VALUES ($1, ST_Multi(ST_GeomFromText($2, 4326)))`, b.class, b.wkt); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pts {
		if _, err := st.Primary().Exec(ctx, `INSERT INTO points (geom, households, population) VALUES (ST_SetSRID(ST_MakePoint($1, $2), 4326), $3, $3 * 3)`,
			p.x, p.y, p.households); err != nil {
			t.Fatal(err)
		}
	}
}

// build builds the blocks of us in a transaction and hands it to check.
func build(t *testing.T, st *store.Store, us []unit, check func(tx pgx.Tx, gs map[string]*blocks.Graph)) {
	t.Helper()
	ctx := context.Background()
	err := st.Tx(ctx, func(tx pgx.Tx) error {
		if err := blocks.Build(ctx, tx, srcSQL, srcArgs(us), 200); err != nil {
			return err
		}
		gs, err := blocks.Graphs(ctx, tx, nil)
		if err != nil {
			return err
		}
		check(tx, gs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// num evaluates a SQL expression to a number.
func num(t *testing.T, tx pgx.Tx, expr string, args ...any) float64 {
	t.Helper()
	var v float64
	if err := tx.QueryRow(context.Background(), "SELECT ("+expr+")::float8", args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want)) }

// geodesic area of a lon/lat rectangle, and length of a line, by PostGIS.
func rectArea(t *testing.T, tx pgx.Tx, a, b, c, d float64) float64 {
	return num(t, tx, `ST_Area(ST_MakeEnvelope($1, $2, $3, $4, 4326)::geography)`, a, b, c, d)
}

func lineLength(t *testing.T, tx pgx.Tx, wkt string) float64 {
	return num(t, tx, `ST_Length(ST_GeomFromText($1, 4326)::geography)`, wkt)
}

func TestBuild(t *testing.T) {
	below, above := y0-0.001, y1+0.001
	left, right := x0-0.001, x1+0.001
	cases := []struct {
		name     string
		barriers []barrier
		points   []point
		unit     unit
		check    func(t *testing.T, tx pgx.Tx, g *blocks.Graph)
	}{
		{name: "one road cuts the square in two", barriers: []barrier{{"primary", line(xm, below, xm, above)}},
			unit: unit{"u", square, 1000, 3000},
			check: func(t *testing.T, tx pgx.Tx, g *blocks.Graph) {
				wantBlocks(t, g, 2)
				half := rectArea(t, tx, x0, y0, xm, y1)
				for _, b := range g.Blocks {
					if !near(b.AreaM2, half, 1e-6) {
						t.Errorf("block %d: area %.3f m², want %.3f", b.ID, b.AreaM2, half)
					}
					if !near(b.Households, 500, 1e-6) || !near(b.Population, 1500, 1e-6) {
						t.Errorf("block %d: %v households %v population, want 500 and 1500 by area", b.ID, b.Households, b.Population)
					}
				}
				wantLinks(t, g, 1)
				l := g.Links[0]
				if want := lineLength(t, tx, line(xm, y0, xm, y1)); l.A != 1 || l.B != 2 || !near(l.LengthM, want, 1e-6) || l.Class != "primary" {
					t.Errorf("link %+v, want 1–2 of %.3f m along primary", l, want)
				}
			}},
		{name: "a road that stops halfway cuts nothing", barriers: []barrier{{"residential", line(xm, below, xm, ym)}},
			unit: unit{"u", square, 10, 30},
			check: func(t *testing.T, tx pgx.Tx, g *blocks.Graph) {
				wantBlocks(t, g, 1)
				wantLinks(t, g, 0)
				// The dangle's node on the south side bends that side's
				// geodesic by a third of a square metre.
				if want := rectArea(t, tx, x0, y0, x1, y1); !near(g.Blocks[0].AreaM2, want, 1e-5) {
					t.Errorf("area %.3f, want %.3f", g.Blocks[0].AreaM2, want)
				}
			}},
		{name: "a cross makes four blocks, corners do not link",
			barriers: []barrier{{"secondary", line(xm, below, xm, above)}, {"trunk", line(left, ym, right, ym)}},
			unit:     unit{"u", square, 400, 0},
			check: func(t *testing.T, tx pgx.Tx, g *blocks.Graph) {
				wantBlocks(t, g, 4)
				wantLinks(t, g, 4)
				deg := map[int]int{}
				classes := map[string]int{}
				for _, l := range g.Links {
					deg[l.A]++
					deg[l.B]++
					classes[l.Class]++
				}
				for id := 1; id <= 4; id++ {
					if deg[id] != 2 {
						t.Errorf("block %d has %d links, want 2 (links %+v)", id, deg[id], g.Links)
					}
				}
				if classes["secondary"] != 2 || classes["trunk"] != 2 {
					t.Errorf("link classes %v, want 2 secondary and 2 trunk", classes)
				}
			}},
		{name: "a sliver joins the neighbour it shares the longest edge with",
			// A strip 0.5 m high under the left half: 85 m², sharing
			// ~170 m with the left block and 0.5 m with the right one.
			barriers: []barrier{{"primary", line(xm, below, xm, above)}, {"alley", line(left, y0+0.0000045, xm+0.0002, y0+0.0000045)}},
			unit:     unit{"u", square, 0, 0},
			check: func(t *testing.T, tx pgx.Tx, g *blocks.Graph) {
				wantBlocks(t, g, 2)
				wantLinks(t, g, 1)
				half := rectArea(t, tx, x0, y0, xm, y1)
				for _, b := range g.Blocks {
					if !near(b.AreaM2, half, 1e-6) {
						t.Errorf("block %d: area %.3f m², want %.3f (the sliver merged)", b.ID, b.AreaM2, half)
					}
				}
				if want := lineLength(t, tx, line(xm, y0, xm, y1)); !near(g.Links[0].LengthM, want, 1e-6) || g.Links[0].Class != "primary" {
					t.Errorf("link %+v, want %.3f m along primary", g.Links[0], want)
				}
			}},
		{name: "points give the households",
			barriers: []barrier{{"primary", line(xm, below, xm, above)}},
			points:   []point{{x0 + 0.001, ym, 10}, {x0 + 0.0012, ym + 0.001, 20}, {x1 - 0.001, ym, 5}, {x1 + 0.01, ym, 1000}},
			unit:     unit{"u", square, 9999, 9999},
			check: func(t *testing.T, tx pgx.Tx, g *blocks.Graph) {
				wantBlocks(t, g, 2)
				if g.Blocks[0].Households != 30 || g.Blocks[1].Households != 5 || g.Blocks[0].Population != 90 {
					t.Errorf("blocks %+v, want 30 and 5 households (population 90, 15) from the points", g.Blocks)
				}
			}},
		{name: "a river along a road: the hardest class",
			barriers: []barrier{{"residential", line(xm, below, xm, above)}, {"river", line(xm, below, xm, above)}},
			unit:     unit{"u", square, 0, 0},
			check: func(t *testing.T, tx pgx.Tx, g *blocks.Graph) {
				wantLinks(t, g, 1)
				if g.Links[0].Class != "river" {
					t.Errorf("class %q, want river", g.Links[0].Class)
				}
			}},
		{name: "a unit under the minimum is one block",
			barriers: []barrier{{"primary", line(x0+0.00005, below, x0+0.00005, above)}},
			unit:     unit{"u", fmt.Sprintf("POLYGON((%[1]g %[2]g,%[3]g %[2]g,%[3]g %[4]g,%[1]g %[4]g,%[1]g %[2]g))", x0, y0, x0+0.0001, y0+0.0001), 5, 5},
			check: func(t *testing.T, tx pgx.Tx, g *blocks.Graph) {
				wantBlocks(t, g, 1)
				if !near(g.Blocks[0].Households, 5, 1e-9) {
					t.Errorf("households %v, want 5", g.Blocks[0].Households)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, _ := pgtest.NewStore(t)
			seed(t, st, tc.barriers, tc.points)
			build(t, st, []unit{tc.unit}, func(tx pgx.Tx, gs map[string]*blocks.Graph) {
				g := gs[tc.unit.key]
				if g == nil {
					t.Fatalf("no graph for %s: %v", tc.unit.key, gs)
				}
				tc.check(t, tx, g)
				checkTiling(t, tx, tc.unit.key)
			})
		})
	}
}

func wantBlocks(t *testing.T, g *blocks.Graph, n int) {
	t.Helper()
	if len(g.Blocks) != n {
		t.Fatalf("%d blocks, want %d: %+v", len(g.Blocks), n, g.Blocks)
	}
	for i, b := range g.Blocks {
		if b.ID != i+1 {
			t.Fatalf("block ids %+v, want 1…%d", g.Blocks, n)
		}
	}
}

func wantLinks(t *testing.T, g *blocks.Graph, n int) {
	t.Helper()
	if len(g.Links) != n {
		t.Fatalf("%d links, want %d: %+v", len(g.Links), n, g.Links)
	}
}

// checkTiling: a unit's blocks cover it exactly and do not overlap.
func checkTiling(t *testing.T, tx pgx.Tx, key string) {
	t.Helper()
	ctx := context.Background()
	var diff, area float64
	var overlaps int
	err := tx.QueryRow(ctx, `SELECT ST_Area(ST_SymDifference(ST_Union(b.geom), min(u.geom::text)::geometry)), ST_Area(min(u.geom::text)::geometry),
			(SELECT count(*) FROM pblock p JOIN pblock q ON p.key = q.key AND p.id < q.id AND ST_Relate(p.geom, q.geom, '2********') WHERE p.key = $1)
		FROM pblock b JOIN pb_unit u USING (key) WHERE b.key = $1`, key).Scan(&diff, &area, &overlaps)
	if err != nil {
		t.Fatal(err)
	}
	if diff > 1e-6*area || overlaps > 0 {
		t.Errorf("%s: blocks differ from the unit by %.3g of its area, %d overlapping pairs", key, diff/area, overlaps)
	}
}

// TestBuildSetBased: several units in one build keep their own barriers,
// a unit no barrier touches is itself, and a second build replaces the first.
func TestBuildSetBased(t *testing.T) {
	st, _ := pgtest.NewStore(t)
	seed(t, st, []barrier{{"rail", line(xm, y0-0.001, xm, y1+0.001)}}, nil)
	far := fmt.Sprintf("POLYGON((%[1]g %[2]g,%[3]g %[2]g,%[3]g %[4]g,%[1]g %[4]g,%[1]g %[2]g))", x0+0.01, y0, x1+0.01, y1)
	holed := fmt.Sprintf("POLYGON((%[1]g %[2]g,%[3]g %[2]g,%[3]g %[4]g,%[1]g %[4]g,%[1]g %[2]g),(%[5]g %[6]g,%[5]g %[7]g,%[8]g %[7]g,%[8]g %[6]g,%[5]g %[6]g))",
		x0, y0, x1, y1, xm-0.001, ym-0.001, ym+0.001, xm+0.001)
	us := []unit{{"a", square, 100, 100}, {"b", far, 100, 100}, {"c", holed, 100, 100}}
	ctx := context.Background()
	err := st.Tx(ctx, func(tx pgx.Tx) error {
		for range 2 {
			if err := blocks.Build(ctx, tx, srcSQL, srcArgs(us), 200); err != nil {
				return err
			}
		}
		gs, err := blocks.Graphs(ctx, tx, []string{"a", "b", "c"})
		if err != nil {
			return err
		}
		for key, want := range map[string][2]int{"a": {2, 1}, "b": {1, 0}, "c": {2, 1}} {
			g := gs[key]
			if g == nil || len(g.Blocks) != want[0] || len(g.Links) != want[1] {
				t.Errorf("%s: %+v, want %d blocks and %d links", key, g, want[0], want[1])
			}
			checkTiling(t, tx, key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBuildRefusesBadInput(t *testing.T) {
	st, _ := pgtest.NewStore(t)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		us   []unit
		min  float64
		want string
	}{
		{"duplicate key", []unit{{"a", square, 1, 1}, {"a", square, 1, 1}}, 200, "more than once"},
		{"NaN minimum", []unit{{"a", square, 1, 1}}, math.NaN(), "minimum block area"},
	} {
		err := st.Tx(ctx, func(tx pgx.Tx) error { return blocks.Build(ctx, tx, srcSQL, srcArgs(c.us), c.min) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestOnBarriers(t *testing.T) {
	st, _ := pgtest.NewStore(t)
	// A road along the square's west side, 0.5 m off it.
	seed(t, st, []barrier{{"primary", line(x0+0.000005, y0-0.001, x0+0.000005, y1+0.001)}}, nil)
	ctx := context.Background()
	err := st.Tx(ctx, func(tx pgx.Tx) error {
		got, err := blocks.OnBarriers(ctx, tx, `SELECT k, ST_GeomFromText(w, 4326) FROM unnest($1::text[], $2::text[]) t(k, w)`,
			[]string{"along", "across", "half", "square"},
			[]string{line(x0, y0, x0, y1), line(x0+0.001, ym, x1, ym), line(x0, y0, x0, ym, x1, ym), square})
		if err != nil {
			return err
		}
		west := lineLength(t, tx, line(x0, y0, x0, y1))
		half := lineLength(t, tx, line(x0, y0, x0, ym)) / lineLength(t, tx, line(x0, y0, x0, ym, x1, ym))
		perim := num(t, tx, `ST_Perimeter(ST_GeomFromText($1, 4326)::geography)`, square)
		for k, want := range map[string]float64{"along": 1, "across": 0, "half": half, "square": west / perim} {
			if math.Abs(got[k]-want) > 0.01 {
				t.Errorf("%s: share %.3f, want %.2f", k, got[k], want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestForUnits: the second build of a live version with the same barriers
// is a read of the cache; new barriers build again.
func TestForUnits(t *testing.T) {
	st, _ := pgtest.NewStore(t)
	ctx := context.Background()
	path := pgtest.WriteFile(t, "c.geojson", pgtest.FC(pgtest.Comm("110101001001", pgtest.Poly("["+pgtest.Rect(0, 0, 0.4, 0.4)+"]"), 800)))
	if _, err := importer.Import(ctx, st, path, importer.Options{Level: "community", HouseholdsField: "hh", AllowOrphans: true}); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := st.Primary().QueryRow(ctx, `SELECT version_id FROM units`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	cached := func() (n int) {
		if err := st.Primary().QueryRow(ctx, `SELECT count(*) FROM blocks_cache_block WHERE version_id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	get := func(want int) {
		t.Helper()
		gs, err := blocks.ForUnits(ctx, st, []int64{id, 999999}, 200)
		if err != nil {
			t.Fatal(err)
		}
		if g := gs[id]; len(gs) != 1 || g == nil || len(g.Blocks) != want || cached() != want {
			t.Fatalf("%+v (%d cached), want %d blocks of version %d", gs, cached(), want, id)
		}
		var sum float64
		for _, b := range gs[id].Blocks {
			sum += b.Households
		}
		if !near(sum, 800, 1e-9) {
			t.Errorf("households %v, want 800", sum)
		}
	}
	get(1)
	var built string
	st.Primary().QueryRow(ctx, `SELECT built_at::text FROM blocks_cache`).Scan(&built) //nolint:errcheck
	get(1)
	var again string
	st.Primary().QueryRow(ctx, `SELECT built_at::text FROM blocks_cache`).Scan(&again) //nolint:errcheck
	if built != again {
		t.Errorf("second read rebuilt the cache (%s, then %s)", built, again)
	}
	road := pgtest.WriteFile(t, "roads.geojson", pgtest.FC(pgtest.Feature(`{"class":"主干道"}`,
		`{"type":"LineString","coordinates":[[116.402,39.899],[116.402,39.905]]}`)))
	if _, err := importer.Barriers(ctx, st, road, importer.BarrierOptions{Classes: map[string]string{"主干道": "primary"}}); err != nil {
		t.Fatal(err)
	}
	get(2)
	var versions int
	if err := st.Primary().QueryRow(ctx, `SELECT count(DISTINCT barriers_version) FROM blocks_cache`).Scan(&versions); err != nil || versions != 1 {
		t.Errorf("%d barriers versions cached (%v), want the current one only", versions, err)
	}
}
