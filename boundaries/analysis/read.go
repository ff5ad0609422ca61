package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// Load reads a stored run of the boundaries b.
func Load(ctx context.Context, st *store.Store, run int64, b Boundaries) (*Analysis, error) {
	a := &Analysis{RunID: run, Units: []UnitResult{}, Zones: []Zone{}}
	var at time.Time
	var sum []byte
	err := st.Reader().QueryRow(ctx, `SELECT profile, at, generated_at, coalesce(seconds, 0), summary, coalesce(scenario_id, 0)
		FROM analysis_runs WHERE id = $1`, run).Scan(&a.Profile, &at, &a.GeneratedAt, &a.Seconds, &sum, &a.Scenario)
	if err == pgx.ErrNoRows {
		return nil, fmt.Errorf("analysis run %d: %w", run, boundaries.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("analysis run %d: %w", run, err)
	}
	a.At = at.Format("2006-01-02")
	if err := json.Unmarshal(sum, &a.Summary); err != nil {
		return nil, fmt.Errorf("analysis run %d summary: %w", run, err)
	}
	// Names and parents come from the boundaries analysed.
	if a.Scenario != b.Scenario {
		return nil, fmt.Errorf("analysis run %d is of scenario %d, not %s", run, a.Scenario, b)
	}
	args := []any{run, at}
	if b.Units != nil {
		args = append(args, b.Scenario)
	}
	rows, err := st.Reader().Query(ctx, `SELECT r.code, u.name, r.level, u.parent_code, r.households, r.population, r.counts_method,
			r.area_km2, r.density, r.household_density, r.ratio_to_normal, r.status, r.reasons, r.staff_min::bigint, r.staff_max::bigint, r.outside_share
		FROM analysis_units r JOIN analysis_runs ar ON ar.id = r.run_id
		JOIN `+b.from("$3::bigint", "$2::date")+` u ON u.code = r.code AND `+store.AsOf("u", 2)+`
		WHERE r.run_id = $1
		ORDER BY `+store.LevelOrder("r")+`, r.code`, args...)
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
		u.Level = boundaries.Level(lvl)
		a.Units = append(a.Units, u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	zs, err := zonesOf(ctx, st.Reader(), run)
	if err != nil {
		return nil, err
	}
	a.Zones = append(a.Zones, zs...)
	return a, nil
}
