package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/grids"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// withGrids adds to a scenario of communities the grids that follow them
// (grids.Follow): kept grids re-coded under their new community, cut ones
// regenerated, and the live grids this replaces removed. A document that
// has grid units already says what its grids do and is left as it is.
func withGrids(ctx context.Context, st *store.Store, name, profile string, proposed []Unit, removed []units.Base) ([]Unit, []units.Base, error) {
	cs := make([]grids.Community, 0, len(proposed))
	for _, u := range proposed {
		if u.Level == boundaries.Grid {
			return proposed, removed, nil
		}
		cs = append(cs, grids.Community{Code: u.Code, Name: u.Name, Parent: u.ParentCode, Provisional: u.Provisional,
			Households: u.Households, Population: u.Population, Geometry: u.Geometry})
	}
	rc := make([]string, len(removed))
	for i, r := range removed {
		rc[i] = r.Code
	}
	fo, err := grids.Follow(ctx, st, profile, time.Time{}, cs, rc)
	if err != nil {
		return nil, nil, fmt.Errorf("scenario %s: %w", name, err)
	}
	for _, g := range fo.Units {
		proposed = append(proposed, Unit{Code: g.Code, Name: g.Name, Level: boundaries.Grid, ParentCode: g.ParentCode,
			Households: g.Households, Population: g.Population, Provisional: g.Provisional, BaseVersion: g.BaseVersion,
			Geometry: g.Geometry, Replaces: g.Replaces})
	}
	return proposed, append(removed, fo.Removed...), nil
}

// GridChange is one grid a scenario changes, or keeps, in the communities
// it changes: old → new codes.
type GridChange struct {
	// Change is new (a grid where there was none), regenerated (cut grids'
	// ground), recoded (the same grid under a new community's code),
	// changed (same code, new geometry), removed, or kept (as it is).
	Change    string   `json:"change"`
	Old       []string `json:"old"` // the live codes it replaces (itself when changed or kept)
	New       string   `json:"new"` // "" when removed
	Community string   `json:"community"`
	HHBefore  *int64   `json:"households_before"`
	HHAfter   *int64   `json:"households_after"`
}

// gridChangesSQL lists a scenario's grid changes ($1 the scenario, $2 the
// day): its grid units, the grids it removes that none of them replaces,
// and the live grids of the communities it changes that it leaves alone.
const gridChangesSQL = `WITH su AS (SELECT code, parent_code, households, coalesce(replaces, '{}') AS replaces, geom FROM scenario_units
		WHERE scenario_id = $1 AND level = 'grid'),
	rm AS (SELECT r.code, u.parent_code, u.households FROM scenario_removed r
		JOIN units u ON u.code = r.code AND u.level = 'grid' AND ` + "%[1]s" + ` WHERE r.scenario_id = $1),
	comms AS (SELECT code FROM scenario_units WHERE scenario_id = $1 AND level = 'community'
		UNION SELECT r.code FROM scenario_removed r JOIN units u ON u.code = r.code AND u.level = 'community' WHERE r.scenario_id = $1)
	SELECT * FROM (
		SELECT CASE WHEN l.code IS NOT NULL THEN 'changed'
				WHEN cardinality(su.replaces) = 1 AND o.geom IS NOT NULL AND ST_Area(ST_SymDifference(o.geom, su.geom)::geography) < 1 THEN 'recoded'
				WHEN cardinality(su.replaces) > 0 THEN 'regenerated' ELSE 'new' END AS change,
			CASE WHEN l.code IS NOT NULL THEN ARRAY[su.code] ELSE su.replaces END AS old, su.code AS new, coalesce(su.parent_code, '') AS community,
			coalesce(l.households, CASE WHEN cardinality(su.replaces) = 1 THEN o.households END) AS hh_before, su.households AS hh_after
		FROM su LEFT JOIN units l ON l.code = su.code AND ` + "%[2]s" + `
		LEFT JOIN units o ON cardinality(su.replaces) = 1 AND o.code = su.replaces[1] AND ` + "%[3]s" + `
		UNION ALL
		SELECT 'removed', ARRAY[rm.code], '', coalesce(rm.parent_code, ''), rm.households, NULL FROM rm
		WHERE NOT EXISTS (SELECT 1 FROM su WHERE rm.code = ANY(su.replaces))
		UNION ALL
		SELECT 'kept', ARRAY[g.code], g.code, g.parent_code, g.households, g.households FROM units g
		WHERE g.level = 'grid' AND ` + "%[4]s" + ` AND g.parent_code IN (SELECT code FROM comms)
		  AND NOT EXISTS (SELECT 1 FROM su WHERE su.code = g.code) AND NOT EXISTS (SELECT 1 FROM rm WHERE rm.code = g.code)) x
	ORDER BY community, new = '', new, old`

// GridChanges lists the grids scenario id changes, old → new, on day.
func GridChanges(ctx context.Context, st *store.Store, id int64, day time.Time) ([]GridChange, error) {
	q := fmt.Sprintf(gridChangesSQL, store.AsOf("u", 2), store.AsOf("l", 2), store.AsOf("o", 2), store.AsOf("g", 2))
	rows, err := st.Reader().Query(ctx, q, id, day)
	if err != nil {
		return nil, fmt.Errorf("scenario %d grids: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (GridChange, error) {
		var c GridChange
		return c, r.Scan(&c.Change, &c.Old, &c.New, &c.Community, &c.HHBefore, &c.HHAfter)
	})
	if err != nil {
		return nil, fmt.Errorf("scenario %d grids: %w", id, err)
	}
	if out == nil {
		out = []GridChange{}
	}
	return out, nil
}
