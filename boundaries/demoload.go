package boundaries

import (
	"context"
	"path/filepath"

	"github.com/jiedao/jiedao/boundaries/demo"
)

// LoadDemo imports a generated demo city (see package demo) through the
// normal importer: districts, streets, communities, then building points.
// progress, when set, receives each file's progress.
func (s *Store) LoadDemo(ctx context.Context, dir string, progress func(file string, done, total int64)) ([]*ImportReport, error) {
	var reps []*ImportReport
	prog := func(file string) func(int64, int64) {
		if progress == nil {
			return nil
		}
		return func(d, t int64) { progress(file, d, t) }
	}
	for _, l := range []Level{District, Street, Community} {
		file := l.Layer() + ".geojson"
		rep, err := s.Import(ctx, filepath.Join(dir, file), ImportOptions{
			Level: l, KindField: "kind", HouseholdsField: "households", PopulationField: "population",
			// The demo injects one orphan on purpose, for the analysis to find.
			AllowOrphans: l == Community, Approval: "synthetic demo", Progress: prog(file),
		})
		if rep != nil {
			reps = append(reps, rep)
		}
		if err != nil {
			return reps, err
		}
	}
	rep, err := s.ImportPoints(ctx, filepath.Join(dir, demo.PointsFile), PointsOptions{Progress: prog(demo.PointsFile)})
	if rep != nil {
		reps = append(reps, rep)
	}
	return reps, err
}
