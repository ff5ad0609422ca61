package units

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries"
)

// Fit is the tolerance an edited geometry is held to against its parent
// and siblings (the analysis profile's: the API passes the default one).
// A write that exceeds it is refused unless forced, and the warnings are
// then reported with the write.
type Fit struct {
	MinOutsideShare float64 // share of the unit's area outside its parent
	MinArea         float64 // m²: smaller pieces are slivers, not problems
}

// checkFit measures the geometry (geom: a prepared geometry, or nil for
// the version curID's) against the parent and the siblings valid on day.
func checkFit(ctx context.Context, tx pgx.Tx, f *Fit, code string, level boundaries.Level, parent *string, geom any, curID int64, day time.Time) ([]string, error) {
	if f == nil || parent == nil {
		return nil, nil
	}
	var problems []string
	var outside, share float64
	var found bool
	err := tx.QueryRow(ctx, `WITH g AS (SELECT coalesce($1::geometry, (SELECT geom FROM units WHERE version_id = $2)) AS geom)
		SELECT true, ST_Area(ST_Difference(g.geom, p.geom)::geography),
			ST_Area(ST_Difference(g.geom, p.geom)::geography) / nullif(ST_Area(g.geom::geography), 0)
		FROM g, units p WHERE p.code = $3 AND p.valid_from <= $4 AND (p.valid_to IS NULL OR p.valid_to > $4)`,
		geom, curID, *parent, day).Scan(&found, &outside, &share)
	if err != nil && err != pgx.ErrNoRows {
		return nil, fmt.Errorf("fit of %s in %s: %w", code, *parent, err)
	}
	if found && outside >= f.MinArea && share >= f.MinOutsideShare {
		problems = append(problems, fmt.Sprintf("%.1f%% of the geometry (%.0f m²) lies outside its parent %s (tolerance %.1f%%)",
			100*share, outside, *parent, 100*f.MinOutsideShare))
	}
	rows, err := tx.Query(ctx, `WITH g AS (SELECT coalesce($1::geometry, (SELECT geom FROM units WHERE version_id = $2)) AS geom)
		SELECT s.code, ST_Area(ST_Intersection(g.geom, s.geom)::geography) FROM g, units s
		WHERE s.level = $3 AND s.parent_code = $4 AND s.code <> $5 AND s.valid_from <= $6 AND (s.valid_to IS NULL OR s.valid_to > $6)
		  AND s.geom && g.geom AND ST_Relate(s.geom, g.geom, '2********') ORDER BY s.code`,
		geom, curID, string(level), *parent, code, day)
	if err != nil {
		return nil, fmt.Errorf("overlaps of %s: %w", code, err)
	}
	var sib string
	var area float64
	if _, err := pgx.ForEachRow(rows, []any{&sib, &area}, func() error {
		if area >= f.MinArea {
			problems = append(problems, fmt.Sprintf("overlaps %s by %.0f m²", sib, area))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("overlaps of %s: %w", code, err)
	}
	return problems, nil
}

// refuseMisfit is checkFit's verdict: a refusal naming the problems, or,
// forced, the problems as warnings of the write.
func refuseMisfit(problems []string, force bool, res *WriteResult) error {
	if len(problems) == 0 {
		return nil
	}
	if force {
		res.Warnings = problems
		return nil
	}
	return boundaries.Invalid("%s; send force=true to write it anyway", strings.Join(problems, "; "))
}
