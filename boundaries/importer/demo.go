package importer

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/store"
)

// LoadDemo imports a generated demo city (see package demo) through the
// normal importer: districts, streets, communities, grids (after their
// communities, boundaries.Levels' order), building points, then the road
// network (barriers).
// progress, when set, receives each file's progress.
func LoadDemo(ctx context.Context, st *store.Store, dir string, progress func(file string, done, total int64)) ([]*Report, error) {
	var reps []*Report
	prog := func(file string) func(int64, int64) {
		if progress == nil {
			return nil
		}
		return func(d, t int64) { progress(file, d, t) }
	}
	for _, l := range boundaries.Levels {
		file := l.Layer() + ".geojson"
		// Demos before grids have no grids file.
		if _, err := os.Stat(filepath.Join(dir, file)); l == boundaries.Grid && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		rep, err := Import(ctx, st, filepath.Join(dir, file), Options{
			Level: l, KindField: "kind", HouseholdsField: "households", PopulationField: "population",
			// The demo injects an orphan community and an orphan grid on
			// purpose, for the analysis to find.
			AllowOrphans: l == boundaries.Community || l == boundaries.Grid, Approval: "synthetic demo", Progress: prog(file),
		})
		if rep != nil {
			reps = append(reps, rep)
		}
		if err != nil {
			return reps, err
		}
	}
	rep, err := Points(ctx, st, filepath.Join(dir, demo.PointsFile), PointsOptions{Progress: prog(demo.PointsFile)})
	if rep != nil {
		reps = append(reps, rep)
	}
	if err != nil {
		return reps, err
	}
	// The road network, when the demo has one (manifests before version 2
	// did not).
	path := filepath.Join(dir, demo.BarriersFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return reps, nil
	}
	rep, err = Barriers(ctx, st, path, BarrierOptions{Progress: prog(demo.BarriersFile)})
	if rep != nil {
		reps = append(reps, rep)
	}
	return reps, err
}
