package boundaries

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// UnitResult is one unit's measures and verdict in an analysis.
type UnitResult struct {
	Code             string   `json:"code"`
	Name             string   `json:"name"`
	Level            Level    `json:"level"`
	ParentCode       *string  `json:"parent_code"`
	Households       *int64   `json:"households"`
	Population       *int64   `json:"population"`
	CountsMethod     *string  `json:"counts_method"`
	AreaKM2          float64  `json:"area_km2"`
	Density          *float64 `json:"density"`
	HouseholdDensity *float64 `json:"household_density"`
	RatioToNormal    *float64 `json:"ratio_to_normal"`
	Status           string   `json:"status"`
	Reasons          []string `json:"reasons"`
	StaffMin         *int64   `json:"staff_min"`
	StaffMax         *int64   `json:"staff_max"`
	OutsideShare     *float64 `json:"outside_share"`
}

// Zone is a boundary problem with its geometry stored in PostGIS.
type Zone struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	Level      Level    `json:"level"`
	Codes      []string `json:"codes"`
	Part       int      `json:"part,omitempty"`
	AreaM2     float64  `json:"area_m2"`
	Households *int64   `json:"households"`
	Population *int64   `json:"population"`
}

// Analysis is the result of measuring every unit against a profile.
type Analysis struct {
	RunID       int64     `json:"run_id"`
	Profile     string    `json:"profile"`
	At          string    `json:"at"`
	GeneratedAt time.Time `json:"generated_at"`
	Seconds     float64   `json:"seconds"`
	// Scenario is the scenario whose boundaries were analysed (0: live).
	Scenario int64        `json:"scenario,omitempty"`
	Summary  Summary      `json:"summary"`
	Units    []UnitResult `json:"units"`
	Zones    []Zone       `json:"zones"`
}

// Summary counts statuses and zones; slivers are zones under the profile's
// tolerance, counted but not listed.
type Summary struct {
	Status  map[string]map[string]int `json:"status"` // level → status → count
	Zones   map[string]int            `json:"zones"`
	Slivers map[string]int            `json:"slivers"`
	Points  bool                      `json:"points"`
}

// Analyze measures the units valid on a day against a profile, finds the
// zones, stores the run and returns it. The geometry work is set-based SQL
// in PostGIS using the GiST index; Go only applies the profile's rules.
func (s *Store) Analyze(ctx context.Context, p *Profile, at time.Time) (*Analysis, error) {
	return s.analyze(ctx, p, at, 0)
}

// analyze is Analyze over the live units (scenario 0) or over the live
// units with a scenario applied: a scenario run is stored like a live one,
// with its scenario_id, so layers can serve it.
func (s *Store) analyze(ctx context.Context, p *Profile, at time.Time, scenario int64) (*Analysis, error) {
	start := time.Now()
	if at.IsZero() {
		at = Today()
	}
	a := &Analysis{Profile: p.Name, At: at.Format("2006-01-02"), Scenario: scenario, Units: []UnitResult{}, Zones: []Zone{},
		Summary: Summary{Status: map[string]map[string]int{}, Zones: map[string]int{}, Slivers: map[string]int{}}}
	what := "live"
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		src := "units"
		if scenario != 0 {
			what = fmt.Sprintf("scenario %d", scenario)
			if err := scenarioTable(ctx, tx, scenario, at); err != nil {
				return err
			}
			src = "scen_units"
		}
		var unitsVersion int64
		if err := tx.QueryRow(ctx, `SELECT units_version FROM meta`).Scan(&unitsVersion); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO analysis_runs (profile, profile_hash, at, units_version, scenario_id)
			VALUES ($1, $2, $3, $4, nullif($5::bigint, 0)) RETURNING id, generated_at`, p.Name, p.hash, at, unitsVersion, scenario).
			Scan(&a.RunID, &a.GeneratedAt); err != nil {
			return err
		}
		if err := analyzeSQL(ctx, tx, a.RunID, at, p, src); err != nil {
			return err
		}
		if err := s.judge(ctx, tx, a, p); err != nil {
			return err
		}
		if err := readZones(ctx, tx, a); err != nil {
			return err
		}
		a.Seconds = time.Since(start).Seconds()
		sum, _ := json.Marshal(a.Summary)
		if _, err := tx.Exec(ctx, `UPDATE analysis_runs SET seconds=$2, summary=$3 WHERE id=$1`, a.RunID, a.Seconds, sum); err != nil {
			return err
		}
		if scenario != 0 {
			// Nothing live changed: caches of the live map stay valid
			// (scenario tiles are keyed by their scenario).
			return nil
		}
		// Tiles and caches showing statuses must see the new run.
		_, err := tx.Exec(ctx, `UPDATE meta SET data_version = data_version + 1`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("analyze (%s, %s, %s): %w", p.Name, a.At, what, err)
	}
	if scenario == 0 {
		s.syncVersion(ctx)
	}
	slog.Info("analysis", "profile", p.Name, "at", a.At, "boundaries", what, "units", len(a.Units), "zones", len(a.Zones), "seconds", a.Seconds)
	return a, nil
}

// analyzeSQL computes measures and zones for a run. Zones are searched
// only where they can be: a parent whose children's geodesic areas sum to
// its own and whose children all lie within its bounding box has no gap,
// overlap or crossing child (except a gap and an overlap of exactly equal
// area cancelling out), so the expensive overlays (union, difference,
// relate) run for the few parents that fail that test and for units with no
// parent to compare against.
//
// src is the table of unit versions to analyse: "units", or a plan's
// working table with the same columns, so proposals are judged by exactly
// the same rules.
func analyzeSQL(ctx context.Context, tx pgx.Tx, run int64, at time.Time, p *Profile, src string) error {
	steps := []struct {
		name string
		sql  string
		args []any
	}{
		{"current units", `CREATE TEMP TABLE au ON COMMIT DROP AS
			SELECT u.code, u.name, u.level, u.parent_code, u.households::bigint AS h, u.population::bigint AS p, u.geom, u.area_m2,
				CASE u.level WHEN 'community' THEN 'street' WHEN 'street' THEN 'district' END AS parent_level
			FROM ` + pgx.Identifier{src}.Sanitize() + ` u WHERE ` + asOf("u", 1), []any{at}},
		{"index", `CREATE INDEX ON au USING gist (geom); CREATE INDEX ON au (code); CREATE INDEX ON au (parent_code); ANALYZE au`, nil},
		// A point on a shared edge belongs to the unit with the smallest
		// code, so it counts once.
		// Points are joined unit by unit (LATERAL), so each polygon is
		// prepared once for all its points, and only to communities and to
		// streets without communities (other streets sum their
		// communities). A point on a shared edge goes to the smallest code.
		{"points", `CREATE TEMP TABLE pa ON COMMIT DROP AS
			SELECT DISTINCT ON (x.id, u.level) x.id, u.code, x.h, x.p
			FROM au u CROSS JOIN LATERAL (
				SELECT pt.id, pt.households AS h, pt.population AS p FROM points pt WHERE ST_Intersects(u.geom, pt.geom)) x
			WHERE u.level = 'community'
			   OR u.level = 'street' AND NOT EXISTS (SELECT 1 FROM au c WHERE c.parent_code = u.code AND c.level = 'community')
			ORDER BY x.id, u.level, u.code;
			CREATE INDEX ON pa (code);
			CREATE TEMP TABLE pc ON COMMIT DROP AS SELECT code, sum(h)::bigint AS h, sum(p)::bigint AS p FROM pa GROUP BY code`, nil},
		// Areal interpolation from count areas: each area's counts are
		// shared among the units it overlaps, by the households of the
		// building points in each part when the area holds any, else by
		// area.
		{"interpolation", `CREATE TEMP TABLE ic ON COMMIT DROP AS
			SELECT code, round(sum(h * w))::bigint AS h, round(sum(p * w))::bigint AS p, bool_or(by_h) AS by_h FROM (
				SELECT u.code, a.households AS h, a.population AS p, coalesce(ap.ph, 0) > 0 AS by_h,
					CASE WHEN coalesce(ap.ph, 0) > 0 THEN coalesce(up.ph, 0)::float8 / ap.ph
					     ELSE ST_Area(ST_Intersection(u.geom, a.geom)::geography) / nullif(a.area_m2, 0) END AS w
				FROM au u JOIN count_areas a ON u.geom && a.geom AND ST_Intersects(u.geom, a.geom)
				LEFT JOIN LATERAL (SELECT sum(pt.households) AS ph FROM points pt WHERE ST_Intersects(a.geom, pt.geom)) ap ON true
				LEFT JOIN LATERAL (SELECT sum(pa.h) AS ph FROM pa JOIN points pt ON pt.id = pa.id
					WHERE pa.code = u.code AND ST_Intersects(a.geom, pt.geom)) up ON true
				WHERE u.level = 'community'
				   OR u.level = 'street' AND NOT EXISTS (SELECT 1 FROM au c WHERE c.parent_code = u.code AND c.level = 'community')) x
			GROUP BY code`, nil},
		// Each count comes from the unit's attributes, else its points,
		// else interpolation; counts_method says which.
		{"counts", `CREATE TEMP TABLE cnt ON COMMIT DROP AS
			SELECT code, level, parent_code, h, p,
				CASE WHEN hm IS NOT DISTINCT FROM pm THEN hm
				     WHEN pm IS NULL THEN hm || ' (households)'
				     WHEN hm IS NULL THEN pm || ' (population)'
				     ELSE hm || ' (households), ' || pm || ' (population)' END AS method
			FROM (SELECT u.code, u.level, u.parent_code,
					coalesce(u.h, pc.h, ic.h) AS h, coalesce(u.p, pc.p, ic.p) AS p,
					CASE WHEN u.h IS NOT NULL THEN 'attribute' WHEN pc.h IS NOT NULL THEN 'points'
					     WHEN ic.h IS NOT NULL THEN CASE WHEN ic.by_h THEN 'interpolated by households' ELSE 'interpolated by area' END END AS hm,
					CASE WHEN u.p IS NOT NULL THEN 'attribute' WHEN pc.p IS NOT NULL THEN 'points'
					     WHEN ic.p IS NOT NULL THEN CASE WHEN ic.by_h THEN 'interpolated by households' ELSE 'interpolated by area' END END AS pm
				FROM au u LEFT JOIN pc USING (code) LEFT JOIN ic USING (code)) x`, nil},
		// Streets without their own counts take the sum of their
		// communities; districts the sum of their streets.
		{"street sums", `UPDATE cnt s SET h = x.h, p = x.p, method = 'sum of communities' FROM (
				SELECT parent_code, sum(h)::bigint AS h, sum(p)::bigint AS p FROM cnt WHERE level = 'community' GROUP BY parent_code) x
			WHERE s.level = 'street' AND s.method IS NULL AND x.parent_code = s.code AND (x.h IS NOT NULL OR x.p IS NOT NULL)`, nil},
		{"district sums", `UPDATE cnt d SET h = x.h, p = x.p, method = 'sum of streets' FROM (
				SELECT parent_code, sum(h)::bigint AS h, sum(p)::bigint AS p FROM cnt WHERE level = 'street' GROUP BY parent_code) x
			WHERE d.level = 'district' AND d.method IS NULL AND x.parent_code = d.code AND (x.h IS NOT NULL OR x.p IS NOT NULL)`, nil},
		// Parents whose children do not add up exactly (1 m² tolerance on
		// the ellipsoidal areas) or poke out of the parent's bounding box.
		{"suspect parents", `CREATE TEMP TABLE suspect ON COMMIT DROP AS
			SELECT p.code, p.level FROM au p JOIN au c ON c.parent_code = p.code AND c.parent_level = p.level
			GROUP BY p.code, p.level, p.area_m2, p.geom
			HAVING abs(sum(c.area_m2) - p.area_m2) > 1 OR bool_or(NOT (p.geom ~ c.geom)) OR bool_or(ST_NumGeometries(c.geom) > 1)`, nil},
		// Units to compare pairwise: children of suspect parents, and units
		// with no loaded parent (the top loaded level, orphans).
		{"suspect units", `CREATE TEMP TABLE cand ON COMMIT DROP AS
			SELECT c.code FROM au c JOIN suspect s ON s.code = c.parent_code AND s.level = c.parent_level
			UNION SELECT u.code FROM au u WHERE NOT EXISTS (SELECT 1 FROM au p WHERE p.code = u.parent_code AND p.level = u.parent_level);
			CREATE INDEX ON cand (code); ANALYZE cand`, nil},
		{"zones: crosses_parent", `CREATE TEMP TABLE zraw ON COMMIT DROP AS
			SELECT 'crosses_parent'::text AS kind, c.level, ARRAY[c.code] AS codes, 0 AS part,
				ST_Multi(ST_CollectionExtract(ST_Difference(c.geom, p.geom), 3)) AS geom, c.area_m2 AS unit_area
			FROM suspect s JOIN au p ON p.code = s.code AND p.level = s.level
			JOIN au c ON c.parent_code = p.code AND c.parent_level = p.level
			WHERE NOT ST_Covers(p.geom, c.geom)`, nil},
		// Driven from the suspects, each pair once.
		{"zones: overlap", `INSERT INTO zraw
			SELECT 'overlap', a.level, ARRAY[a.code, b.code], 0, ST_Multi(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3)), NULL
			FROM (SELECT DISTINCT least(a.code, b.code) AS ca, greatest(a.code, b.code) AS cb
				FROM cand x JOIN au a ON a.code = x.code
				JOIN au b ON b.level = a.level AND b.code <> a.code AND a.geom && b.geom) pairs
			JOIN au a ON a.code = pairs.ca JOIN au b ON b.code = pairs.cb
			WHERE ST_Relate(a.geom, b.geom, '2********')`, nil},
		// A street (district) is checked for gaps only when some of its
		// communities (streets) are loaded.
		{"zones: gap", `INSERT INTO zraw
			SELECT 'gap', s.level, ARRAY[s.code], coalesce((d).path[1], 1), ST_Multi((d).geom), NULL FROM (
				SELECT s.code, s.level, ST_Dump(ST_CollectionExtract(ST_Difference(s.geom, ST_Union(c.geom)), 3)) AS d
				FROM suspect x JOIN au s ON s.code = x.code AND s.level = x.level
				JOIN au c ON c.parent_code = s.code AND c.parent_level = s.level
				GROUP BY s.code, s.level, s.geom) s`, nil},
		// Parts that touch (even at a point) are one piece; a unit in more
		// than one piece is non-contiguous and each piece is listed.
		{"zones: noncontiguous", `INSERT INTO zraw
			SELECT 'noncontiguous', level, ARRAY[code], cid + 1, ST_Multi(ST_Union(g)), NULL FROM (
				SELECT code, level, g, ST_ClusterDBSCAN(g, 0, 1) OVER (PARTITION BY code) AS cid FROM (
					SELECT code, level, (ST_Dump(geom)).geom AS g FROM au WHERE ST_NumGeometries(geom) > 1) parts) c
			GROUP BY code, level, cid`, nil},
		{"zones: orphan", `INSERT INTO zraw
			SELECT 'orphan', u.level, ARRAY[u.code], 0, u.geom, NULL FROM au u
			WHERE u.parent_level IS NOT NULL
			  AND u.parent_level IN (SELECT DISTINCT level FROM au)
			  AND NOT EXISTS (SELECT 1 FROM au p WHERE p.code = u.parent_code AND p.level = u.parent_level)`, nil},
		{"zones: area", `ALTER TABLE zraw ADD COLUMN area_m2 double precision;
			UPDATE zraw SET area_m2 = coalesce(ST_Area(geom::geography), 0)`, nil},
		// Non-contiguous: keep only units that really fall into several pieces.
		{"zones: single pieces", `DELETE FROM zraw z WHERE kind = 'noncontiguous'
			AND (SELECT count(*) FROM zraw y WHERE y.kind = 'noncontiguous' AND y.codes = z.codes) < 2`, nil},
		{"zones: store", `INSERT INTO zones (run_id, id, kind, level, codes, part, area_m2, households, population, geom)
			SELECT $1, z.kind || ':' || array_to_string(z.codes, '+') || CASE WHEN z.part > 0 THEN ':' || z.part ELSE '' END,
				z.kind, z.level, z.codes, z.part, z.area_m2, pts.h, pts.p, z.geom
			FROM zraw z LEFT JOIN LATERAL (
				SELECT sum(pt.households)::bigint AS h, sum(pt.population)::bigint AS p FROM points pt WHERE ST_Intersects(z.geom, pt.geom)) pts ON true
			WHERE z.area_m2 >= $2 AND (z.kind <> 'crosses_parent' OR z.area_m2 >= $3 * z.unit_area)`, []any{run, p.minZoneArea(), p.minOutsideShare()}},
	}
	for _, st := range steps {
		t0 := time.Now()
		if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		slog.Debug("analysis step", "step", st.name, "ms", time.Since(t0).Milliseconds())
	}
	return nil
}

// judge reads the measures, applies the profile in Go and stores the
// results with one COPY.
func (s *Store) judge(ctx context.Context, tx pgx.Tx, a *Analysis, p *Profile) error {
	rows, err := tx.Query(ctx, `SELECT u.code, u.name, u.level, u.parent_code, c.h, c.p, c.method, u.area_m2 / 1e6,
			c.p / nullif(u.area_m2 / 1e6, 0), c.h / nullif(u.area_m2 / 1e6, 0),
			CASE WHEN u.parent_level IS NOT NULL THEN coalesce(z.area_m2, 0) / nullif(u.area_m2, 0) END
		FROM au u JOIN cnt c USING (code)
		LEFT JOIN zraw z ON z.kind = 'crosses_parent' AND z.codes[1] = u.code
		ORDER BY array_position(ARRAY['district','street','community'], u.level), u.code`)
	if err != nil {
		return fmt.Errorf("read measures: %w", err)
	}
	for rows.Next() {
		var u UnitResult
		var lvl string
		if err := rows.Scan(&u.Code, &u.Name, &lvl, &u.ParentCode, &u.Households, &u.Population, &u.CountsMethod,
			&u.AreaKM2, &u.Density, &u.HouseholdDensity, &u.OutsideShare); err != nil {
			rows.Close()
			return fmt.Errorf("read measures: %w", err)
		}
		u.Level = Level(lvl)
		parent := ""
		if u.ParentCode != nil {
			parent = *u.ParentCode
		}
		j := p.Judge(Measures{Code: u.Code, Level: u.Level, ParentCode: parent, Households: u.Households, Population: u.Population, AreaKM2: u.AreaKM2})
		u.Status, u.Reasons, u.StaffMin, u.StaffMax, u.RatioToNormal = j.Status, j.Reasons, j.StaffMin, j.StaffMax, j.RatioToNormal
		a.Units = append(a.Units, u)
		if a.Summary.Status[lvl] == nil {
			a.Summary.Status[lvl] = map[string]int{}
		}
		a.Summary.Status[lvl][u.Status]++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read measures: %w", err)
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"analysis_units"}, []string{"run_id", "code", "level", "households", "population",
		"counts_method", "area_km2", "density", "household_density", "ratio_to_normal", "staff_min", "staff_max", "outside_share", "status", "reasons"},
		pgx.CopyFromSlice(len(a.Units), func(i int) ([]any, error) {
			u := a.Units[i]
			return []any{a.RunID, u.Code, string(u.Level), u.Households, u.Population, u.CountsMethod, u.AreaKM2, u.Density,
				u.HouseholdDensity, u.RatioToNormal, u.StaffMin, u.StaffMax, u.OutsideShare, u.Status, u.Reasons}, nil
		}))
	if err != nil {
		return fmt.Errorf("store results: %w", err)
	}
	var pts bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM points)`).Scan(&pts); err != nil {
		return err
	}
	a.Summary.Points = pts
	return nil
}

func readZones(ctx context.Context, tx pgx.Tx, a *Analysis) error {
	rows, err := tx.Query(ctx, `SELECT id, kind, level, codes, part, area_m2, households, population FROM zones WHERE run_id = $1
		ORDER BY kind, codes, part`, a.RunID)
	if err != nil {
		return fmt.Errorf("read zones: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var z Zone
		var lvl string
		if err := rows.Scan(&z.ID, &z.Kind, &lvl, &z.Codes, &z.Part, &z.AreaM2, &z.Households, &z.Population); err != nil {
			return fmt.Errorf("read zones: %w", err)
		}
		z.Level = Level(lvl)
		a.Zones = append(a.Zones, z)
		a.Summary.Zones[z.Kind]++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// Slivers: zones below the tolerance, counted not listed.
	srows, err := tx.Query(ctx, `SELECT kind, count(*) FROM zraw z WHERE area_m2 > 0 AND NOT EXISTS
		(SELECT 1 FROM zones y WHERE y.run_id = $1 AND y.kind = z.kind AND y.codes = z.codes AND y.part = z.part) GROUP BY kind`, a.RunID)
	if err != nil {
		return err
	}
	defer srows.Close()
	for srows.Next() {
		var k string
		var n int
		if err := srows.Scan(&k, &n); err != nil {
			return err
		}
		a.Summary.Slivers[k] = n
	}
	sort.SliceStable(a.Zones, func(i, j int) bool { return a.Zones[i].Kind < a.Zones[j].Kind })
	return srows.Err()
}
