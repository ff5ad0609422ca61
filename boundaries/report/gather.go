package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/store"
)

// The reports' SQL: geometries for the maps, the streets in scope, what a
// scenario's units came from. Measures and verdicts come from the stored
// analysis runs (analysis.Runs), so a report says what the map says.

// geomRow is one unit's geometry with its label point.
type geomRow struct {
	Code, Name, Parent string
	Polygons           [][]Ring
	Label              [2]float64
	AreaM2             float64
}

// liveFrom is the FROM item of the live units; scenarioFrom that of a
// scenario's ($3), both valid on $2.
const liveFrom = "units"

func scenarioFrom() string { return "(" + scenario.UnitsSQL("$3::bigint", "$2::date") + ")" }

// communityShapes reads the communities of streets from a set of
// boundaries (from, with args: $1 streets, $2 day, $3 scenario).
func communityShapes(ctx context.Context, st *store.Store, from string, streets []string, at time.Time, scen int64) ([]geomRow, error) {
	args := []any{streets, at}
	if scen != 0 {
		args = append(args, scen)
	}
	rows, err := st.Reader().Query(ctx, `SELECT u.code, u.name, coalesce(u.parent_code, ''), ST_AsGeoJSON(u.geom, 6),
			ST_X(l.p), ST_Y(l.p), ST_Area(u.geom::geography)
		FROM `+from+` u,
		LATERAL (SELECT (ST_MaximumInscribedCircle(u.geom)).center AS p) l
		WHERE u.level = 'community' AND `+store.AsOf("u", 2)+` AND u.parent_code = ANY($1)
		ORDER BY u.code`, args...)
	if err != nil {
		return nil, fmt.Errorf("community geometries: %w", err)
	}
	return collectGeoms(rows)
}

// streetShapes reads street outlines valid on a day.
func streetShapes(ctx context.Context, st *store.Store, streets []string, at time.Time) ([]geomRow, error) {
	rows, err := st.Reader().Query(ctx, `SELECT u.code, u.name, coalesce(u.parent_code, ''), ST_AsGeoJSON(u.geom, 6),
			ST_X(ST_PointOnSurface(u.geom)), ST_Y(ST_PointOnSurface(u.geom)), ST_Area(u.geom::geography)
		FROM units u WHERE u.level = 'street' AND `+store.AsOf("u", 2)+` AND u.code = ANY($1) ORDER BY u.code`, streets, at)
	if err != nil {
		return nil, fmt.Errorf("street geometries: %w", err)
	}
	return collectGeoms(rows)
}

// zoneShapes reads the zones of a run that concern any of codes.
func zoneShapes(ctx context.Context, st *store.Store, run int64, codes []string) ([]geomRow, error) {
	rows, err := st.Reader().Query(ctx, `SELECT z.id, z.kind, array_to_string(z.codes, '+'), ST_AsGeoJSON(z.geom, 6),
			ST_X(ST_PointOnSurface(z.geom)), ST_Y(ST_PointOnSurface(z.geom)), z.area_m2
		FROM zones z WHERE z.run_id = $1 AND z.codes && $2::text[] ORDER BY z.id`, run, codes)
	if err != nil {
		return nil, fmt.Errorf("zone geometries: %w", err)
	}
	return collectGeoms(rows)
}

func collectGeoms(rows pgx.Rows) ([]geomRow, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (geomRow, error) {
		var g geomRow
		var gj string
		if err := r.Scan(&g.Code, &g.Name, &g.Parent, &gj, &g.Label[0], &g.Label[1], &g.AreaM2); err != nil {
			return g, err
		}
		var err error
		g.Polygons, err = parsePolygons(gj)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("geometries: %w", err)
	}
	return out, nil
}

// parsePolygons reads a GeoJSON Polygon or MultiPolygon.
func parsePolygons(gj string) ([][]Ring, error) {
	var g struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	}
	if err := json.Unmarshal([]byte(gj), &g); err != nil {
		return nil, err
	}
	switch g.Type {
	case "Polygon":
		var p []Ring
		err := json.Unmarshal(g.Coordinates, &p)
		return [][]Ring{p}, err
	case "MultiPolygon":
		var mp [][]Ring
		err := json.Unmarshal(g.Coordinates, &mp)
		return mp, err
	}
	return nil, nil
}

// street is a street in a report's scope.
type street struct {
	Code, Name, District string
}

// streetsIn lists the streets valid on a day of a district, one street, or
// all (both ""). An unknown code is a QueryError naming its parameter.
func streetsIn(ctx context.Context, st *store.Store, district, code string, at time.Time) ([]street, error) {
	rows, err := st.Reader().Query(ctx, `SELECT u.code, u.name, coalesce(u.parent_code, '') FROM units u
		WHERE u.level = 'street' AND `+store.AsOf("u", 1)+`
		  AND ($2 = '' OR u.parent_code = $2) AND ($3 = '' OR u.code = $3)
		ORDER BY u.code`, at, district, code)
	if err != nil {
		return nil, fmt.Errorf("streets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (street, error) {
		var s street
		return s, r.Scan(&s.Code, &s.Name, &s.District)
	})
	if err != nil {
		return nil, fmt.Errorf("streets: %w", err)
	}
	day := at.Format("2006-01-02")
	switch {
	case len(out) > 0:
	case code != "":
		return nil, &boundaries.QueryError{Param: "street", Err: fmt.Errorf("no street %q on %s: %w", code, day, boundaries.ErrNotFound)}
	case district != "":
		return nil, &boundaries.QueryError{Param: "district", Err: fmt.Errorf("no street of district %q on %s: %w", district, day, boundaries.ErrNotFound)}
	}
	return out, nil
}

// names reads the names of units (any level) valid on a day; a code
// without a unit keeps no name.
func names(ctx context.Context, st *store.Store, codes []string, at time.Time) (map[string]string, error) {
	rows, err := st.Reader().Query(ctx, `SELECT code, name FROM units u WHERE code = ANY($1) AND `+store.AsOf("u", 2), codes, at)
	if err != nil {
		return nil, fmt.Errorf("unit names: %w", err)
	}
	out := map[string]string{}
	var c, n string
	_, err = pgx.ForEachRow(rows, []any{&c, &n}, func() error { out[c] = n; return nil })
	if err != nil {
		return nil, fmt.Errorf("unit names: %w", err)
	}
	return out, nil
}

// dataDates are the newest first day and the newest write of the units in
// streets (the streets and their communities) as of a day.
func dataDates(ctx context.Context, st *store.Store, streets []string, at time.Time) (validFrom, written *time.Time, err error) {
	err = st.Reader().QueryRow(ctx, `SELECT max(valid_from), max(created_at) FROM units u
		WHERE (u.code = ANY($1) OR u.parent_code = ANY($1)) AND `+store.AsOf("u", 2), streets, at).Scan(&validFrom, &written)
	if err != nil {
		return nil, nil, fmt.Errorf("data dates: %w", err)
	}
	return validFrom, written, nil
}

// adoptedFrom is the first day of a scenario's adopted versions (nil
// while a draft).
func adoptedFrom(ctx context.Context, st *store.Store, id int64) (*time.Time, error) {
	var vf *time.Time
	err := st.Reader().QueryRow(ctx, `SELECT valid_from FROM scenarios WHERE id = $1`, id).Scan(&vf)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("scenario %d: %w", id, boundaries.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("scenario %d valid_from: %w", id, err)
	}
	return vf, nil
}

// lineage is which live community each unit of a scenario came from, by
// area: a pair counts when the overlap is a fifth of either side, so a
// split part names the community it was cut from and a merged community
// the one it went into, while a repaired sliver does not. For a scenario
// already adopted, the live units of the day before it took effect.
func lineage(ctx context.Context, st *store.Store, id int64, at time.Time) (map[string][]string, error) {
	rows, err := st.Reader().Query(ctx, `SELECT u.code, x.code FROM scenario_units x
		JOIN units u ON u.level = 'community' AND `+store.AsOf("u", 2)+` AND u.geom && x.geom AND ST_Intersects(u.geom, x.geom)
		WHERE x.scenario_id = $1 AND u.code <> x.code
		  AND ST_Area(ST_Intersection(u.geom, x.geom)) >= 0.2 * least(ST_Area(u.geom), ST_Area(x.geom))
		ORDER BY 1, 2`, id, at)
	if err != nil {
		return nil, fmt.Errorf("scenario %d lineage: %w", id, err)
	}
	out := map[string][]string{}
	var old, nu string
	_, err = pgx.ForEachRow(rows, []any{&old, &nu}, func() error { out[old] = append(out[old], nu); return nil })
	if err != nil {
		return nil, fmt.Errorf("scenario %d lineage: %w", id, err)
	}
	return out, nil
}

// gridsTouched lists the live grids (网格, units of level grid) whose
// ground a scenario's units overlap (by area, not along an edge): the
// grids the adjustment affects; loaded says whether any grids are live.
func gridsTouched(ctx context.Context, st *store.Store, id int64) (grids []string, loaded bool, err error) {
	if err := st.Reader().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM units WHERE level = 'grid' AND valid_to IS NULL)`).Scan(&loaded); err != nil || !loaded {
		return nil, false, err
	}
	rows, err := st.Reader().Query(ctx, `SELECT DISTINCT g.code || ' ' || g.name FROM units g
		JOIN scenario_units x ON x.scenario_id = $1 AND g.geom && x.geom AND ST_Relate(g.geom, x.geom, '2********')
		WHERE g.level = 'grid' AND g.valid_to IS NULL AND x.level <> 'grid' ORDER BY 1`, id)
	if err != nil {
		return nil, true, fmt.Errorf("grids: %w", err)
	}
	grids, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, true, fmt.Errorf("grids: %w", err)
	}
	return grids, true, nil
}
