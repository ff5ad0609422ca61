package importer

import (
	"context"
	"fmt"
	"log/slog"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/twpayne/go-geom"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/geo"
)

// The shift guard: coordinates of Chinese web maps (GCJ-02, BD-09) read as
// WGS84 are ~500 m off and valid in every other respect. Where the parent
// level is loaded, the share of the new units' area inside their parents
// tells: as given it is poor, after undoing the shift it is near total.
const (
	// shiftSample bounds the features measured (spread evenly over the
	// file): the shift is the file's, so a sample shows it as well as all.
	shiftSample = 2000
	// A shift is named when undoing it brings the share inside to
	// shiftFit or more, gains at least shiftGain, and cuts the share
	// outside at least shiftShrink-fold: moving right data by ~500 m
	// makes it fit worse, never fourfold better. shiftFit is not 0.99
	// because files from two sources fit less than perfectly even in the
	// right CRS (the Dongcheng streets: 98.5% inside their district).
	shiftFit    = 0.95
	shiftGain   = 0.01
	shiftShrink = 4.0
)

// shiftOffsets is what undoing GCJ-02 and BD-09 would move a feature by
// (gcj dx, dy, bd dx, dy in degrees), taken at the centre of its bounds:
// the shift varies by metres across a street (at most some tens of metres
// across any unit, its periodic terms being small), so a translation does
// for the guard what the exact transform would. nil when there is no centre.
func shiftOffsets(g geom.T) []any {
	b := g.Bounds()
	if b.Layout() == geom.NoLayout || b.IsEmpty() {
		return []any{nil, nil, nil, nil}
	}
	cx, cy := (b.Min(0)+b.Max(0))/2, (b.Min(1)+b.Max(1))/2
	gx, gy := geo.FromGCJ02(cx, cy)
	bx, by := geo.FromBD09(cx, cy)
	out := []any{gx - cx, gy - cy, bx - cx, by - cy}
	for _, v := range out {
		if f := v.(float64); math.IsNaN(f) || math.IsInf(f, 0) {
			return []any{nil, nil, nil, nil}
		}
	}
	return out
}

// shiftFits are the shares of the measured area inside the parents.
type shiftFits struct {
	Features       int     // features measured
	Given, GCJ, BD float64 // as given, after undoing GCJ-02, after undoing BD-09
}

// verdict names the shift whose undoing fits markedly better, or NoShift.
func (f shiftFits) verdict() geo.Shift {
	best, fit := geo.NoShift, f.Given
	for _, c := range []struct {
		s   geo.Shift
		fit float64
	}{{geo.ShiftGCJ02, f.GCJ}, {geo.ShiftBD09, f.BD}} {
		if c.fit > fit {
			best, fit = c.s, c.fit
		}
	}
	if f.Features == 0 || best == geo.NoShift || fit < shiftFit || fit-f.Given < shiftGain || 1-f.Given < shiftShrink*(1-fit) {
		return geo.NoShift
	}
	return best
}

// checkShift refuses an import whose CRS was defaulted to WGS84 when its
// units fit their loaded parents (valid on the import's day) markedly
// better with GCJ-02 or BD-09 undone. One query, on the staged rows.
func checkShift(ctx context.Context, tx pgx.Tx, opt Options, rep *Report) error {
	pl := opt.Level.Parent()
	if pl == "" {
		return nil
	}
	fits, err := measureShift(ctx, tx, pl, opt, rep.Features)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("check CRS against the %ss: %w", pl, err)
		}
		// The guard only advises: a geometry PostGIS cannot intersect
		// must not fail an import the other checks passed.
		slog.Warn("import: CRS check skipped", "file", opt.Source, "err", err)
		return nil
	}
	var what string
	var after float64
	switch fits.verdict() {
	case geo.ShiftGCJ02:
		what, after = "looks like GCJ-02 coordinates (Amap/Tencent): re-run with --crs gcj02", fits.GCJ
	case geo.ShiftBD09:
		what, after = "looks like BD-09 coordinates (Baidu): re-run with --crs bd09", fits.BD
	default:
		return nil
	}
	return boundaries.Invalid("%s (the file states no CRS, so it was read as WGS84: %.1f%% of the area of %d features lies inside their parent %ss as given, %.1f%% with the shift undone; --crs wgs84 imports it as given)",
		what, 100*fits.Given, fits.Features, pl, 100*after)
}

// measureShift computes the shares inside the parents in a savepoint, so
// that a failure leaves the import's transaction usable.
func measureShift(ctx context.Context, tx pgx.Tx, pl boundaries.Level, opt Options, features int) (shiftFits, error) {
	var f shiftFits
	sp, err := tx.Begin(ctx)
	if err != nil {
		return f, err
	}
	defer sp.Rollback(ctx) //nolint:errcheck // released below when it worked
	// Covered and disjoint pieces skip the intersection, the costly part.
	err = sp.QueryRow(ctx, `WITH m AS (
			SELECT c.k, ST_Area(c.g) AS area,
				CASE WHEN ST_CoveredBy(c.g, p.geom) THEN ST_Area(c.g)
				     WHEN NOT ST_Intersects(c.g, p.geom) THEN 0
				     ELSE ST_Area(ST_Intersection(c.g, p.geom)) END AS inside
			FROM stage s
			JOIN units p ON p.code = s.parent_code AND p.level = $1
				AND p.valid_from <= $2::date AND (p.valid_to IS NULL OR p.valid_to > $2::date)
			CROSS JOIN LATERAL (VALUES (0, s.geom),
				(1, ST_Translate(s.geom, s.gcj_dx, s.gcj_dy)),
				(2, ST_Translate(s.geom, s.bd_dx, s.bd_dy))) AS c(k, g)
			WHERE s.gcj_dx IS NOT NULL AND s.idx % $3 = 0)
		SELECT count(*) FILTER (WHERE k = 0),
			coalesce(sum(inside) FILTER (WHERE k = 0) / nullif(sum(area) FILTER (WHERE k = 0), 0), 0),
			coalesce(sum(inside) FILTER (WHERE k = 1) / nullif(sum(area) FILTER (WHERE k = 1), 0), 0),
			coalesce(sum(inside) FILTER (WHERE k = 2) / nullif(sum(area) FILTER (WHERE k = 2), 0), 0)
		FROM m`, string(pl), opt.ValidFrom, max(1, features/shiftSample)).Scan(&f.Features, &f.Given, &f.GCJ, &f.BD)
	if err != nil {
		return f, err
	}
	return f, sp.Commit(ctx)
}
