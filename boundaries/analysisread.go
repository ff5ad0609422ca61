package boundaries

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CurrentAnalysis returns the analysis of the units valid on a day under a
// profile, from the stored run when the units have not changed since; with
// a scenario (not 0), of the units with the scenario applied.
func (s *Store) CurrentAnalysis(ctx context.Context, p *Profile, at time.Time, scenario int64) (*Analysis, error) {
	id, err := s.EnsureScenarioAnalysis(ctx, p, at, scenario)
	if err != nil {
		return nil, err
	}
	return s.LoadAnalysis(ctx, id)
}

// LoadAnalysis reads a stored run.
func (s *Store) LoadAnalysis(ctx context.Context, run int64) (*Analysis, error) {
	a := &Analysis{RunID: run, Units: []UnitResult{}, Zones: []Zone{}}
	var at time.Time
	var sum []byte
	err := s.Pool.QueryRow(ctx, `SELECT profile, at, generated_at, coalesce(seconds, 0), summary, coalesce(scenario_id, 0)
		FROM analysis_runs WHERE id = $1`, run).Scan(&a.Profile, &at, &a.GeneratedAt, &a.Seconds, &sum, &a.Scenario)
	if err == pgx.ErrNoRows {
		return nil, fmt.Errorf("analysis run %d: %w", run, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("analysis run %d: %w", run, err)
	}
	a.At = at.Format("2006-01-02")
	if err := json.Unmarshal(sum, &a.Summary); err != nil {
		return nil, fmt.Errorf("analysis run %d summary: %w", run, err)
	}
	// Names and parents come from the boundaries analysed.
	src, args := "units", []any{run, at}
	if a.Scenario != 0 {
		src, args = "("+scenarioUnits("$3::bigint", "$2::date")+")", append(args, a.Scenario)
	}
	rows, err := s.Pool.Query(ctx, `SELECT r.code, u.name, r.level, u.parent_code, r.households, r.population, r.counts_method,
			r.area_km2, r.density, r.household_density, r.ratio_to_normal, r.status, r.reasons, r.staff_min::bigint, r.staff_max::bigint, r.outside_share
		FROM analysis_units r JOIN analysis_runs ar ON ar.id = r.run_id
		JOIN `+src+` u ON u.code = r.code AND `+asOf("u", 2)+`
		WHERE r.run_id = $1
		ORDER BY array_position(ARRAY['district','street','community'], r.level), r.code`, args...)
	if err != nil {
		return nil, fmt.Errorf("analysis run %d units: %w", run, err)
	}
	defer rows.Close()
	for rows.Next() {
		var u UnitResult
		var lvl string
		if err := rows.Scan(&u.Code, &u.Name, &lvl, &u.ParentCode, &u.Households, &u.Population, &u.CountsMethod, &u.AreaKM2,
			&u.Density, &u.HouseholdDensity, &u.RatioToNormal, &u.Status, &u.Reasons, &u.StaffMin, &u.StaffMax, &u.OutsideShare); err != nil {
			return nil, fmt.Errorf("analysis run %d units: %w", run, err)
		}
		u.Level = Level(lvl)
		a.Units = append(a.Units, u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	zrows, err := s.Pool.Query(ctx, `SELECT id, kind, level, codes, part, area_m2, households, population FROM zones
		WHERE run_id = $1 ORDER BY kind, codes, part`, run)
	if err != nil {
		return nil, fmt.Errorf("analysis run %d zones: %w", run, err)
	}
	defer zrows.Close()
	for zrows.Next() {
		var z Zone
		var lvl string
		if err := zrows.Scan(&z.ID, &z.Kind, &lvl, &z.Codes, &z.Part, &z.AreaM2, &z.Households, &z.Population); err != nil {
			return nil, fmt.Errorf("analysis run %d zones: %w", run, err)
		}
		z.Level = Level(lvl)
		a.Zones = append(a.Zones, z)
	}
	return a, zrows.Err()
}

// ZonesGeoJSON streams the zones of a run as a GeoJSON FeatureCollection.
func (s *Store) ZonesGeoJSON(ctx context.Context, run int64, write func([]byte) error) (int, error) {
	rows, err := s.Pool.Query(ctx, `SELECT json_build_object('type', 'Feature', 'id', z.id,
			'geometry', ST_AsGeoJSON(z.geom, 7)::json,
			'properties', json_build_object('id', z.id, 'kind', z.kind, 'level', z.level, 'codes', z.codes, 'part', z.part,
				'area_m2', round(z.area_m2::numeric, 1), 'households', z.households, 'population', z.population))::text
		FROM zones z WHERE z.run_id = $1 ORDER BY z.kind, z.codes, z.part`, run)
	if err != nil {
		return 0, fmt.Errorf("zones of run %d: %w", run, err)
	}
	defer rows.Close()
	if err := write([]byte(`{"type":"FeatureCollection","features":[`)); err != nil {
		return 0, err
	}
	n := 0
	for rows.Next() {
		var f []byte
		if err := rows.Scan(&f); err != nil {
			return n, err
		}
		sep := []byte(",\n")
		if n == 0 {
			sep = []byte("\n")
		}
		if err := write(append(sep, f...)); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, write([]byte("\n]}\n"))
}
