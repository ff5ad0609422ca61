package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/jiedao/jiedao/boundaries/store"
)

// Street is a street a scenario changes: the parent of a proposed unit or
// of a live community it removes.
type Street struct {
	Code     string `json:"code"`
	Name     string `json:"name"`     // on the day asked ("" when none)
	Proposed int    `json:"proposed"` // units of the scenario in it
	Removed  int    `json:"removed"`  // live communities it loses
}

// Streets lists the streets scenario id changes, named on day. A removed
// community's street is its live parent; a proposed unit names its own.
func Streets(ctx context.Context, st *store.Store, id int64, day time.Time) ([]Street, error) {
	rows, err := st.Reader().Query(ctx, `WITH p AS (
			SELECT parent_code AS code, count(*) AS proposed, 0 AS removed FROM scenario_units
			WHERE scenario_id = $1 AND level = 'community' AND parent_code IS NOT NULL GROUP BY parent_code
			UNION ALL
			SELECT u.parent_code, 0, count(*) FROM scenario_removed r
			JOIN units u ON u.code = r.code AND u.level = 'community' AND `+store.AsOf("u", 2)+`
			WHERE r.scenario_id = $1 AND u.parent_code IS NOT NULL GROUP BY u.parent_code)
		SELECT p.code, coalesce(max(s.name), ''), sum(p.proposed)::int, sum(p.removed)::int FROM p
		LEFT JOIN units s ON s.code = p.code AND `+store.AsOf("s", 2)+`
		GROUP BY p.code ORDER BY p.code`, id, day)
	if err != nil {
		return nil, fmt.Errorf("scenario %d streets: %w", id, err)
	}
	defer rows.Close()
	out := []Street{}
	for rows.Next() {
		var s Street
		if err := rows.Scan(&s.Code, &s.Name, &s.Proposed, &s.Removed); err != nil {
			return nil, fmt.Errorf("scenario %d streets: %w", id, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scenario %d streets: %w", id, err)
	}
	return out, nil
}

// NewBoundaries is the scenario's new community boundaries (what its units
// draw that the live communities of the streets it changes do not; for a
// scenario of grids only, its new grid boundaries), as a
// GeoJSON FeatureCollection of lines with on_barrier: true where a line
// follows a barrier (within a metre), false where it crosses blocks. With
// no barriers loaded every line is on_barrier false and barriers is false.
func NewBoundaries(ctx context.Context, st *store.Store, id int64, day time.Time) (fc []byte, barriers bool, err error) {
	// 1e-6° (≈ 0.1 m) around the live boundaries: the same line drawn again.
	err = st.Reader().QueryRow(ctx, `WITH lv AS (SELECT coalesce(min(level), 'community') AS level FROM scenario_units WHERE scenario_id = $1),
		su AS (SELECT parent_code, geom FROM scenario_units WHERE scenario_id = $1 AND level = (SELECT level FROM lv)),
		live AS (SELECT ST_Union(ST_Boundary(u.geom)) AS e FROM units u
			WHERE u.level = (SELECT level FROM lv) AND `+store.AsOf("u", 2)+` AND u.parent_code IN (SELECT parent_code FROM su)),
		nb AS (SELECT coalesce(ST_Difference(ST_Union(ST_Boundary(su.geom)), ST_Buffer((SELECT e FROM live), 1e-6)),
			ST_Union(ST_Boundary(su.geom))) AS g FROM su),
		bar AS (SELECT ST_Buffer(ST_Collect(b.geom)::geography, 1)::geometry AS g FROM barriers b, nb WHERE b.geom && nb.g),
		parts AS (SELECT true AS on_barrier, ST_CollectionExtract(ST_Intersection(nb.g, bar.g), 2) AS g FROM nb, bar WHERE bar.g IS NOT NULL
			UNION ALL SELECT false, ST_CollectionExtract(coalesce(ST_Difference(nb.g, bar.g), nb.g), 2) FROM nb, bar)
		SELECT EXISTS (SELECT 1 FROM barriers), json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object('type', 'Feature',
			'properties', json_build_object('on_barrier', on_barrier), 'geometry', ST_AsGeoJSON(g, 6)::json)), '[]'))::text
		FROM parts WHERE g IS NOT NULL AND NOT ST_IsEmpty(g)`, id, day).Scan(&barriers, &fc)
	if err != nil {
		return nil, false, fmt.Errorf("scenario %d new boundaries: %w", id, err)
	}
	return fc, barriers, nil
}
