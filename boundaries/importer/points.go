package importer

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twpayne/go-geom"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/layerfile"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/geo"
)

// PointsOptions mirror `jiedao import-points`.
type PointsOptions struct {
	CRS             *geo.CRS
	HouseholdsField string // default "households"
	PopulationField string // default "population"
	Source          string
	Append          bool // keep the points already loaded
	Progress        func(done, total int64)
	Limits          Limits // zero: DefaultLimits
}

// Points loads building or address points with households and
// population, used to count units by spatial join. All or nothing; a bad
// point is named in the report and nothing is written.
func Points(ctx context.Context, st *store.Store, path string, opt PointsOptions) (*Report, error) {
	return countSource(ctx, st, path, opt, false)
}

// CountAreas loads polygons with counts (a census grid, last year's
// boundaries…): units without counts of their own get theirs by areal
// interpolation, weighted by area or, where building points lie in the
// polygon, by the points' households. Same options and rules as points.
func CountAreas(ctx context.Context, st *store.Store, path string, opt PointsOptions) (*Report, error) {
	return countSource(ctx, st, path, opt, true)
}

// countSource is Points (areas false) and CountAreas (areas true): one all-or-nothing import.
func countSource(ctx context.Context, st *store.Store, path string, opt PointsOptions, areas bool) (*Report, error) {
	what, table := "import points", "points"
	if areas {
		what, table = "import count areas", "count_areas"
	}
	start := time.Now()
	defaults(path, &opt.Source, nil, map[*string]string{&opt.HouseholdsField: "households", &opt.PopulationField: "population"})
	opt.Limits = opt.Limits.withDefaults()
	src, err := openSource(ctx, st, path, what, table, opt.Source, opt.CRS, opt.Limits)
	if err != nil {
		return nil, err
	}
	defer src.rd.Close()
	rd, crs, srid, rep := src.rd, src.crs, src.srid, src.rep
	err = st.Tx(ctx, func(tx pgx.Tx) error {
		if err := holdImport(ctx, tx, rep.ImportID); err != nil {
			return err
		}
		if err := stageCountSource(ctx, tx, rd, pointRows(rd, crs, srid, opt, areas, rep)); err != nil {
			return err
		}
		if len(rep.Rejected) > 0 {
			return boundaries.ErrRejected
		}
		return insertCountSource(ctx, tx, table, areas, opt, rep)
	})
	return rep, finish(ctx, st, rep, start, err, what, "features")
}

// stageCountSource copies src's rows into pstage, then reports a read error that ended them early.
func stageCountSource(ctx context.Context, tx pgx.Tx, rd layerfile.Reader, src pgx.CopyFromSource) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE pstage (idx integer, households integer, population integer, geom geometry) ON COMMIT DROP`); err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pstage"}, []string{"idx", "households", "population", "geom"}, src); err != nil {
		return fmt.Errorf("stage points: %w", err)
	}
	if err := rd.Err(); err != nil {
		return boundaries.Invalid("read: %v", err)
	}
	return nil
}

// pointRows streams rd's features as pstage rows, counting, reporting progress, rejecting.
func pointRows(rd layerfile.Reader, crs geo.CRS, srid int, opt PointsOptions, areas bool, rep *Report) pgx.CopyFromSource {
	lim := &counter{l: opt.Limits}
	return pgx.CopyFromFunc(func() ([]any, error) {
		for {
			f, ok := rd.Next()
			if !ok {
				return nil, nil
			}
			rep.Features++
			if err := lim.take(rep.Features, f.Index, f.Geom); err != nil {
				return nil, err
			}
			if opt.Progress != nil && rep.Features%1024 == 0 {
				opt.Progress(rd.Progress())
			}
			reject := func(format string, args ...any) {
				rep.reject(Issue{Index: f.Index, Reason: fmt.Sprintf(format, args...)})
			}
			if row, ok := pointRow(f, crs, srid, opt, areas, reject); ok {
				return row, nil
			}
		}
	})
}

// pointRow checks one feature and makes it a pstage row; false (after reject) if it cannot be.
func pointRow(f layerfile.Feature, crs geo.CRS, srid int, opt PointsOptions, areas bool, reject func(format string, args ...any)) ([]any, bool) {
	if f.Err != nil {
		reject("unreadable feature: %v", f.Err)
		return nil, false
	}
	g := f.Geom
	if areas {
		bad := ""
		for _, p := range geo.Validate(g) {
			if p.Reject {
				bad = p.Reason
				break
			}
		}
		if bad != "" {
			reject("%s", bad)
			return nil, false
		}
	} else if pt, ok := g.(*geom.Point); !ok || pt.Empty() {
		reject("geometry is not a point")
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
	}
	row := []any{int32(f.Index), nil, nil, nil}
	for k, field := range []string{opt.HouseholdsField, opt.PopulationField} {
		n, ok, err := boundaries.ParseCount(f.Props[field])
		if err != nil {
			reject("%s: %v", field, err)
			return nil, false
		}
		if ok {
			row[1+k] = int32(n)
		}
	}
	g, err := geom.SetSRID(g, srid)
	if err != nil {
		reject("%v", err)
		return nil, false
	}
	row[3] = g
	return row, true
}

// insertCountSource moves the staged rows into table, replacing its contents unless appending.
func insertCountSource(ctx context.Context, tx pgx.Tx, table string, areas bool, opt PointsOptions, rep *Report) error {
	// Points are a snapshot of where households live: a new file
	// replaces the previous one unless appending.
	if !opt.Append {
		if _, err := tx.Exec(ctx, `DELETE FROM `+table); err != nil {
			return fmt.Errorf("replace %s: %w", table, err)
		}
	}
	geomSQL := `ST_Transform(geom, 4326)`
	if areas {
		// Polygons are repaired like boundaries (polygonal part kept).
		geomSQL = `ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Transform(geom, 4326)), 3))`
	}
	tag, err := tx.Exec(ctx, `INSERT INTO `+table+` (geom, households, population, import_id)
			SELECT `+geomSQL+`, households, population, $1 FROM pstage ORDER BY idx`, rep.ImportID)
	if err != nil {
		return fmt.Errorf("insert %s: %w", table, err)
	}
	rep.Created = int(tag.RowsAffected())
	return store.BumpDataVersion(ctx, tx)
}

// source is a file opened for one of the all-or-nothing imports of
// features that are not units (points, count areas, barriers): its reader,
// CRS, the SRID its coordinates are stored under, and the report, whose
// import is recorded.
type source struct {
	rd   layerfile.Reader
	crs  geo.CRS
	srid int
	rep  *Report
}

// openSource checksums and opens path, settles its CRS and records the
// import (level: the table it fills). The caller closes rd.
func openSource(ctx context.Context, st *store.Store, path, what, level, name string, crsOpt *geo.CRS, lim Limits) (*source, error) {
	sum, err := fileChecksum(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	rd, err := layerfile.Open(path, lim.open())
	if err != nil {
		return nil, boundaries.Invalid("%s %s: %v", what, name, err)
	}
	crs, err := inputCRS(path, rd, crsOpt)
	if err != nil {
		rd.Close()
		return nil, boundaries.Invalid("%s %s: %v", what, name, err)
	}
	rep := &Report{File: name, Checksum: sum, Level: boundaries.Level(level), CRS: crs.Name, Repaired: []Issue{}, Rejected: []Issue{}}
	if err := st.Primary().QueryRow(ctx, `INSERT INTO imports (file, checksum, level) VALUES ($1,$2,$3) RETURNING id`,
		name, sum, level).Scan(&rep.ImportID); err != nil {
		rd.Close()
		return nil, fmt.Errorf("%s: record import: %w", what, err)
	}
	// CGCS2000 coordinates are stored as WGS84 (they agree within a metre).
	srid := crs.SRID
	if srid == 4490 {
		srid = 4326
	}
	return &source{rd: rd, crs: crs, srid: srid, rep: rep}, nil
}
