package boundaries

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Scenarios are named sets of proposed community geometries, usually the
// resulting units of a plan. They live in scenario_units and never change
// units until adopted; adoption writes them as new unit versions in one
// transaction, like the API's single-unit writes.

// ScenarioUnit is one proposed community: a changed live one (same code)
// or a new one (a split part's provisional code).
type ScenarioUnit struct {
	Code        string `json:"code"`
	Name        string `json:"name"`
	ParentCode  string `json:"parent_code"`
	Households  *int64 `json:"households"`
	Population  *int64 `json:"population"`
	Provisional bool   `json:"provisional"`
	// BaseVersion is the live version the plan read (nil: a new code, or
	// unknown, when the version current at creation is taken).
	BaseVersion *int64          `json:"base_version_id"`
	Geometry    json.RawMessage `json:"-"` // GeoJSON, WGS84
}

// ScenarioBase is a live community a scenario removes, with the version
// its plan read (nil: the version current when the scenario is made).
type ScenarioBase struct {
	Code        string `json:"code"`
	BaseVersion *int64 `json:"base_version_id"`
}

// Scenario is a stored scenario.
type Scenario struct {
	ID        int64           `json:"id"`
	Name      string          `json:"name"`
	CreatedAt time.Time       `json:"created_at"`
	Profile   string          `json:"profile"`
	Plan      json.RawMessage `json:"plan"`
	AdoptedAt *time.Time      `json:"adopted_at"`
	Approval  *string         `json:"approval"`
	Codes     []string        `json:"codes"`   // units of the scenario
	Removed   []string        `json:"removed"` // live communities it merges away
}

// ErrAdopted is returned when a scenario has already been adopted.
var ErrAdopted = fmt.Errorf("scenario already adopted: %w", ErrConflict)

// PlanScenarioUnits turns a plan's resulting units into scenario units.
func PlanScenarioUnits(pl *Plan) []ScenarioUnit {
	out := make([]ScenarioUnit, 0, len(pl.Units))
	for _, u := range pl.Units {
		out = append(out, ScenarioUnit{Code: u.Code, Name: u.Name, ParentCode: u.Street, Households: u.Households,
			Population: u.Population, Provisional: u.Provisional, BaseVersion: u.BaseVersion, Geometry: u.Geometry})
	}
	return out
}

// PlanMerged lists the communities a plan's merges take away with the
// versions the plan read (plans saved before versions were recorded give
// none, and the scenario takes the current ones).
func PlanMerged(pl *Plan) []ScenarioBase {
	if len(pl.Removed) > 0 {
		return pl.Removed
	}
	var out []ScenarioBase
	for _, c := range mergedCodes(pl) {
		out = append(out, ScenarioBase{Code: c})
	}
	return out
}

// mergedCodes are the sources of a plan's merge operations that are not
// among its resulting units.
func mergedCodes(pl *Plan) []string {
	kept := map[string]bool{}
	for _, u := range pl.Units {
		kept[u.Code] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, op := range pl.Ops {
		if op.Kind != "merge" {
			continue
		}
		for _, c := range op.From {
			if !kept[c] && !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	sort.Strings(out)
	return out
}

// WritePlanGeoJSON writes a plan's resulting units as a GeoJSON
// FeatureCollection (the output of jiedao plan --format geojson, and what
// the API keeps of a plan): each feature's properties are the unit's
// measures with base_version_id, and the foreign member "removed" lists
// the communities its merges take away, so a scenario made of the file
// knows which versions the plan read.
func WritePlanGeoJSON(w io.Writer, pl *Plan) error {
	type feature struct {
		Type       string          `json:"type"`
		Properties map[string]any  `json:"properties"`
		Geometry   json.RawMessage `json:"geometry"`
	}
	fc := struct {
		Type     string         `json:"type"`
		Features []feature      `json:"features"`
		Removed  []ScenarioBase `json:"removed"`
	}{Type: "FeatureCollection", Features: []feature{}, Removed: PlanMerged(pl)}
	if fc.Removed == nil {
		fc.Removed = []ScenarioBase{}
	}
	for _, u := range pl.Units {
		fc.Features = append(fc.Features, feature{Type: "Feature", Geometry: u.Geometry, Properties: map[string]any{
			"op": u.Op, "code": u.Code, "name": u.Name, "street": u.Street, "provisional": u.Provisional,
			"households": u.Households, "population": u.Population, "deviation": u.Deviation, "area_km2": u.AreaKM2,
			"polsby_popper": u.PolsbyPopper, "hull_ratio": u.HullRatio, "status": u.Status, "reasons": u.Reasons,
			"base_version_id": u.BaseVersion,
		}})
	}
	return json.NewEncoder(w).Encode(fc)
}

// ParsePlanGeoJSON reads the output of `jiedao plan --format geojson`: a
// FeatureCollection whose features carry code, name, street (or
// parent_code), provisional, households, population and base_version_id,
// and the communities the plan removes.
func ParsePlanGeoJSON(b []byte) ([]ScenarioUnit, []ScenarioBase, error) {
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Type       string          `json:"type"`
			Geometry   json.RawMessage `json:"geometry"`
			Properties struct {
				Code        string `json:"code"`
				Name        string `json:"name"`
				Street      string `json:"street"`
				ParentCode  string `json:"parent_code"`
				Provisional bool   `json:"provisional"`
				Households  *int64 `json:"households"`
				Population  *int64 `json:"population"`
				BaseVersion *int64 `json:"base_version_id"`
			} `json:"properties"`
		} `json:"features"`
		Removed []ScenarioBase `json:"removed"`
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		return nil, nil, invalid("plan file is not GeoJSON (want the output of jiedao plan --format geojson): %v", err)
	}
	if fc.Type != "FeatureCollection" {
		return nil, nil, invalid("plan file is a %q, not a FeatureCollection (want the output of jiedao plan --format geojson; the JSON plan carries no geometries)", fc.Type)
	}
	out := make([]ScenarioUnit, 0, len(fc.Features))
	for i, f := range fc.Features {
		p := f.Properties
		if p.Code == "" {
			return nil, nil, invalid("feature %d: no code", i+1)
		}
		if len(f.Geometry) == 0 || string(f.Geometry) == "null" {
			return nil, nil, invalid("feature %d (%s): no geometry", i+1, p.Code)
		}
		parent := p.Street
		if parent == "" {
			parent = p.ParentCode
		}
		out = append(out, ScenarioUnit{Code: p.Code, Name: p.Name, ParentCode: parent, Households: p.Households,
			Population: p.Population, Provisional: p.Provisional, BaseVersion: p.BaseVersion, Geometry: f.Geometry})
	}
	for i, r := range fc.Removed {
		if r.Code == "" {
			return nil, nil, invalid("removed %d: no code", i+1)
		}
	}
	return out, fc.Removed, nil
}

// CreateScenario stores a scenario. removed lists communities known to be
// merged away (from the plan's operations); to them are added the live
// communities of the scenario's streets that are not in the scenario and
// lie at least half under its units, so a scenario made from GeoJSON
// alone (which does not carry the merges) also retires them.
//
// The versions a unit or removal is checked against at adoption are those
// its plan read (BaseVersion), else the ones current now.
func (s *Store) CreateScenario(ctx context.Context, name, profile string, plan any, units []ScenarioUnit, removed []ScenarioBase) (*Scenario, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, invalid("scenario name is required")
	}
	if len(units) == 0 {
		return nil, invalid("scenario %s: the plan changes no unit", name)
	}
	summary, err := json.Marshal(plan)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: plan: %w", name, err)
	}
	if plan == nil {
		summary = []byte("{}")
	}
	var id int64
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO scenarios (name, profile, plan) VALUES ($1, $2, $3) RETURNING id`,
			name, profile, summary).Scan(&id); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23505" {
				return fmt.Errorf("scenario %s: %w", name, ErrDuplicate)
			}
			return fmt.Errorf("scenario %s: %w", name, err)
		}
		batch := &pgx.Batch{}
		for _, u := range units {
			batch.Queue(`INSERT INTO scenario_units (scenario_id, code, name, parent_code, households, population, provisional, geom, base_version_id)
				VALUES ($1, $2, $3, nullif($4, ''), $5, $6, $7,
					ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON($8), 4326)), 3)), $9)`,
				id, u.Code, u.Name, u.ParentCode, u.Households, u.Population, u.Provisional, string(u.Geometry), u.BaseVersion)
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				return invalid("scenario %s: unit: %s", name, pe.Message)
			}
			return fmt.Errorf("scenario %s: units: %w", name, err)
		}
		// A unit the plan emptied is gone, not a unit without area.
		if _, err := tx.Exec(ctx, `WITH e AS (DELETE FROM scenario_units WHERE scenario_id = $1 AND ST_IsEmpty(geom) RETURNING code, base_version_id)
			INSERT INTO scenario_removed (scenario_id, code, base_version_id) SELECT $1, code, base_version_id FROM e`, id); err != nil {
			return fmt.Errorf("scenario %s: empty units: %w", name, err)
		}
		rc := make([]string, len(removed))
		rv := make([]*int64, len(removed))
		for i, r := range removed {
			rc[i], rv[i] = r.Code, r.BaseVersion
		}
		// Kept even when no longer current: adoption then finds the
		// version the plan read gone and refuses.
		if _, err := tx.Exec(ctx, `INSERT INTO scenario_removed (scenario_id, code, base_version_id)
			SELECT $1, r.code, r.v FROM unnest($2::text[], $3::bigint[]) r(code, v)
			WHERE EXISTS (SELECT 1 FROM units u WHERE u.code = r.code AND u.level = 'community')
			ON CONFLICT DO NOTHING`, id, rc, rv); err != nil {
			return fmt.Errorf("scenario %s: removed: %w", name, err)
		}
		// Scenario units do not overlap, so the area a live community has
		// under them is the sum over the units it meets (index joins; the
		// union of thousands of units would be slow to intersect).
		if _, err := tx.Exec(ctx, `ANALYZE scenario_units`); err != nil {
			return fmt.Errorf("scenario %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO scenario_removed (scenario_id, code)
			SELECT $1, u.code FROM units u
			JOIN scenario_units x ON x.scenario_id = $1 AND x.geom && u.geom AND ST_Intersects(x.geom, u.geom)
			WHERE u.level = 'community' AND u.valid_to IS NULL
			  AND u.parent_code IN (SELECT parent_code FROM scenario_units WHERE scenario_id = $1)
			  AND NOT EXISTS (SELECT 1 FROM scenario_units y WHERE y.scenario_id = $1 AND y.code = u.code)
			GROUP BY u.code, u.geom
			HAVING sum(ST_Area(ST_Intersection(u.geom, x.geom))) >= 0.5 * ST_Area(u.geom)
			ON CONFLICT DO NOTHING`, id); err != nil {
			return fmt.Errorf("scenario %s: merged communities: %w", name, err)
		}
		// Where the plan did not say which version it read, the current
		// one: adoption refuses if a unit moves on after this.
		for _, t := range []string{"scenario_units", "scenario_removed"} {
			if _, err := tx.Exec(ctx, `UPDATE `+t+` x SET base_version_id = u.version_id FROM units u
				WHERE x.scenario_id = $1 AND x.base_version_id IS NULL AND u.code = x.code AND u.valid_to IS NULL`, id); err != nil {
				return fmt.Errorf("scenario %s: base versions: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Scenario(ctx, id)
}

// ScenarioID finds a scenario by name.
func (s *Store) ScenarioID(ctx context.Context, name string) (int64, error) {
	var id int64
	err := s.Pool.QueryRow(ctx, `SELECT id FROM scenarios WHERE name = $1`, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("scenario %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("scenario %s: %w", name, err)
	}
	return id, nil
}

// Scenario reads a scenario with the codes it changes and removes.
func (s *Store) Scenario(ctx context.Context, id int64) (*Scenario, error) {
	sc := &Scenario{}
	err := s.Pool.QueryRow(ctx, `SELECT id, name, created_at, profile, plan, adopted_at, approval,
			coalesce((SELECT array_agg(code ORDER BY code) FROM scenario_units WHERE scenario_id = s.id), '{}'),
			coalesce((SELECT array_agg(code ORDER BY code) FROM scenario_removed WHERE scenario_id = s.id), '{}')
		FROM scenarios s WHERE id = $1`, id).Scan(&sc.ID, &sc.Name, &sc.CreatedAt, &sc.Profile, &sc.Plan, &sc.AdoptedAt,
		&sc.Approval, &sc.Codes, &sc.Removed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("scenario %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("scenario %d: %w", id, err)
	}
	return sc, nil
}

// ScenarioInfo is a scenario in a list: what it is and how much it changes.
type ScenarioInfo struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	Profile   string     `json:"profile"`
	AdoptedAt *time.Time `json:"adopted_at"`
	Approval  *string    `json:"approval"`
	Units     int        `json:"units"`   // units it proposes
	Removed   int        `json:"removed"` // live communities it merges away
}

// Scenarios lists the stored scenarios, newest first.
func (s *Store) Scenarios(ctx context.Context) ([]ScenarioInfo, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, name, created_at, profile, adopted_at, approval,
			(SELECT count(*) FROM scenario_units WHERE scenario_id = s.id),
			(SELECT count(*) FROM scenario_removed WHERE scenario_id = s.id)
		FROM scenarios s ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list scenarios: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ScenarioInfo, error) {
		var x ScenarioInfo
		return x, r.Scan(&x.ID, &x.Name, &x.CreatedAt, &x.Profile, &x.AdoptedAt, &x.Approval, &x.Units, &x.Removed)
	})
	if err != nil {
		return nil, fmt.Errorf("list scenarios: %w", err)
	}
	return out, nil
}

// ScenarioCheck is the analysis of one set of boundaries: communities per
// status and zones per kind, city-wide, and each community's measures.
type ScenarioCheck struct {
	Statuses map[string]int          `json:"statuses"`
	Zones    map[string]int          `json:"zones"`
	Units    map[string]ScenarioMeas `json:"-"`
}

// ScenarioMeas is one community's measures in a check.
type ScenarioMeas struct {
	Households *int64  `json:"households"`
	AreaM2     float64 `json:"area_m2"`
	Status     string  `json:"status"`
}

// ScenarioAnalysis compares the live boundaries with the scenario's.
type ScenarioAnalysis struct {
	Scenario string         `json:"scenario"`
	At       string         `json:"at"`
	Profile  string         `json:"profile"`
	Before   *ScenarioCheck `json:"before"`
	After    *ScenarioCheck `json:"after"`
}

// AnalyzeScenario compares the analysis of the live boundaries with that
// of the scenario's: the stored runs the layers read (EnsureScenarioAnalysis
// makes them when missing), so the diff, the map and the API agree.
func (s *Store) AnalyzeScenario(ctx context.Context, id int64, p *Profile, at time.Time) (*ScenarioAnalysis, error) {
	if at.IsZero() {
		at = Today()
	}
	sc, err := s.Scenario(ctx, id)
	if err != nil {
		return nil, err
	}
	before, err := s.CurrentAnalysis(ctx, p, at, 0)
	if err != nil {
		return nil, fmt.Errorf("analyze scenario %s: live: %w", sc.Name, err)
	}
	after, err := s.CurrentAnalysis(ctx, p, at, id)
	if err != nil {
		return nil, fmt.Errorf("analyze scenario %s: %w", sc.Name, err)
	}
	return &ScenarioAnalysis{Scenario: sc.Name, At: at.Format("2006-01-02"), Profile: p.Name,
		Before: scenarioCheckOf(before), After: scenarioCheckOf(after)}, nil
}

// scenarioCheckOf counts an analysis's communities per status and zones
// per kind, and keeps each community's measures.
func scenarioCheckOf(a *Analysis) *ScenarioCheck {
	c := &ScenarioCheck{Statuses: map[string]int{}, Zones: map[string]int{}, Units: map[string]ScenarioMeas{}}
	for _, u := range a.Units {
		if u.Level != Community {
			continue
		}
		c.Statuses[u.Status]++
		c.Units[u.Code] = ScenarioMeas{Households: u.Households, AreaM2: u.AreaKM2 * 1e6, Status: u.Status}
	}
	for _, z := range a.Zones {
		c.Zones[z.Kind]++
	}
	return c
}

// scenarioUnits is the SQL of the boundaries a scenario proposes on a day:
// the live unit versions less the communities it replaces or removes, plus
// its own units (valid from that day, without a version id). scenario and
// at are SQL expressions. Layers read scenarios through it and analyses
// copy it into scen_units, so both see the same boundaries.
func scenarioUnits(scenario, at string) string {
	return `SELECT u.version_id, u.code, u.name, u.level, u.parent_code, u.kind, u.households, u.population,
			u.provisional, u.geom, u.area_m2, u.valid_from, u.valid_to
		FROM units u
		WHERE ` + asOfExpr("u", at) + ` AND NOT (u.level = 'community' AND (
			-- EXISTS, not IN: a tile probes the primary keys for its few
			-- units instead of hashing every code of the scenario.
			EXISTS (SELECT 1 FROM scenario_units y WHERE y.scenario_id = ` + scenario + ` AND y.code = u.code)
			OR EXISTS (SELECT 1 FROM scenario_removed y WHERE y.scenario_id = ` + scenario + ` AND y.code = u.code)))
		UNION ALL
		SELECT NULL::bigint, x.code, x.name, x.level, x.parent_code, ` + scenarioKind("x") + `, x.households, x.population, x.provisional, x.geom, x.area_m2, ` + at + `::date, NULL::date
		FROM scenario_units x WHERE x.scenario_id = ` + scenario
}

// scenarioKind is the kind (社区/村) of scenario unit x: its code's, else
// the most common among its street's communities.
func scenarioKind(x string) string {
	return `coalesce((SELECT k.kind FROM units k WHERE k.code = ` + x + `.code ORDER BY k.valid_from DESC LIMIT 1),
		(SELECT k.kind FROM units k WHERE k.parent_code = ` + x + `.parent_code AND k.level = 'community' AND k.valid_to IS NULL
		 GROUP BY k.kind ORDER BY count(*) DESC, k.kind LIMIT 1))`
}

// scenarioTable makes the temp table scen_units of a scenario's boundaries
// on a day, for analyzeSQL.
func scenarioTable(ctx context.Context, tx pgx.Tx, id int64, at time.Time) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE scen_units ON COMMIT DROP AS `+scenarioUnits("$1::bigint", "$2::date"), id, at); err != nil {
		return fmt.Errorf("scenario %d: units: %w", id, err)
	}
	return nil
}

// ScenarioDiffRow is one community before and after the scenario.
type ScenarioDiffRow struct {
	Code       string  `json:"code"`
	Change     string  `json:"change"` // changed, new, removed
	HHBefore   *int64  `json:"households_before"`
	HHAfter    *int64  `json:"households_after"`
	AreaBefore float64 `json:"area_m2_before"`
	AreaAfter  float64 `json:"area_m2_after"`
	Before     string  `json:"status_before"`
	After      string  `json:"status_after"`
}

// ScenarioDiff is the before/after table of a scenario.
type ScenarioDiff struct {
	*ScenarioAnalysis
	Rows []ScenarioDiffRow `json:"rows"`
}

// DiffScenario lists every community the scenario changes, adds or
// removes, with households, area and status before and after.
func (s *Store) DiffScenario(ctx context.Context, id int64, p *Profile, at time.Time) (*ScenarioDiff, error) {
	a, err := s.AnalyzeScenario(ctx, id, p, at)
	if err != nil {
		return nil, err
	}
	sc, err := s.Scenario(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &ScenarioDiff{ScenarioAnalysis: a, Rows: []ScenarioDiffRow{}}
	for _, code := range sc.Codes {
		r := ScenarioDiffRow{Code: code, Change: "changed"}
		b, ok := a.Before.Units[code]
		if !ok {
			r.Change = "new"
		} else {
			r.HHBefore, r.AreaBefore, r.Before = b.Households, b.AreaM2, b.Status
		}
		if x, ok := a.After.Units[code]; ok {
			r.HHAfter, r.AreaAfter, r.After = x.Households, x.AreaM2, x.Status
		}
		d.Rows = append(d.Rows, r)
	}
	for _, code := range sc.Removed {
		r := ScenarioDiffRow{Code: code, Change: "removed"}
		if b, ok := a.Before.Units[code]; ok {
			r.HHBefore, r.AreaBefore, r.Before = b.Households, b.AreaM2, b.Status
		}
		d.Rows = append(d.Rows, r)
	}
	return d, nil
}

// AdoptResult lists what adoption wrote.
type AdoptResult struct {
	Scenario string   `json:"scenario"`
	Created  []string `json:"created"`
	Updated  []string `json:"updated"`
	Retired  []string `json:"retired"`
}

// AdoptScenario writes the scenario into units in one transaction: a new
// version of every changed community (the current one closes at
// validFrom), a first version of every new one, and retirement of the
// removed ones, each audited; then one data-version bump. A scenario is
// adopted once.
func (s *Store) AdoptScenario(ctx context.Context, id int64, approval string, validFrom time.Time, a Actor) (*AdoptResult, error) {
	if strings.TrimSpace(approval) == "" {
		return nil, invalid("approval (批复文号) is required")
	}
	if validFrom.IsZero() {
		return nil, invalid("valid_from (YYYY-MM-DD) is required")
	}
	res := &AdoptResult{Created: []string{}, Updated: []string{}, Retired: []string{}}
	vf := validFrom.Format("2006-01-02")
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var adopted *time.Time
		// FOR UPDATE: two concurrent adoptions serialise, the second sees
		// adopted_at and fails.
		err := tx.QueryRow(ctx, `SELECT name, adopted_at FROM scenarios WHERE id = $1 FOR UPDATE`, id).Scan(&res.Scenario, &adopted)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("scenario %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("scenario %d: %w", id, err)
		}
		if adopted != nil {
			return fmt.Errorf("scenario %s (adopted %s): %w", res.Scenario, adopted.Format("2006-01-02"), ErrAdopted)
		}
		source := "scenario " + res.Scenario
		if a.KeyName != "" {
			source += " (" + apiSource(a) + ")"
		}
		detail := map[string]any{"approval": approval, "valid_from": vf, "scenario": res.Scenario}
		codes, err := scenarioBases(ctx, tx, `SELECT code, base_version_id FROM scenario_units WHERE scenario_id = $1 ORDER BY code`, id)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", res.Scenario, err)
		}
		for _, sb := range codes {
			code := sb.code
			cur, err := sb.lock(ctx, tx, validFrom)
			if err != nil {
				return err
			}
			var newID, oldID int64
			if cur != nil {
				if cur.level != Community {
					return invalid("scenario unit %s is a current %s, not a community", code, cur.level)
				}
				if err := cur.end(ctx, tx, validFrom, ""); err != nil {
					return err
				}
				// Kind is not part of a scenario: the new version keeps it.
				err = tx.QueryRow(ctx, `INSERT INTO units (code, name, level, parent_code, kind, households, population,
						provisional, geom, valid_from, approval, source)
					SELECT su.code, su.name, 'community', su.parent_code, u.kind, su.households, su.population, su.provisional,
						su.geom, $3, $4, $5
					FROM scenario_units su, units u WHERE su.scenario_id = $1 AND su.code = $2 AND u.version_id = $6
					RETURNING version_id`, id, code, validFrom, approval, source, cur.id).Scan(&newID)
				oldID = cur.id
				res.Updated = append(res.Updated, code)
			} else {
				err = tx.QueryRow(ctx, `INSERT INTO units (code, name, level, parent_code, kind, households, population,
						provisional, geom, valid_from, approval, source)
					SELECT x.code, x.name, 'community', x.parent_code, `+scenarioKind("x")+`, x.households, x.population,
						x.provisional, x.geom, $3, $4, $5
					FROM scenario_units x WHERE x.scenario_id = $1 AND x.code = $2 RETURNING version_id`,
					id, code, validFrom, approval, source).Scan(&newID)
				res.Created = append(res.Created, code)
			}
			if err != nil {
				return mapWriteErr(fmt.Errorf("adopt %s: %w", code, err))
			}
			action := "update"
			if oldID == 0 {
				action = "create"
			}
			if err := audit(ctx, tx, a, action, code, oldID, newID, detail); err != nil {
				return err
			}
		}
		removed, err := scenarioBases(ctx, tx, `SELECT code, base_version_id FROM scenario_removed WHERE scenario_id = $1 ORDER BY code`, id)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", res.Scenario, err)
		}
		for _, sb := range removed {
			code := sb.code
			cur, err := sb.lock(ctx, tx, validFrom)
			if err != nil {
				return err
			}
			if cur == nil {
				continue
			}
			if err := cur.end(ctx, tx, validFrom, approval); err != nil {
				return err
			}
			if err := audit(ctx, tx, a, "retire", code, cur.id, 0, detail); err != nil {
				return err
			}
			res.Retired = append(res.Retired, code)
		}
		if err := bumpDataVersion(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE scenarios SET adopted_at = now(), approval = $2, valid_from = $3 WHERE id = $1`,
			id, approval, validFrom); err != nil {
			return fmt.Errorf("mark scenario %s adopted: %w", res.Scenario, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.syncVersion(ctx)
	return res, nil
}

// scenarioBase is a code of a scenario with the version it was made
// against.
type scenarioBase struct {
	code string
	base *int64
}

func scenarioBases(ctx context.Context, tx pgx.Tx, sql string, id int64) ([]scenarioBase, error) {
	rows, err := tx.Query(ctx, sql, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (scenarioBase, error) {
		var b scenarioBase
		return b, r.Scan(&b.code, &b.base)
	})
}

// lock locks the unit's current version (nil if none) and checks it is
// still the one the scenario was made against and starts before validFrom.
func (b scenarioBase) lock(ctx context.Context, tx pgx.Tx, validFrom time.Time) (*currentVersion, error) {
	cur, err := lockCurrent(ctx, tx, b.code)
	if err != nil {
		return nil, err
	}
	if err := b.check(cur); err != nil {
		return nil, err
	}
	if cur != nil && validFrom.Before(cur.validFrom) {
		return nil, invalid("valid_from %s is before the current version of %s (valid from %s)",
			validFrom.Format("2006-01-02"), b.code, cur.validFrom.Format("2006-01-02"))
	}
	return cur, nil
}

// check refuses to adopt over a unit edited, created or retired since the
// scenario was made: its geometry would silently overwrite that change.
func (b scenarioBase) check(cur *currentVersion) error {
	var now int64
	if cur != nil {
		now = cur.id
	}
	var was int64
	if b.base != nil {
		was = *b.base
	}
	if now != was {
		return fmt.Errorf("unit %s: current version is %d, the scenario was made against %d: %w", b.code, now, was, ErrStale)
	}
	return nil
}

// SavedPlan is a plan kept for the API, with its resulting geometries.
type SavedPlan struct {
	ID        int64           `json:"id"`
	CreatedAt time.Time       `json:"created_at"`
	Options   json.RawMessage `json:"options"`
	Plan      json.RawMessage `json:"plan"`
}

// SavePlan keeps a plan and its resulting units' geometries (which the
// plan's JSON omits) so a scenario can be made from it later.
func (s *Store) SavePlan(ctx context.Context, opt PlanOptions, pl *Plan) (int64, error) {
	o, err := json.Marshal(map[string]any{"street": opt.Street, "district": opt.District, "all": opt.All, "seed": opt.Seed,
		"at": pl.At, "profile": pl.Profile})
	if err != nil {
		return 0, fmt.Errorf("save plan: %w", err)
	}
	pj, err := json.Marshal(pl)
	if err != nil {
		return 0, fmt.Errorf("save plan: %w", err)
	}
	var gj bytes.Buffer
	if err := WritePlanGeoJSON(&gj, pl); err != nil {
		return 0, fmt.Errorf("save plan: %w", err)
	}
	var id int64
	if err := s.Pool.QueryRow(ctx, `INSERT INTO plans (options, plan, geojson) VALUES ($1, $2, $3) RETURNING id`, o, pj, gj.Bytes()).Scan(&id); err != nil {
		return 0, fmt.Errorf("save plan: %w", err)
	}
	return id, nil
}

// SavedPlanByID reads a saved plan.
func (s *Store) SavedPlanByID(ctx context.Context, id int64) (*SavedPlan, error) {
	sp := &SavedPlan{}
	err := s.Pool.QueryRow(ctx, `SELECT id, created_at, options, plan FROM plans WHERE id = $1`, id).Scan(&sp.ID, &sp.CreatedAt, &sp.Options, &sp.Plan)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("plan %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("plan %d: %w", id, err)
	}
	return sp, nil
}

// CreateScenarioFromPlan makes a scenario of a saved plan: its resulting
// units and the communities its merges removed.
func (s *Store) CreateScenarioFromPlan(ctx context.Context, name string, planID int64) (*Scenario, error) {
	var pj, gj []byte
	err := s.Pool.QueryRow(ctx, `SELECT plan, geojson FROM plans WHERE id = $1`, planID).Scan(&pj, &gj)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, invalid("plan %d does not exist", planID)
	}
	if err != nil {
		return nil, fmt.Errorf("plan %d: %w", planID, err)
	}
	var pl Plan
	if err := json.Unmarshal(pj, &pl); err != nil {
		return nil, fmt.Errorf("plan %d: %w", planID, err)
	}
	units, _, err := ParsePlanGeoJSON(gj)
	if err != nil {
		return nil, fmt.Errorf("plan %d: %w", planID, err)
	}
	return s.CreateScenario(ctx, name, pl.Profile, PlanSummary(&pl, planID), units, PlanMerged(&pl))
}

// PlanSummary is what a scenario keeps of its plan: everything but the
// units, which it stores itself.
func PlanSummary(pl *Plan, planID int64) map[string]any {
	m := map[string]any{"profile": pl.Profile, "at": pl.At, "scope": pl.Scope, "seed": pl.Seed, "operations": pl.Ops,
		"households_moved": pl.HouseholdsMoved, "units_changed": pl.UnitsChanged, "before": pl.Before,
		"remaining": pl.Remaining, "infeasible": pl.Infeasible}
	if planID != 0 {
		m["plan_id"] = planID
	}
	return m
}
