package boundaries

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twpayne/go-geom"

	"github.com/jiedao/jiedao/boundaries/layerfile"
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
}

// ImportPoints loads building or address points with households and
// population, used to count units by spatial join. All or nothing; a bad
// point is named in the report and nothing is written.
func (s *Store) ImportPoints(ctx context.Context, path string, opt PointsOptions) (*ImportReport, error) {
	return s.importCountSource(ctx, path, opt, false)
}

// ImportCountAreas loads polygons with counts (a census grid, last year's
// boundaries…): units without counts of their own get theirs by areal
// interpolation, weighted by area or, where building points lie in the
// polygon, by the points' households. Same options and rules as points.
func (s *Store) ImportCountAreas(ctx context.Context, path string, opt PointsOptions) (*ImportReport, error) {
	return s.importCountSource(ctx, path, opt, true)
}

func (s *Store) importCountSource(ctx context.Context, path string, opt PointsOptions, areas bool) (*ImportReport, error) {
	what, table := "import points", "points"
	if areas {
		what, table = "import count areas", "count_areas"
	}
	start := time.Now()
	if opt.HouseholdsField == "" {
		opt.HouseholdsField = "households"
	}
	if opt.PopulationField == "" {
		opt.PopulationField = "population"
	}
	if opt.Source == "" {
		opt.Source = filepath.Base(path)
	}
	sum, err := fileChecksum(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	rd, err := layerfile.Open(path, layerfile.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	defer rd.Close()
	crs, err := inputCRS(path, rd, opt.CRS)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	rep := &ImportReport{File: opt.Source, Checksum: sum, Level: Level(table), CRS: crs.Name, Repaired: []Issue{}, Rejected: []Issue{}}
	if err := s.Pool.QueryRow(ctx, `INSERT INTO imports (file, checksum, level) VALUES ($1,$2,$3) RETURNING id`,
		opt.Source, sum, table).Scan(&rep.ImportID); err != nil {
		return nil, fmt.Errorf("%s: record import: %w", what, err)
	}
	srid := crs.SRID
	if srid == 4490 {
		srid = 4326
	}
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE pstage (idx integer, households integer, population integer, geom geometry) ON COMMIT DROP`); err != nil {
			return err
		}
		src := pgx.CopyFromFunc(func() ([]any, error) {
			for {
				f, ok := rd.Next()
				if !ok {
					return nil, nil
				}
				rep.Features++
				if opt.Progress != nil && rep.Features%1024 == 0 {
					opt.Progress(rd.Progress())
				}
				reject := func(format string, args ...any) {
					rep.Rejected = append(rep.Rejected, Issue{Index: f.Index, Reason: fmt.Sprintf(format, args...)})
				}
				if f.Err != nil {
					reject("unreadable feature: %v", f.Err)
					continue
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
						continue
					}
				} else if pt, ok := g.(*geom.Point); !ok || pt.Empty() {
					reject("geometry is not a point")
					continue
				}
				if crs.Shift != geo.NoShift {
					geo.Transform(g, crs.Unshift)
				}
				if srid == 4326 {
					if err := geo.CheckLonLatRange(g); err != nil {
						reject("%v", err)
						continue
					}
				}
				row := []any{int32(f.Index), nil, nil, nil}
				bad := false
				for k, field := range []string{opt.HouseholdsField, opt.PopulationField} {
					n, ok, err := propCount(f.Props, field)
					if err != nil {
						reject("%s: %v", field, err)
						bad = true
						break
					}
					if ok {
						row[1+k] = int32(n)
					}
				}
				if bad {
					continue
				}
				g, err := geom.SetSRID(g, srid)
				if err != nil {
					reject("%v", err)
					continue
				}
				row[3] = g
				return row, nil
			}
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pstage"}, []string{"idx", "households", "population", "geom"}, src); err != nil {
			return fmt.Errorf("stage points: %w", err)
		}
		if err := rd.Err(); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if len(rep.Rejected) > 0 {
			return ErrRejected
		}
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
		return bumpDataVersion(ctx, tx)
	})
	return rep, s.finish(ctx, rep, start, err, what, "features")
}
