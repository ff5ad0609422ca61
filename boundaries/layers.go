package boundaries

import (
	"context"
	"fmt"
	"time"
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
	Level       Level // "" for zones
	Description string
	Fields      []Field
	ID          string // SQL of the stable feature id
	Geom        string // SQL of the geometry (EPSG:4326)
	from        string // FROM/WHERE clause; $1 = run id, $2 = as-of date
	scenario    string // the same over a scenario run's boundaries
}

var unitFields = []Field{
	{"code", "string", "unit code (9 digits for a street, 12 for a community in China; provisional codes start with P)", "u.code"},
	{"name", "string", "name", "u.name"},
	{"level", "string", "district, street or community", "u.level"},
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
	{"staff_min", "integer", "community workers needed, low end", "r.staff_min"},
	{"staff_max", "integer", "community workers needed, high end", "r.staff_max"},
	{"outside_share", "number", "share of the area outside the parent unit", "r.outside_share"},
	{"provisional", "boolean", "the code is provisional", "u.provisional"},
	{"valid_from", "date", "first day this version is valid", "u.valid_from"},
	{"valid_to", "date", "first day this version is no longer valid (null = current)", "u.valid_to"},
	{"version_id", "integer", "id of this version (null for a unit a scenario proposes)", "u.version_id"},
	{"proposed", "boolean", "the unit is proposed by the scenario (?scenario=), not a live version", "u.version_id IS NULL"},
}

func unitLayer(l Level, title string) Layer {
	where := ` r ON r.run_id = $1 AND r.code = u.code
			WHERE u.level = '` + string(l) + `' AND ` + asOf("u", 2)
	return Layer{Name: l.Layer(), Title: title, Level: l, Fields: unitFields, ID: "u.code", Geom: "u.geom",
		Description: title + " valid on the requested day, with the analysis under the requested profile",
		from:        `units u LEFT JOIN analysis_units` + where,
		// The run names its scenario, so the clause takes the same two
		// parameters and every caller's own numbering still starts at $3.
		scenario: `(` + scenarioUnits("(SELECT scenario_id FROM analysis_runs WHERE id = $1)", "$2") + `) u
			LEFT JOIN analysis_units` + where}
}

// Layers is the registry of servable layers.
var Layers = []Layer{
	unitLayer(District, "Districts (区)"),
	unitLayer(Street, "Streets (街道/乡镇)"),
	unitLayer(Community, "Communities (社区/村)"),
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
		scenario: `zones z WHERE z.run_id = $1 AND $2::date IS NOT NULL`},
}

type runKey struct {
	profile     string
	at          time.Time
	dataVersion int64
	scenario    int64
}

// LayerByName finds a layer of the registry.
func LayerByName(name string) (*Layer, bool) {
	for i := range Layers {
		if Layers[i].Name == name {
			return &Layers[i], true
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
// analysis run id (see EnsureAnalysis) and $2 the as-of date; callers
// number their own parameters from $3 and add conditions with AND. With
// scenario, the run must be a scenario's (EnsureScenarioAnalysis) and the
// units are the live ones with the scenario applied.
func (l *Layer) From(scenario bool) string {
	if scenario {
		return l.scenario
	}
	return l.from
}

// EnsureAnalysis returns the run analysing the units valid on a day under
// a profile, running the analysis if the units changed since the last run.
// Tiles, OGC API, downloads and the API all read statuses through it.
func (s *Store) EnsureAnalysis(ctx context.Context, p *Profile, at time.Time) (int64, error) {
	return s.EnsureScenarioAnalysis(ctx, p, at, 0)
}

// EnsureScenarioAnalysis is EnsureAnalysis for the boundaries of a
// scenario (0: the live ones). An unknown scenario is ErrNotFound.
func (s *Store) EnsureScenarioAnalysis(ctx context.Context, p *Profile, at time.Time, scenario int64) (int64, error) {
	if at.IsZero() {
		at = Today()
	}
	// Hot paths (tile misses, API reads) find the run in memory: the data
	// version moves on every write, so a run cached under it is current.
	dv, err := s.CurrentDataVersion(ctx)
	if err != nil {
		return 0, err
	}
	key := runKey{p.hash, at, dv, scenario}
	if id, ok := s.runs.Load(key); ok {
		return id.(int64), nil
	}
	find := func() (int64, error) {
		var id int64
		err := s.Pool.QueryRow(ctx, `SELECT coalesce((SELECT r.id FROM analysis_runs r, meta m
			WHERE r.profile_hash = $1 AND r.at = $2 AND r.units_version = m.units_version AND r.seconds IS NOT NULL
			  AND r.scenario_id IS NOT DISTINCT FROM nullif($3::bigint, 0)
			ORDER BY r.id DESC LIMIT 1), 0)`, p.hash, at, scenario).Scan(&id)
		if err != nil {
			return 0, fmt.Errorf("find analysis run: %w", err)
		}
		return id, nil
	}
	id, err := find()
	if err != nil || id != 0 {
		if id != 0 {
			s.runs.Store(key, id)
		}
		return id, err
	}
	// One analysis at a time per database: concurrent requests wait for
	// the first and then find its run.
	s.analyzeMu.Lock()
	defer s.analyzeMu.Unlock()
	if id, err := find(); err != nil || id != 0 {
		return id, err
	}
	if scenario != 0 {
		if _, err := s.Scenario(ctx, scenario); err != nil {
			return 0, err
		}
	}
	a, err := s.analyze(ctx, p, at, scenario)
	if err != nil {
		return 0, err
	}
	return a.RunID, nil
}
