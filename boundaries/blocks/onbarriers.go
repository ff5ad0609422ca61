package blocks

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// OnBarrierTolerance is how far (m) a boundary may lie from a barrier and
// still follow it: a road's centre line and a boundary drawn along the
// road are digitised apart.
const OnBarrierTolerance = 1.0

// OnBarriers is, for each row (key text, geom geometry) of lineSQL (args
// are its parameters), the share of the line's geodesic length lying
// within OnBarrierTolerance of a barrier: 1 for a boundary that follows
// roads and rivers all along, 0 for one that crosses blocks. A polygon
// counts by its outline; an empty line has share 0.
func OnBarriers(ctx context.Context, tx pgx.Tx, lineSQL string, args ...any) (map[string]float64, error) {
	// The barriers are clipped to each line's box before the buffer, so
	// only what can be near the line is buffered (in a metric projection,
	// which ::geography chooses).
	rows, err := tx.Query(ctx, `SELECT key, CASE WHEN tot > 0 THEN least(1, coalesce(ST_Length(ST_Intersection(g,
			(SELECT ST_Buffer(ST_Collect(ST_ClipByBox2D(b.geom, ST_Expand(g, 1e-4)::box2d))::geography, `+fmt.Sprint(OnBarrierTolerance)+`)::geometry
			 FROM barriers b WHERE b.geom && ST_Expand(g, 1e-4)))::geography), 0) / tot) ELSE 0 END
		FROM (SELECT l.key::text AS key, g, ST_Length(g::geography) AS tot FROM (
			SELECT key, CASE WHEN ST_Dimension(geom) = 2 THEN ST_Boundary(geom) ELSE geom END AS g
			FROM (`+lineSQL+`) s(key, geom)) l) x`, args...)
	if err != nil {
		return nil, fmt.Errorf("blocks: on barriers: %w", err)
	}
	out := map[string]float64{}
	for rows.Next() {
		var k string
		var share float64
		if err := rows.Scan(&k, &share); err != nil {
			rows.Close()
			return nil, fmt.Errorf("blocks: on barriers: %w", err)
		}
		out[k] = share
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("blocks: on barriers: %w", err)
	}
	return out, nil
}
