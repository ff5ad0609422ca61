package layers

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
)

// GridItem is one grid of a community as the map's panel lists it: its
// code, counts and status, and a label point inside it for its number.
type GridItem struct {
	Code       string   `json:"code"`
	Name       string   `json:"name"`
	Households *int64   `json:"households"`
	Status     string   `json:"status"`
	Reasons    []string `json:"reasons"`
	Lon        float64  `json:"lon"`
	Lat        float64  `json:"lat"`
}

// GridsOf lists the grids of a community valid on day at, by code, with
// the statuses of run (see Reader.Run): a few rows, read when a community
// is selected rather than with the map.
func (r *Reader) GridsOf(ctx context.Context, community string, at time.Time, run int64) ([]GridItem, error) {
	if at.IsZero() {
		at = today()
	}
	l, _ := ByName(boundaries.Grid.Layer())
	rows, err := r.st.Reader().Query(ctx, `SELECT code, name, households, status, reasons, ST_X(p), ST_Y(p) FROM (
			SELECT u.code, u.name, coalesce(r.households, u.households)::bigint households,
				coalesce(r.status, 'unknown') status, coalesce(r.reasons, '{}') reasons, ST_PointOnSurface(u.geom) p
			FROM `+l.From(false)+` AND u.parent_code = $3) g
		ORDER BY code COLLATE "C"`, run, at, community)
	if err != nil {
		return nil, fmt.Errorf("grids of %s: %w", community, err)
	}
	out := []GridItem{}
	var g GridItem
	if _, err := pgx.ForEachRow(rows, []any{&g.Code, &g.Name, &g.Households, &g.Status, &g.Reasons, &g.Lon, &g.Lat}, func() error {
		out = append(out, g)
		g = GridItem{}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("grids of %s: %w", community, err)
	}
	return out, nil
}
