package importer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twpayne/go-geom"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/layerfile"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/geo"
)

// BarrierClasses are the classes a barrier is stored with, from the
// hardest to cross to the easiest; the profile's blocks.classes maps a
// file's own words (主干道, motorway …) onto them.
var BarrierClasses = []string{"river", "rail", "trunk", "primary", "secondary", "wall", "residential", "alley"}

// BarrierOptions mirror `jiedao import-barriers`.
type BarrierOptions struct {
	CRS        *geo.CRS
	ClassField string // default "class"
	NameField  string // default "name"
	Append     bool   // keep the barriers already loaded
	Source     string
	Progress   func(done, total int64)
	Limits     Limits // zero: DefaultLimits
	// Classes maps a file's class values (free text: 主干道, 胡同,
	// motorway …) to BarrierClasses; the profile's blocks.classes.
	// Values already one of BarrierClasses need no entry.
	Classes map[string]string
}

// maxProjected bounds a projected coordinate (metres): the Earth is ~4e7 m
// round, so anything far beyond is a wrong CRS or a hostile file, which
// PROJ would turn into an error for the whole statement.
const maxProjected = 1e8

// Barriers loads the roads, rivers, railways and walls blocks are cut by:
// lines, and the outlines of polygons (water bodies, walled compounds),
// stored as MultiLineStrings in WGS84 with a class of BarrierClasses. All
// or nothing: a feature with an unknown class or a geometry that is no line
// is named in the report and nothing is written. A new file replaces the
// barriers unless appending; either way barriers_version moves on.
func Barriers(ctx context.Context, st *store.Store, path string, opt BarrierOptions) (*Report, error) {
	const what = "import barriers"
	start := time.Now()
	defaults(path, &opt.Source, nil, map[*string]string{&opt.ClassField: "class", &opt.NameField: "name"})
	classes, err := barrierClassMap(opt.Classes)
	if err != nil {
		return nil, boundaries.Invalid("%s %s: %v", what, opt.Source, err)
	}
	opt.Limits = opt.Limits.withDefaults()
	src, err := openSource(ctx, st, path, what, "barriers", opt.Source, opt.CRS, opt.Limits)
	if err != nil {
		return nil, err
	}
	defer src.rd.Close()
	rd, crs, srid, rep := src.rd, src.crs, src.srid, src.rep
	err = st.Tx(ctx, func(tx pgx.Tx) error {
		if err := holdImport(ctx, tx, rep.ImportID); err != nil {
			return err
		}
		if err := stageBarriers(ctx, tx, rd, barrierRows(rd, crs, srid, classes, opt, rep)); err != nil {
			return err
		}
		if len(rep.Rejected) == 0 {
			if err := checkStagedBarriers(ctx, tx, crs, rep); err != nil {
				return err
			}
		}
		if len(rep.Rejected) > 0 {
			return boundaries.ErrRejected
		}
		return insertBarriers(ctx, tx, opt, rep)
	})
	return rep, finish(ctx, st, rep, start, err, what, "features")
}

// barrierClassMap is the options' class table with keys folded (trimmed,
// lower case) so "Motorway " finds "motorway"; a target outside
// BarrierClasses is the profile's mistake, refused before reading.
func barrierClassMap(in map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(in)+len(BarrierClasses))
	for _, c := range BarrierClasses {
		out[c] = c
	}
	for k, v := range in {
		v = foldClass(v)
		if !slices.Contains(BarrierClasses, v) {
			return nil, fmt.Errorf("blocks.classes maps %q to %q, not one of %s", k, v, strings.Join(BarrierClasses, ", "))
		}
		out[foldClass(k)] = v
	}
	return out, nil
}

func foldClass(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// stageBarriers copies src's rows into bstage, then reports a read error that ended them early.
func stageBarriers(ctx context.Context, tx pgx.Tx, rd layerfile.Reader, src pgx.CopyFromSource) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE bstage (idx integer, class text, name text, geom geometry) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("create stage: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bstage"}, []string{"idx", "class", "name", "geom"}, src); err != nil {
		return fmt.Errorf("stage barriers: %w", err)
	}
	if err := rd.Err(); err != nil {
		return boundaries.Invalid("read: %v", err)
	}
	return nil
}

// barrierRows streams rd's features as bstage rows, counting, reporting progress, rejecting.
func barrierRows(rd layerfile.Reader, crs geo.CRS, srid int, classes map[string]string, opt BarrierOptions, rep *Report) pgx.CopyFromSource {
	lim := &counter{l: opt.Limits}
	return pgx.CopyFromFunc(func() ([]any, error) {
		for {
			f, ok := rd.Next()
			if !ok {
				if opt.Progress != nil {
					opt.Progress(rd.Progress())
				}
				return nil, nil
			}
			rep.Features++
			if err := lim.take(rep.Features, f.Index, f.Geom); err != nil {
				return nil, err
			}
			if opt.Progress != nil && rep.Features%1024 == 0 {
				opt.Progress(rd.Progress())
			}
			name := propString(f.Props, opt.NameField)
			reject := func(format string, args ...any) {
				rep.reject(Issue{Index: f.Index, Name: name, Reason: fmt.Sprintf(format, args...)})
			}
			if row, ok := barrierRow(f, crs, srid, classes, opt, reject); ok {
				return row, nil
			}
		}
	})
}

// barrierRow checks one feature and makes it a bstage row; false (after reject) if it cannot be.
func barrierRow(f layerfile.Feature, crs geo.CRS, srid int, classes map[string]string, opt BarrierOptions, reject func(format string, args ...any)) ([]any, bool) {
	if f.Err != nil {
		reject("unreadable feature: %v", f.Err)
		return nil, false
	}
	raw := propString(f.Props, opt.ClassField)
	class, ok := classes[foldClass(raw)]
	switch {
	case raw == "":
		reject("%s", missingClass(f.Props, opt.ClassField))
		return nil, false
	case !ok:
		reject("class %q is not one of %s (map it in the profile's blocks.classes)", raw, strings.Join(BarrierClasses, ", "))
		return nil, false
	}
	g := f.Geom
	if why := barrierGeomProblem(g); why != "" {
		reject("%s", why)
		return nil, false
	}
	if crs.Shift != geo.NoShift {
		geo.Transform(g, crs.Unshift)
	}
	if srid == 4326 {
		if err := geo.CheckLonLatRange(g); err != nil {
			reject("%v", err)
			return nil, false
		}
	} else if why := projectedRange(g); why != "" {
		reject("%s", why)
		return nil, false
	}
	g, err := geom.SetSRID(g, srid)
	if err != nil {
		reject("geometry: %v", err)
		return nil, false
	}
	var nameV any
	if n := propString(f.Props, opt.NameField); n != "" {
		nameV = n
	}
	return []any{int32(f.Index), class, nameV, g}, true
}

// missingClass words a feature without a class, naming the field looked for.
func missingClass(props map[string]any, field string) string {
	if _, ok := props[field]; ok {
		return fmt.Sprintf("missing class: field %s is empty", quoteField(field))
	}
	keys := sortedKeys(props)
	if len(keys) > maxListedFields {
		keys = keys[:maxListedFields]
	}
	return fmt.Sprintf("missing class: no field %s (the feature has %s; pass --class-field)", quoteField(field), strings.Join(keys, ", "))
}

// barrierGeomProblem says why g cannot be a barrier ("" when it can): a
// line needs two distinct points, a polygon well-formed rings (its outline
// is the barrier), and every ordinate must be finite.
func barrierGeomProblem(g geom.T) string {
	if g == nil || g.Empty() || g.Stride() < 2 {
		return "empty geometry"
	}
	switch t := g.(type) {
	case *geom.LineString:
		return lineProblem(t.FlatCoords(), t.Stride(), "line")
	case *geom.MultiLineString:
		for i := 0; i < t.NumLineStrings(); i++ {
			l := t.LineString(i)
			if why := lineProblem(l.FlatCoords(), l.Stride(), fmt.Sprintf("line %d", i+1)); why != "" {
				return why
			}
		}
		return ""
	case *geom.Polygon, *geom.MultiPolygon:
		for _, p := range geo.Validate(g) {
			if p.Reject {
				return p.Reason
			}
		}
		return ""
	}
	return fmt.Sprintf("geometry type %s is not a line or polygon", strings.TrimPrefix(fmt.Sprintf("%T", g), "*geom."))
}

// lineProblem checks one line's coordinates.
func lineProblem(flat []float64, stride int, what string) string {
	for _, v := range flat {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "non-finite coordinate"
		}
	}
	for i := stride; i+1 < len(flat); i += stride {
		if flat[i] != flat[0] || flat[i+1] != flat[1] {
			return ""
		}
	}
	return what + " has fewer than 2 distinct points"
}

// projectedRange says why a projected geometry's coordinates cannot be
// metres of a real place ("" when they can).
func projectedRange(g geom.T) string {
	flat, stride := g.FlatCoords(), g.Stride()
	for i := 0; i+1 < len(flat); i += stride {
		if math.Abs(flat[i]) > maxProjected || math.Abs(flat[i+1]) > maxProjected {
			return fmt.Sprintf("coordinate %d (%v, %v) is beyond %g m of the origin; is the CRS right?", i/stride+1, flat[i], flat[i+1], maxProjected)
		}
	}
	return ""
}

// checkStagedBarriers makes the staged geometries lines in WGS84 (polygons'
// outlines, in 2D) and rejects those that transform outside lon/lat. A
// failed transform (PROJ refusing the coordinates) refuses the file.
func checkStagedBarriers(ctx context.Context, tx pgx.Tx, crs geo.CRS, rep *Report) error {
	_, err := tx.Exec(ctx, `UPDATE bstage SET geom = ST_Multi(ST_CollectionExtract(ST_Force2D(ST_Transform(
			CASE WHEN ST_Dimension(geom) = 2 THEN ST_Boundary(geom) ELSE geom END, 4326)), 2))`)
	if err != nil {
		// PostGIS reports PROJ's refusal as a server error; anything
		// else (a lost connection, a cancel) is not the file's fault.
		var pe *pgconn.PgError
		if errors.As(err, &pe) && ctx.Err() == nil {
			return boundaries.Invalid("transform from %s: %s", crs.Name, pe.Message)
		}
		return fmt.Errorf("transform: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT idx, coalesce(name, '') FROM bstage
		WHERE ST_IsEmpty(geom) OR NOT (ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90)
		ORDER BY idx`)
	if err != nil {
		return fmt.Errorf("check barriers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var is Issue
		if err := rows.Scan(&is.Index, &is.Name); err != nil {
			return err
		}
		is.Reason = "outside lon [-180, 180], lat [-90, 90] once transformed from " + crs.Name + "; is the CRS right?"
		rep.reject(is)
	}
	return rows.Err()
}

// insertBarriers moves the staged rows into barriers, replacing them unless
// appending, and moves barriers_version on.
func insertBarriers(ctx context.Context, tx pgx.Tx, opt BarrierOptions, rep *Report) error {
	// Barriers are a snapshot of the city's roads and rivers: a new file
	// replaces the previous one unless appending.
	if !opt.Append {
		if _, err := tx.Exec(ctx, `DELETE FROM barriers`); err != nil {
			return fmt.Errorf("replace barriers: %w", err)
		}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO barriers (class, name, geom, import_id)
		SELECT class, name, geom, $1 FROM bstage ORDER BY idx`, rep.ImportID)
	if err != nil {
		return fmt.Errorf("insert barriers: %w", err)
	}
	rep.Created = int(tag.RowsAffected())
	// Units are unchanged, so analyses keyed on units_version stay; the
	// data version moves for the caches of the barriers layer's tiles.
	if _, err := tx.Exec(ctx, `UPDATE meta SET barriers_version = barriers_version + 1, data_version = data_version + 1`); err != nil {
		return fmt.Errorf("bump barriers version: %w", err)
	}
	return nil
}
