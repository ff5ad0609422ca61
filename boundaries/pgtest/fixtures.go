package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/dispatch"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/geo"
)

// Fixtures shared by the feature packages' tests: GeoJSON built in code,
// the real Beixinqiao street, the small demo city, and one run finder and
// layer reader per store (as one process keeps one).

var (
	readersMu sync.Mutex
	readers   = map[*store.Store]*layers.Reader{}
	runs      = map[*store.Store]*analysis.Runs{}
)

// Runs is the run finder of st.
func Runs(st *store.Store) *analysis.Runs {
	readersMu.Lock()
	defer readersMu.Unlock()
	r, ok := runs[st]
	if !ok {
		r = analysis.NewRuns(st)
		runs[st] = r
	}
	return r
}

// Reader is the layer reader of st.
func Reader(st *store.Store) *layers.Reader {
	r := Runs(st)
	readersMu.Lock()
	defer readersMu.Unlock()
	ly, ok := readers[st]
	if !ok {
		ly = layers.NewReader(st, r)
		readers[st] = ly
	}
	return ly
}

// MustCRS parses a --crs value.
func MustCRS(t testing.TB, s string) *geo.CRS {
	t.Helper()
	c, err := geo.ParseCRS(s)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// Date parses YYYY-MM-DD.
func Date(t testing.TB, s string) time.Time {
	t.Helper()
	d, err := boundaries.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// ImportBeixinqiao loads the real 北新桥 street and its 12 communities
// (GCJ-02, resident counts), skipping when ../shared/data is absent.
func ImportBeixinqiao(t testing.TB, s *store.Store) *importer.Report {
	t.Helper()
	dir := SharedData(t, "beijing")
	ctx := context.Background()
	if _, err := importer.Import(ctx, s, filepath.Join(dir, "beixinqiao_street.geojson"), importer.Options{Level: boundaries.Street, CRS: MustCRS(t, "gcj02")}); err != nil {
		t.Fatal(err)
	}
	rep, err := importer.Import(ctx, s, filepath.Join(dir, "beixinqiao_communities.geojson"), importer.Options{
		Level: boundaries.Community, CRS: MustCRS(t, "gcj02"), ParentField: "street_code", CodeField: "code_2023",
		ProvisionalCodes: true, HouseholdsField: "res_households", PopulationField: "res_population"})
	if err != nil {
		t.Fatalf("import communities: %v %+v", err, rep)
	}
	return rep
}

// BuildingPoints places synthetic building points in every current
// community in proportion to its households (one per ~100, deterministic):
// what real data such as Beixinqiao lacks for splits and grids.
func BuildingPoints(t testing.TB, s *store.Store) {
	t.Helper()
	if _, err := s.Primary().Exec(context.Background(), `INSERT INTO points (geom, households, population)
		SELECT d.geom, u.households / u.n + CASE WHEN d.path[1] <= u.households % u.n THEN 1 ELSE 0 END,
			u.population / u.n + CASE WHEN d.path[1] <= u.population % u.n THEN 1 ELSE 0 END
		FROM (SELECT geom, households, population, greatest(households / 100, 1) AS n FROM units
			WHERE level = 'community' AND valid_to IS NULL) u,
		LATERAL ST_Dump(ST_GeneratePoints(u.geom, u.n, 42)) d`); err != nil {
		t.Fatalf("building points: %v", err)
	}
}

// SmallDemo is a fresh database with the small demo city (seed 1) loaded.
func SmallDemo(t testing.TB) *store.Store {
	t.Helper()
	s, _, _ := SmallDemoFiles(t)
	return s
}

// SmallDemoFiles is SmallDemo with the demo's manifest and folder (its
// tickets are there, not loaded: see LoadTickets).
func SmallDemoFiles(t testing.TB) (*store.Store, *demo.Manifest, string) {
	t.Helper()
	s, _ := NewStore(t)
	dir := t.TempDir()
	m, err := demo.Generate(demo.Config{Seed: 1, Scale: demo.Small, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := importer.LoadDemo(context.Background(), s, dir, nil); err != nil {
		t.Fatal(err)
	}
	return s, m, dir
}

// LoadTickets dispatches a demo folder's tickets and applies its
// reassignments, as jiedao demo does; it returns the tickets stored and
// the reassignments applied.
func LoadTickets(t testing.TB, s *store.Store, dir string) (stored, reassigned int) {
	t.Helper()
	ctx := context.Background()
	rep, err := dispatch.ImportFile(ctx, s, lookup.New(s), filepath.Join(dir, demo.TicketsFile), dispatch.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := dispatch.ImportReassignments(ctx, s, units.Actor{KeyName: "demo"}, filepath.Join(dir, demo.ReassignmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	return rep.Stored, n
}

// Analyze runs an analysis of the live units today under a profile.
func Analyze(t testing.TB, s *store.Store, profile string) *analysis.Analysis {
	t.Helper()
	p, err := analysis.LoadProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	a, err := analysis.Analyze(context.Background(), s, p, boundaries.Today(), analysis.Live)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Plan proposes a plan under beijing-2020.
func Plan(t testing.TB, s *store.Store, opt plan.Options) *plan.Plan {
	t.Helper()
	p, err := analysis.LoadProfile("beijing-2020")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := plan.Propose(context.Background(), s, p, opt)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// ScenarioUnits are a plan's units as a scenario reads them from its
// GeoJSON document.
func ScenarioUnits(t testing.TB, pl *plan.Plan) []scenario.Unit {
	us, _ := planDocument(t, pl)
	return us
}

// ScenarioRemoved are the communities a plan's document says it removes.
func ScenarioRemoved(t testing.TB, pl *plan.Plan) []units.Base {
	_, rm := planDocument(t, pl)
	return rm
}

func planDocument(t testing.TB, pl *plan.Plan) ([]scenario.Unit, []units.Base) {
	t.Helper()
	var b bytes.Buffer
	if err := plan.WriteGeoJSON(&b, pl); err != nil {
		t.Fatal(err)
	}
	us, rm, err := scenario.ParsePlan(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return us, rm
}

// ZoneKeys lists an analysis's zones as "kind:codes", once each.
func ZoneKeys(a *analysis.Analysis) []string {
	seen := map[string]bool{}
	var out []string
	for _, z := range a.Zones {
		k := string(z.Kind) + ":" + strings.Join(z.Codes, "+")
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// FC is a GeoJSON FeatureCollection of features.
func FC(features ...string) string {
	return `{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`
}

// Feature is a GeoJSON Feature.
func Feature(props, geometry string) string {
	return `{"type":"Feature","properties":` + props + `,"geometry":` + geometry + `}`
}

// Poly is a GeoJSON Polygon of coordinates.
func Poly(coords string) string { return `{"type":"Polygon","coordinates":` + coords + `}` }

// PolyOf is a GeoJSON Polygon of rings.
func PolyOf(rings ...string) string {
	return `{"type":"Polygon","coordinates":[` + strings.Join(rings, ",") + `]}`
}

// MultiOf is a GeoJSON MultiPolygon of polygons (each a list of rings).
func MultiOf(polys ...[]string) string {
	var ps []string
	for _, p := range polys {
		ps = append(ps, "["+strings.Join(p, ",")+"]")
	}
	return `{"type":"MultiPolygon","coordinates":[` + strings.Join(ps, ",") + `]}`
}

// Rect is a rectangle ring in units of 0.01° from (116.40, 39.90).
func Rect(x0, y0, x1, y1 float64) string {
	p := func(x, y float64) string { return fmt.Sprintf("[%.6f,%.6f]", 116.40+x*0.01, 39.90+y*0.01) }
	return fmt.Sprintf("[%s,%s,%s,%s,%s]", p(x0, y0), p(x1, y0), p(x1, y1), p(x0, y1), p(x0, y0))
}

// ShiftedRect is Rect with each corner passed through shift (geo.ToGCJ02,
// geo.ToBD09): the rectangle as a Chinese web map gives it, about 500 m
// off, for tests of the importer's CRS guard.
func ShiftedRect(x0, y0, x1, y1 float64, shift func(lon, lat float64) (float64, float64)) string {
	p := func(x, y float64) string {
		lon, lat := shift(116.40+x*0.01, 39.90+y*0.01)
		return fmt.Sprintf("[%.9f,%.9f]", lon, lat)
	}
	return fmt.Sprintf("[%s,%s,%s,%s,%s]", p(x0, y0), p(x1, y0), p(x1, y1), p(x0, y1), p(x0, y0))
}

// Comm is a community feature with a code, a name from it and households
// in the attribute "hh".
func Comm(code, geometry string, households int) string {
	return Feature(fmt.Sprintf(`{"code":%q,"name":"社区%s","hh":%d}`, code, code[len(code)-3:], households), geometry)
}

// WriteFile writes body to name in a temp folder and returns its path.
func WriteFile(t testing.TB, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// BenchGate skips a benchmark unless JIEDAO_BENCH is set (make bench), so
// make test stays fast; each needs PostGIS (DATABASE_URL) like the tests.
func BenchGate(b *testing.B) {
	if os.Getenv("JIEDAO_BENCH") == "" {
		b.Skip("set JIEDAO_BENCH=1 to run (make bench)")
	}
	// Keep the benchmark lines readable.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// DemoFiles generates (once per machine) the demo city of a scale, seed 1.
func DemoFiles(b *testing.B, scale demo.Scale) string {
	dir := filepath.Join(os.TempDir(), "jiedao-bench-"+string(scale))
	if _, err := demo.ReadManifest(dir); err != nil {
		if _, err := demo.Generate(demo.Config{Seed: 1, Scale: scale, Dir: dir}); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}
