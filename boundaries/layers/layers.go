// Package layers serves the layer registry: one definition per layer
// (districts, streets, communities, grids, zones, barriers) with its fields and SQL, read by
// the vector tiles, the OGC API Features items, the downloads (GeoJSON,
// CSV, GeoPackage) and the API's unit documents, over the live boundaries
// or a scenario's. Adding a field or a layer is one edit here.
package layers

import (
	"context"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/store"
)

// Field is one attribute of a layer, defined once and used by tiles, OGC
// API Features, downloads and the JSON API.
type Field struct {
	Name        string
	Type        string // string, integer, number, boolean, date, array
	Description string
	SQL         string // expression over the layer's FROM clause
}

// Layer is a servable layer: units of one level, or the zones of an
// analysis run.
type Layer struct {
	Name        string
	Title       string
	Level       boundaries.Level // "" for zones
	Description string
	Fields      []Field
	ID          string // SQL of the stable feature id
	Geom        string // SQL of the geometry (EPSG:4326)
	from        string // FROM/WHERE clause; $1 = run id, $2 = as-of date
	scenario    string // the same over a scenario run's boundaries
	// during is from over an interval: $2 is a daterange as text, and the
	// rows are every version valid at any time in it.
	during string
	// tileGeom is the geometry stored in EPSG:3857 over from, for live
	// tiles ("": they transform Geom); tileSQL replaces a field's SQL in
	// live tiles with its stored tile form (migration 0012). Scenario
	// units are a query's rows, without either.
	tileGeom string
	tileSQL  map[string]string
}

var unitFields = []Field{
	{"code", "string", "unit code (9 digits for a street, 12 for a community, 15 for a grid: its community's 12 and a 3-digit sequence; provisional codes start with P)", "u.code"},
	{"name", "string", "name", "u.name"},
	{"level", "string", "district, street, community or grid", "u.level"},
	{"parent_code", "string", "code of the parent unit", "u.parent_code"},
	{"kind", "string", "街道/镇/乡, 社区/村 …", "u.kind"},
	{"households", "integer", "households (from attributes, points, or the sum of children: see counts_method)", "coalesce(r.households, u.households)"},
	{"population", "integer", "population (see counts_method)", "coalesce(r.population, u.population)"},
	{"counts_method", "string", "where the counts come from: attribute, points, sum of communities, sum of streets", "r.counts_method"},
	{"area_km2", "number", "geodesic area on the WGS84 ellipsoid, km²", "u.area_m2 / 1e6"},
	{"density", "number", "population per km²", "r.density"},
	{"household_density", "number", "households per km²", "r.household_density"},
	{"ratio_to_normal", "number", "households over the profile's normal community size", "r.ratio_to_normal"},
	{"status", "string", "undersized, normal, oversized or unknown under the profile", "coalesce(r.status, 'unknown')"},
	{"reasons", "array", "why the status (e.g. \"households 3523 > 3000\")", "coalesce(r.reasons, '{}')"},
	{"staff_min", "integer", "workers needed (community workers; grid workers for a grid), low end", "r.staff_min"},
	{"staff_max", "integer", "workers needed (community workers; grid workers for a grid), high end", "r.staff_max"},
	{"outside_share", "number", "share of the area outside the parent unit", "r.outside_share"},
	{"provisional", "boolean", "the code is provisional", "u.provisional"},
	{"valid_from", "date", "first day this version is valid", "u.valid_from"},
	{"valid_to", "date", "first day this version is no longer valid (null = current)", "u.valid_to"},
	{"version_id", "integer", "id of this version (null for a unit a scenario proposes)", "u.version_id"},
	{"proposed", "boolean", "the unit is proposed by the scenario (?scenario=), not a live version", "u.version_id IS NULL"},
}

// unitTileSQL are unitFields in the form live tiles encode them (see
// TileFields), read from the columns stored for tiles: rounding and
// joining each feature on every request cost a tenth of the tile query.
// A live unit is never proposed; NULL keeps the key the layer lists.
var unitTileSQL = map[string]string{
	"area_km2": "u.tile_area_km2",
	"density":  "r.tile_density",
	"reasons":  "coalesce(r.tile_reasons, '')",
	"proposed": "NULL::boolean",
}

func unitLayer(l boundaries.Level, title string) Layer {
	where := ` r ON r.run_id = $1 AND r.code = u.code
			WHERE u.level = '` + string(l) + `' AND ` + store.AsOf("u", 2)
	return Layer{Name: l.Layer(), Title: title, Level: l, Fields: unitFields, ID: "u.code", Geom: "u.geom",
		tileGeom: "u.geom_3857", tileSQL: unitTileSQL,
		Description: title + " valid on the requested day (or at any time in a datetime interval: every version once), with the analysis under the requested profile",
		from:        `units u LEFT JOIN analysis_units` + where,
		// The run's analysis is of the versions valid on its day (the
		// interval's end): another version of the code gets none rather
		// than its successor's status.
		during: `units u LEFT JOIN analysis_units r ON r.run_id = $1 AND r.code = u.code
				AND ` + store.AsOfExpr("u", "(SELECT at FROM analysis_runs WHERE id = $1)") + `
			WHERE u.level = '` + string(l) + `' AND daterange(u.valid_from, u.valid_to) && $2::text::daterange`,
		// The run names its scenario, so the clause takes the same two
		// parameters and every caller's own numbering still starts at $3.
		scenario: `(` + scenario.UnitsSQL("(SELECT scenario_id FROM analysis_runs WHERE id = $1)", "$2") + `) u
			LEFT JOIN analysis_units` + where}
}

// All is the registry of servable layers.
var All = []Layer{
	unitLayer(boundaries.District, "Districts (区)"),
	unitLayer(boundaries.Street, "Streets (街道/乡镇)"),
	unitLayer(boundaries.Community, "Communities (社区/村)"),
	unitLayer(boundaries.Grid, "Grids (网格)"),
	{Name: "zones", Title: "Boundary problems", Description: "crosses_parent, overlap, gap, noncontiguous and orphan zones found by the analysis",
		ID: "z.id", Geom: "z.geom",
		Fields: []Field{
			{"id", "string", "stable zone id: kind, codes and part", "z.id"},
			{"kind", "string", "crosses_parent, overlap, gap, noncontiguous or orphan", "z.kind"},
			{"level", "string", "level of the units concerned", "z.level"},
			{"codes", "array", "codes of the units concerned", "z.codes"},
			{"part", "integer", "part number for gaps and non-contiguous pieces", "z.part"},
			{"area_m2", "number", "geodesic area, m²", "z.area_m2"},
			{"households", "integer", "households of building points inside (when points are loaded)", "z.households"},
			{"population", "integer", "population of building points inside", "z.population"},
		},
		from:     `zones z WHERE z.run_id = $1 AND $2::date IS NOT NULL`,
		scenario: `zones z WHERE z.run_id = $1 AND $2::date IS NOT NULL`,
		// Zones have no versions: an interval's are its end day's.
		during: `zones z WHERE z.run_id = $1 AND $2::text IS NOT NULL`},
	// Barriers have no versions and no analysis: the clauses only name
	// the run and day so every caller's parameters keep their numbers.
	{Name: "barriers", Title: "Barriers (roads, rivers, railways, walls)",
		Description: "the lines blocks are cut by, loaded with jiedao import-barriers: the same for every day, scenario and profile",
		ID:          "b.id", Geom: "b.geom", tileGeom: "b.geom_3857",
		Fields: []Field{
			{"id", "integer", "barrier id", "b.id"},
			{"class", "string", "trunk, primary, secondary, residential, alley, river, rail or wall", "b.class"},
			{"name", "string", "name (when the file gives one)", "b.name"},
		},
		from:     `barriers b WHERE $1::bigint IS NOT NULL AND $2::date IS NOT NULL`,
		scenario: `barriers b WHERE $1::bigint IS NOT NULL AND $2::date IS NOT NULL`,
		during:   `barriers b WHERE $1::bigint IS NOT NULL AND $2::text IS NOT NULL`},
}

// ByName finds a layer of the registry.
func ByName(name string) (*Layer, bool) {
	for i := range All {
		if All[i].Name == name {
			return &All[i], true
		}
	}
	return nil, false
}

// Field finds a field of the layer.
func (l *Layer) Field(name string) (Field, bool) {
	for _, f := range l.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// From is the layer's FROM … WHERE clause. It takes two parameters: $1 the
// analysis run id (see Reader.Run) and $2 the as-of date; callers number
// their own parameters from $3 and add conditions with AND. With scenario,
// the run must be a scenario's and the units are the live ones with the
// scenario applied.
func (l *Layer) From(scenario bool) string {
	if scenario {
		return l.scenario
	}
	return l.from
}

// Reader reads the layers of a store, finding (or making) the analysis
// run each read needs.
type Reader struct {
	st       *store.Store
	runs     *analysis.Runs
	features *featureCache // encoded items, see featurecache.go
}

// NewReader returns the layer reader of a store and its runs.
func NewReader(st *store.Store, runs *analysis.Runs) *Reader {
	return &Reader{st: st, runs: runs, features: newFeatureCache(featureCacheMB())}
}

// Run is the analysis run of the live boundaries (scenario 0) or of a
// scenario's on a day under a profile; an unknown scenario is ErrNotFound.
func (r *Reader) Run(ctx context.Context, p *analysis.Profile, at time.Time, scenarioID int64) (int64, error) {
	b := analysis.Live
	if scenarioID != 0 {
		b = scenario.Boundaries(r.st, scenarioID)
	}
	return r.runs.Ensure(ctx, p, at, b)
}

// Analysis is the stored analysis of the live boundaries or a scenario's.
func (r *Reader) Analysis(ctx context.Context, p *analysis.Profile, at time.Time, scenarioID int64) (*analysis.Analysis, error) {
	b := analysis.Live
	if scenarioID != 0 {
		b = scenario.Boundaries(r.st, scenarioID)
	}
	return r.runs.Current(ctx, p, at, b)
}
