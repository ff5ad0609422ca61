package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// Merged lists the communities a plan's merges take away with the
// versions the plan read (plans saved before versions were recorded give
// none, and the scenario takes the current ones).
func (pl *Plan) Merged() []units.Base {
	if len(pl.Removed) > 0 {
		return pl.Removed
	}
	var out []units.Base
	for _, c := range pl.mergedCodes() {
		out = append(out, units.Base{Code: c})
	}
	return out
}

// mergedCodes are the sources of a plan's merge operations that are not
// among its resulting units.
func (pl *Plan) mergedCodes() []string {
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

// WriteGeoJSON writes a plan's resulting units as a GeoJSON
// FeatureCollection (the output of jiedao plan --format geojson, and what
// the API keeps of a plan): each feature's properties are the unit's
// measures with base_version_id, and the foreign member "removed" lists
// the communities its merges take away, so a scenario made of the file
// knows which versions the plan read.
func WriteGeoJSON(w io.Writer, pl *Plan) error {
	type feature struct {
		Type       string          `json:"type"`
		Properties map[string]any  `json:"properties"`
		Geometry   json.RawMessage `json:"geometry"`
	}
	fc := struct {
		Type     string       `json:"type"`
		Features []feature    `json:"features"`
		Removed  []units.Base `json:"removed"`
	}{Type: "FeatureCollection", Features: []feature{}, Removed: pl.Merged()}
	if fc.Removed == nil {
		fc.Removed = []units.Base{}
	}
	for _, u := range pl.Units {
		fc.Features = append(fc.Features, feature{Type: "Feature", Geometry: u.Geometry, Properties: map[string]any{
			"op": u.Op, "code": u.Code, "name": u.Name, "street": u.Street, "provisional": u.Provisional,
			"households": u.Households, "population": u.Population, "deviation": u.Deviation, "area_km2": u.AreaKM2,
			"polsby_popper": u.PolsbyPopper, "hull_ratio": u.HullRatio, "status": u.Status, "reasons": u.Reasons,
			"base_version_id": u.BaseVersion,
		}})
		if u.Level != "" {
			pr := fc.Features[len(fc.Features)-1].Properties
			pr["level"], pr["parent_code"], pr["replaces"] = u.Level, u.ParentCode, u.Replaces
		}
	}
	return json.NewEncoder(w).Encode(fc)
}

// Saved is a plan kept for the API, with its resulting geometries.
type Saved struct {
	ID        int64           `json:"id"`
	CreatedAt time.Time       `json:"created_at"`
	Options   json.RawMessage `json:"options"`
	Plan      json.RawMessage `json:"plan"`
}

// Save keeps a plan and its resulting units' geometries (which the plan's
// JSON omits) so a scenario can be made from it later.
func Save(ctx context.Context, st *store.Store, opt Options, pl *Plan) (int64, error) {
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
	if err := WriteGeoJSON(&gj, pl); err != nil {
		return 0, fmt.Errorf("save plan: %w", err)
	}
	var id int64
	if err := st.Primary().QueryRow(ctx, `INSERT INTO plans (options, plan, geojson) VALUES ($1, $2, $3) RETURNING id`, o, pj, gj.Bytes()).Scan(&id); err != nil {
		return 0, fmt.Errorf("save plan: %w", err)
	}
	return id, nil
}

// Get reads a saved plan.
func Get(ctx context.Context, st *store.Store, id int64) (*Saved, error) {
	sp := &Saved{}
	err := st.Primary().QueryRow(ctx, `SELECT id, created_at, options, plan FROM plans WHERE id = $1`, id).Scan(&sp.ID, &sp.CreatedAt, &sp.Options, &sp.Plan)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("plan %d: %w", id, boundaries.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("plan %d: %w", id, err)
	}
	return sp, nil
}

// Document is what a scenario is made of: a saved plan's profile, its
// summary (everything but the units) and the GeoJSON of its units with
// the communities its merges remove.
type Document struct {
	Profile string
	Summary map[string]any
	GeoJSON []byte
}

// LoadDocument reads the document of a saved plan; a plan that does not
// exist is a validation error (the client named it).
func LoadDocument(ctx context.Context, st *store.Store, id int64) (*Document, error) {
	var pj, gj []byte
	err := st.Primary().QueryRow(ctx, `SELECT plan, geojson FROM plans WHERE id = $1`, id).Scan(&pj, &gj)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, boundaries.Invalid("plan %d does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("plan %d: %w", id, err)
	}
	var pl Plan
	if err := json.Unmarshal(pj, &pl); err != nil {
		return nil, fmt.Errorf("plan %d: %w", id, err)
	}
	return &Document{Profile: pl.Profile, Summary: pl.Summary(id), GeoJSON: gj}, nil
}

// Summary is what a scenario keeps of its plan: everything but the units,
// which it stores itself (planID 0: not saved).
func (pl *Plan) Summary(planID int64) map[string]any {
	m := map[string]any{"profile": pl.Profile, "at": pl.At, "scope": pl.Scope, "seed": pl.Seed, "operations": pl.Ops,
		"households_moved": pl.HouseholdsMoved, "units_changed": pl.UnitsChanged, "before": pl.Before,
		"remaining": pl.Remaining, "infeasible": pl.Infeasible}
	if planID != 0 {
		m["plan_id"] = planID
	}
	return m
}
