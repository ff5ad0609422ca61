package layers

import (
	"context"
	"fmt"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/store"
)

// ExtentQuery names what to bound: a layer of the registry (under a
// profile, with a scenario applied or not), or else the units valid on a
// day, all of them or those with Codes.
type ExtentQuery struct {
	Layer    string
	Codes    []string
	Profile  *analysis.Profile // layers only; nil: the default profile
	At       time.Time         // zero: today
	Scenario int64
}

// Extent is a spatial (CRS84) and temporal extent.
type Extent struct {
	BBox  *[4]float64 // [west, south, east, north]; nil when there is nothing
	Start *time.Time  // earliest valid_from of a layer's units (nil for zones and units)
}

// Extent bounds a layer (OGC collections), the units of a day (the map's
// first view) or some codes (where the map zooms for a finding).
func (r *Reader) Extent(ctx context.Context, q ExtentQuery) (Extent, error) {
	if q.At.IsZero() {
		q.At = today()
	}
	var ext Extent
	var x0, y0, x1, y1 *float64
	var err error
	switch {
	case q.Layer != "":
		var l *Layer
		var from string
		var args []any
		if l, from, args, err = r.Query(ctx, q.Layer, q.Profile, q.At, q.Scenario, nil); err != nil {
			return Extent{}, err
		}
		start := "NULL::date"
		if l.Level != "" {
			start = "(SELECT min(valid_from) FROM units WHERE level = '" + string(l.Level) + "')"
		}
		err = r.st.Reader().QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), `+start+`
			FROM (SELECT ST_Extent(`+l.Geom+`)::box3d e FROM `+from+`) x`, args...).Scan(&x0, &y0, &x1, &y1, &ext.Start)
	default:
		err = r.st.Reader().QueryRow(ctx, `SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x)
			FROM (SELECT ST_Extent(u.geom)::geometry AS x FROM units u
				WHERE (coalesce(cardinality($2::text[]), 0) = 0 OR u.code = ANY($2)) AND `+store.AsOf("u", 1)+`) e`,
			q.At, q.Codes).Scan(&x0, &y0, &x1, &y1)
	}
	if err != nil {
		return Extent{}, fmt.Errorf("extent of %s: %w", q.what(), err)
	}
	if x0 != nil {
		ext.BBox = &[4]float64{*x0, *y0, *x1, *y1}
	}
	return ext, nil
}

func (q ExtentQuery) what() string {
	switch {
	case q.Layer != "":
		return q.Layer
	case len(q.Codes) > 0:
		return fmt.Sprint(q.Codes)
	}
	return "units on " + q.At.Format("2006-01-02")
}

func today() time.Time { return boundaries.Today() }
