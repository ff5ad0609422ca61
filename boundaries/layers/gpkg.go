package layers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jiedao/jiedao/boundaries/layerfile"
)

// gpkgSelect is the SQL of a field as the value stored in the GeoPackage.
func gpkgSelect(f Field) string {
	switch f.Type {
	case "integer":
		return "(" + f.SQL + ")::bigint"
	case "number":
		return "(" + f.SQL + ")::float8"
	case "boolean":
		return "(" + f.SQL + ")::boolean"
	case "date":
		return "to_char(" + f.SQL + ", 'YYYY-MM-DD')"
	case "array":
		return "array_to_string(" + f.SQL + ", '; ')"
	}
	return "(" + f.SQL + ")::text"
}

// ExportGPKG writes a layer as a GeoPackage at path (replaced if it
// exists): one feature table named after the layer, EPSG:4326, the layer's
// fields as columns and an R-tree spatial index, readable by GDAL and QGIS
// (the format is layerfile's writer). SQLite needs a file, so HTTP
// downloads build into a temp file and stream it. Rows go from the PostGIS
// cursor straight into SQLite.
func (r *Reader) ExportGPKG(ctx context.Context, path string, opt ExportOptions) (int, error) {
	l, from, args, err := r.query(ctx, opt.Layer, opt.Profile, opt.At, opt.Interval, opt.Scenario, opt.Equal)
	if err != nil {
		return 0, fmt.Errorf("export gpkg: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("export gpkg: %w", err)
	}
	n, err := r.writeGPKG(ctx, path, l, from, args)
	if err != nil {
		return n, fmt.Errorf("export gpkg %s: %w", l.Name, err)
	}
	return n, nil
}

func (r *Reader) writeGPKG(ctx context.Context, path string, l *Layer, from string, args []any) (int, error) {
	cols := make([]layerfile.GPKGColumn, len(l.Fields))
	sel := []string{"ST_AsBinary(ST_Multi(" + l.Geom + "), 'NDR')"}
	for i, f := range l.Fields {
		cols[i] = layerfile.GPKGColumn{Name: f.Name, Type: f.Type}
		sel = append(sel, gpkgSelect(f))
	}
	w, err := layerfile.CreateGPKG(ctx, path, l.Name, l.Title, cols)
	if err != nil {
		return 0, err
	}
	defer w.Abort()
	rows, err := r.st.Reader().Query(ctx, `SELECT `+strings.Join(sel, ", ")+` FROM `+from+` ORDER BY `+l.ID+`, `+l.versionSQL(), args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		raw, err := rows.Values()
		if err != nil {
			return w.Count(), err
		}
		wkb, _ := raw[0].([]byte)
		if err := w.Add(ctx, wkb, raw[1:]); err != nil {
			return w.Count(), fmt.Errorf("feature %d: %w", w.Count()+1, err)
		}
	}
	if err := rows.Err(); err != nil {
		return w.Count(), err
	}
	return w.Count(), w.Close(ctx)
}
