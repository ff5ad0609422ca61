// Package scenario keeps proposed boundaries apart from the live ones:
// named sets of community geometries (usually a plan's result), served by
// every layer with ?scenario=, analysed and compared with the live units,
// and adopted as new unit versions only with an approval (批复文号).
package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// Scenarios are named sets of proposed community geometries, usually the
// resulting units of a plan. They live in scenario_units and never change
// units until adopted; adoption writes them as new unit versions in one
// transaction, like the API's single-unit writes.

// Unit is one proposed community or grid: a changed live one (same code)
// or a new one (a split part's provisional code, a grid's new code).
type Unit struct {
	Code        string           `json:"code"`
	Name        string           `json:"name"`
	Level       boundaries.Level `json:"level"` // "" is community
	ParentCode  string           `json:"parent_code"`
	Households  *int64           `json:"households"`
	Population  *int64           `json:"population"`
	Provisional bool             `json:"provisional"`
	// BaseVersion is the live version the plan read (nil: a new code, or
	// unknown, when the version current at creation is taken).
	BaseVersion *int64          `json:"base_version_id"`
	Geometry    json.RawMessage `json:"-"` // GeoJSON, WGS84
	// Replaces are the live grids a grid takes over (re-coded, or cut
	// and regenerated): adoption records them in grid_codes.replaced_by.
	Replaces []string `json:"replaces,omitempty"`
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
	// Draft: made empty, to be edited unit by unit (/ogc/scenarios/{id}).
	Draft   bool     `json:"draft"`
	Codes   []string `json:"codes"`   // communities of the scenario
	Removed []string `json:"removed"` // live communities it merges away
	// Grids and RemovedGrids are the grids it proposes and the live grids
	// it retires (generated, renumbered, or following its communities).
	Grids        []string `json:"grids"`
	RemovedGrids []string `json:"removed_grids"`
}

// ErrAdopted is returned when a scenario has already been adopted.
var ErrAdopted = fmt.Errorf("scenario already adopted: %w", boundaries.ErrConflict)

// ParsePlan reads the output of `jiedao plan --format geojson` (or of
// `jiedao grids generate`): a FeatureCollection whose features carry code,
// name, street (or parent_code), provisional, households, population and
// base_version_id, for grids level "grid", parent_code (the community)
// and replaces, and the units the plan removes.
func ParsePlan(b []byte) ([]Unit, []units.Base, error) {
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Type       string          `json:"type"`
			Geometry   json.RawMessage `json:"geometry"`
			Properties struct {
				Code        string   `json:"code"`
				Name        string   `json:"name"`
				Level       string   `json:"level"`
				Replaces    []string `json:"replaces"`
				Street      string   `json:"street"`
				ParentCode  string   `json:"parent_code"`
				Provisional bool     `json:"provisional"`
				Households  *int64   `json:"households"`
				Population  *int64   `json:"population"`
				BaseVersion *int64   `json:"base_version_id"`
			} `json:"properties"`
		} `json:"features"`
		Removed []units.Base `json:"removed"`
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		return nil, nil, boundaries.Invalid("plan file is not GeoJSON (want the output of jiedao plan --format geojson): %v", err)
	}
	if fc.Type != "FeatureCollection" {
		return nil, nil, boundaries.Invalid("plan file is a %q, not a FeatureCollection (want the output of jiedao plan --format geojson; the JSON plan carries no geometries)", fc.Type)
	}
	out := make([]Unit, 0, len(fc.Features))
	for i, f := range fc.Features {
		p := f.Properties
		if p.Code == "" {
			return nil, nil, boundaries.Invalid("feature %d: no code", i+1)
		}
		if len(f.Geometry) == 0 || string(f.Geometry) == "null" {
			return nil, nil, boundaries.Invalid("feature %d (%s): no geometry", i+1, p.Code)
		}
		u := Unit{Code: p.Code, Name: p.Name, Level: boundaries.Community, ParentCode: p.Street, Households: p.Households,
			Population: p.Population, Provisional: p.Provisional, BaseVersion: p.BaseVersion, Geometry: f.Geometry, Replaces: p.Replaces}
		if u.ParentCode == "" {
			u.ParentCode = p.ParentCode
		}
		switch boundaries.Level(p.Level) {
		case "", boundaries.Community:
		case boundaries.Grid:
			// A grid's parent is its community, which its code starts with.
			u.Level, u.ParentCode = boundaries.Grid, p.ParentCode
			if u.ParentCode == "" || !strings.HasPrefix(u.Code, u.ParentCode) || len(u.Code) != len(u.ParentCode)+3 || seqDigits(u.Code) != nil {
				return nil, nil, boundaries.Invalid("feature %d (%s): a grid's code is its community's (parent_code %q) and 3 digits", i+1, p.Code, p.ParentCode)
			}
		default:
			return nil, nil, boundaries.Invalid("feature %d (%s): level %q: want community or grid", i+1, p.Code, p.Level)
		}
		out = append(out, u)
	}
	for i, r := range fc.Removed {
		if r.Code == "" {
			return nil, nil, boundaries.Invalid("removed %d: no code", i+1)
		}
	}
	return out, fc.Removed, nil
}

// seqDigits checks that a code ends in 3 digits.
func seqDigits(code string) error {
	for _, c := range code[len(code)-3:] {
		if c < '0' || c > '9' {
			return errors.New("not digits")
		}
	}
	return nil
}

// Create stores a scenario. removed lists communities known to be
// merged away (from the plan's operations); to them are added the live
// communities of the scenario's streets that are not in the scenario and
// lie at least half under its units, so a scenario made from GeoJSON
// alone (which does not carry the merges) also retires them.
//
// The versions a unit or removal is checked against at adoption are those
// its plan read (BaseVersion), else the ones current now.
func Create(ctx context.Context, st *store.Store, name, profile string, plan any, proposed []Unit, removed []units.Base) (*Scenario, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, boundaries.Invalid("scenario name is required")
	}
	if len(proposed) == 0 {
		return nil, boundaries.Invalid("scenario %s: the plan changes no unit", name)
	}
	summary, err := json.Marshal(plan)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: plan: %w", name, err)
	}
	if proposed, removed, err = withGrids(ctx, st, name, profile, proposed, removed); err != nil {
		return nil, err
	}
	if plan == nil {
		summary = []byte("{}")
	}
	var id int64
	err = st.Tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO scenarios (name, profile, plan) VALUES ($1, $2, $3) RETURNING id`,
			name, profile, summary).Scan(&id); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23505" {
				return fmt.Errorf("scenario %s: %w", name, boundaries.ErrDuplicate)
			}
			return fmt.Errorf("scenario %s: %w", name, err)
		}
		batch := &pgx.Batch{}
		for _, u := range proposed {
			level := u.Level
			if level == "" {
				level = boundaries.Community
			}
			batch.Queue(`INSERT INTO scenario_units (scenario_id, code, name, parent_code, households, population, provisional, geom, base_version_id,
					level, replaces)
				VALUES ($1, $2, $3, nullif($4, ''), $5, $6, $7,
					ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON($8), 4326)), 3)), $9, $10, $11)`,
				id, u.Code, u.Name, u.ParentCode, u.Households, u.Population, u.Provisional, string(u.Geometry), u.BaseVersion,
				string(level), u.Replaces)
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				return boundaries.Invalid("scenario %s: unit: %s", name, pe.Message)
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
			WHERE EXISTS (SELECT 1 FROM units u WHERE u.code = r.code AND u.level IN ('community', 'grid'))
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
			JOIN scenario_units x ON x.scenario_id = $1 AND x.level = u.level AND x.geom && u.geom AND ST_Intersects(x.geom, u.geom)
			WHERE u.level IN ('community', 'grid') AND u.valid_to IS NULL
			  AND u.parent_code IN (SELECT parent_code FROM scenario_units y WHERE y.scenario_id = $1 AND y.level = u.level)
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
	return Get(ctx, st, id)
}

// ID finds a scenario by name.
func ID(ctx context.Context, st *store.Store, name string) (int64, error) {
	var id int64
	err := st.Primary().QueryRow(ctx, `SELECT id FROM scenarios WHERE name = $1`, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("scenario %s: %w", name, boundaries.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("scenario %s: %w", name, err)
	}
	return id, nil
}

// Get reads a scenario with the codes it changes and removes.
func Get(ctx context.Context, st *store.Store, id int64) (*Scenario, error) {
	sc := &Scenario{}
	err := st.Primary().QueryRow(ctx, `SELECT id, name, created_at, profile, plan, adopted_at, approval, draft,
			coalesce((SELECT array_agg(code ORDER BY code) FROM scenario_units WHERE scenario_id = s.id AND level <> 'grid'), '{}'),
			coalesce((SELECT array_agg(r.code ORDER BY r.code) FROM scenario_removed r WHERE r.scenario_id = s.id
				AND NOT EXISTS (SELECT 1 FROM units u WHERE u.code = r.code AND u.level = 'grid')), '{}'),
			coalesce((SELECT array_agg(code ORDER BY code) FROM scenario_units WHERE scenario_id = s.id AND level = 'grid'), '{}'),
			coalesce((SELECT array_agg(r.code ORDER BY r.code) FROM scenario_removed r WHERE r.scenario_id = s.id
				AND EXISTS (SELECT 1 FROM units u WHERE u.code = r.code AND u.level = 'grid')), '{}')
		FROM scenarios s WHERE id = $1`, id).Scan(&sc.ID, &sc.Name, &sc.CreatedAt, &sc.Profile, &sc.Plan, &sc.AdoptedAt,
		&sc.Approval, &sc.Draft, &sc.Codes, &sc.Removed, &sc.Grids, &sc.RemovedGrids)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("scenario %d: %w", id, boundaries.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("scenario %d: %w", id, err)
	}
	return sc, nil
}

// Summary is a scenario in a list: what it is and how much it changes.
type Summary struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	Profile   string     `json:"profile"`
	AdoptedAt *time.Time `json:"adopted_at"`
	Approval  *string    `json:"approval"`
	Units     int        `json:"units"`   // communities it proposes
	Removed   int        `json:"removed"` // live communities it merges away
	Grids     int        `json:"grids"`   // grids it proposes
	// RemovedGrids are the live grids it retires.
	RemovedGrids int `json:"removed_grids"`
}

// List lists the stored scenarios, newest first.
func List(ctx context.Context, st *store.Store) ([]Summary, error) {
	rows, err := st.Primary().Query(ctx, `SELECT id, name, created_at, profile, adopted_at, approval,
			(SELECT count(*) FROM scenario_units WHERE scenario_id = s.id AND level <> 'grid'),
			(SELECT count(*) FROM scenario_removed r WHERE scenario_id = s.id AND NOT EXISTS (SELECT 1 FROM units u WHERE u.code = r.code AND u.level = 'grid')),
			(SELECT count(*) FROM scenario_units WHERE scenario_id = s.id AND level = 'grid'),
			(SELECT count(*) FROM scenario_removed r WHERE scenario_id = s.id AND EXISTS (SELECT 1 FROM units u WHERE u.code = r.code AND u.level = 'grid'))
		FROM scenarios s ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list scenarios: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Summary, error) {
		var x Summary
		return x, r.Scan(&x.ID, &x.Name, &x.CreatedAt, &x.Profile, &x.AdoptedAt, &x.Approval, &x.Units, &x.Removed, &x.Grids, &x.RemovedGrids)
	})
	if err != nil {
		return nil, fmt.Errorf("list scenarios: %w", err)
	}
	return out, nil
}

// Check is the analysis of one set of boundaries: communities per
// status and zones per kind, city-wide, and each community's measures.
type Check struct {
	Statuses map[boundaries.Status]int   `json:"statuses"`
	Zones    map[boundaries.ZoneKind]int `json:"zones"`
	Units    map[string]Measures         `json:"-"`
}

// Measures is one community's measures in a check.
type Measures struct {
	Households *int64            `json:"households"`
	AreaM2     float64           `json:"area_m2"`
	Status     boundaries.Status `json:"status"`
}

// Comparison compares the live boundaries with the scenario's.
type Comparison struct {
	Scenario string `json:"scenario"`
	At       string `json:"at"`
	Profile  string `json:"profile"`
	Before   *Check `json:"before"`
	After    *Check `json:"after"`
}

// Analyze compares the analysis of the live boundaries with that of the
// scenario's: the stored runs the layers read (made when missing), so the
// diff, the map and the API agree.
func Analyze(ctx context.Context, st *store.Store, runs *analysis.Runs, id int64, p *analysis.Profile, at time.Time) (*Comparison, error) {
	if at.IsZero() {
		at = boundaries.Today()
	}
	sc, err := Get(ctx, st, id)
	if err != nil {
		return nil, err
	}
	before, err := runs.Current(ctx, p, at, analysis.Live)
	if err != nil {
		return nil, fmt.Errorf("analyze scenario %s: live: %w", sc.Name, err)
	}
	after, err := runs.Current(ctx, p, at, Boundaries(st, id))
	if err != nil {
		return nil, fmt.Errorf("analyze scenario %s: %w", sc.Name, err)
	}
	return &Comparison{Scenario: sc.Name, At: at.Format("2006-01-02"), Profile: p.Name,
		Before: scenarioCheckOf(before), After: scenarioCheckOf(after)}, nil
}

// scenarioCheckOf counts an analysis's communities per status and zones
// per kind, and keeps each community's measures.
func scenarioCheckOf(a *analysis.Analysis) *Check {
	c := &Check{Statuses: map[boundaries.Status]int{}, Zones: map[boundaries.ZoneKind]int{}, Units: map[string]Measures{}}
	for _, u := range a.Units {
		if u.Level != boundaries.Community {
			continue
		}
		c.Statuses[u.Status]++
		c.Units[u.Code] = Measures{Households: u.Households, AreaM2: u.AreaKM2 * 1e6, Status: u.Status}
	}
	for _, z := range a.Zones {
		c.Zones[z.Kind]++
	}
	return c
}

// Boundaries are a scenario's unit versions as an analysis input. Its
// existence is checked only when its run is first made: an unknown
// scenario is ErrNotFound.
func Boundaries(st *store.Store, id int64) analysis.Boundaries {
	return analysis.Boundaries{Scenario: id, Units: UnitsSQL, Check: func(ctx context.Context) error {
		_, err := Get(ctx, st, id)
		return err
	}}
}

// UnitsSQL is the SQL of the boundaries a scenario proposes on a day: the
// live unit versions less the communities it replaces or removes, plus
// its own units (valid from that day, without a version id). scenario and
// at are SQL expressions. Layers read scenarios through it and analyses
// copy it, so both see the same boundaries.
func UnitsSQL(scenario, at string) string {
	return `SELECT u.version_id, u.code, u.name, u.level, u.parent_code, u.kind, u.households, u.population,
			u.provisional, u.geom, u.area_m2, u.valid_from, u.valid_to
		FROM units u
		WHERE ` + store.AsOfExpr("u", at) + ` AND NOT (u.level IN ('community', 'grid') AND (
			-- EXISTS, not IN: a tile probes the primary keys for its few
			-- units instead of hashing every code of the scenario.
			EXISTS (SELECT 1 FROM scenario_units y WHERE y.scenario_id = ` + scenario + ` AND y.code = u.code)
			OR EXISTS (SELECT 1 FROM scenario_removed y WHERE y.scenario_id = ` + scenario + ` AND y.code = u.code)))
		UNION ALL
		SELECT NULL::bigint, x.code, x.name, x.level, x.parent_code, ` + kindSQL("x") + `, x.households, x.population, x.provisional, x.geom, x.area_m2, ` + at + `::date, NULL::date
		FROM scenario_units x WHERE x.scenario_id = ` + scenario
}

// kindSQL is the kind (社区/村) of scenario unit x: its code's, else (a
// grid) its community's, else the most common among its parent's units of
// its level.
func kindSQL(x string) string {
	return `coalesce((SELECT k.kind FROM units k WHERE k.code = ` + x + `.code ORDER BY k.valid_from DESC LIMIT 1),
		CASE WHEN ` + x + `.level = 'grid' THEN (SELECT k.kind FROM units k WHERE k.code = ` + x + `.parent_code ORDER BY k.valid_from DESC LIMIT 1) END,
		(SELECT k.kind FROM units k WHERE k.parent_code = ` + x + `.parent_code AND k.level = ` + x + `.level AND k.valid_to IS NULL
		 GROUP BY k.kind ORDER BY count(*) DESC, k.kind LIMIT 1))`
}

// DiffRow is one community before and after the scenario.
type DiffRow struct {
	Code       string            `json:"code"`
	Change     string            `json:"change"` // changed, new, removed
	HHBefore   *int64            `json:"households_before"`
	HHAfter    *int64            `json:"households_after"`
	AreaBefore float64           `json:"area_m2_before"`
	AreaAfter  float64           `json:"area_m2_after"`
	Before     boundaries.Status `json:"status_before"`
	After      boundaries.Status `json:"status_after"`
}

// Diff is the before/after table of a scenario: its communities, and
// the grids of the communities it changes (old → new codes).
type Diff struct {
	*Comparison
	Rows  []DiffRow    `json:"rows"`
	Grids []GridChange `json:"grid_changes"`
}

// Difference lists every community the scenario changes, adds or
// removes, with households, area and status before and after, and its
// grid changes.
func Difference(ctx context.Context, st *store.Store, runs *analysis.Runs, id int64, p *analysis.Profile, at time.Time) (*Diff, error) {
	a, err := Analyze(ctx, st, runs, id, p, at)
	if err != nil {
		return nil, err
	}
	sc, err := Get(ctx, st, id)
	if err != nil {
		return nil, err
	}
	gs, err := GridChanges(ctx, st, id, at)
	if err != nil {
		return nil, err
	}
	d := &Diff{Comparison: a, Rows: []DiffRow{}, Grids: gs}
	for _, code := range sc.Codes {
		r := DiffRow{Code: code, Change: "changed"}
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
		r := DiffRow{Code: code, Change: "removed"}
		if b, ok := a.Before.Units[code]; ok {
			r.HHBefore, r.AreaBefore, r.Before = b.Households, b.AreaM2, b.Status
		}
		d.Rows = append(d.Rows, r)
	}
	return d, nil
}
