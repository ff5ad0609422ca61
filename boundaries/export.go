package boundaries

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"time"
)

// ExportOptions select what Export writes.
type ExportOptions struct {
	Level  Level
	At     time.Time // zero: today
	Format string    // geojson (default) or csv
	// WKT adds a geometry column to CSV output.
	WKT bool
}

// asOf is the SQL predicate for "the version valid on day $n".
func asOf(alias string, n int) string {
	return fmt.Sprintf("(%[1]s.valid_from <= $%[2]d AND (%[1]s.valid_to IS NULL OR %[1]s.valid_to > $%[2]d))", alias, n)
}

// unitProps is the JSON of an exported unit's properties; area is geodesic,
// on the WGS84 ellipsoid (PostGIS geography), as everywhere in jiedao.
const unitProps = `json_build_object('code', u.code, 'name', u.name, 'level', u.level, 'parent_code', u.parent_code,
	'kind', u.kind, 'households', u.households, 'population', u.population,
	'area_km2', round((ST_Area(u.geom::geography) / 1e6)::numeric, 6), 'provisional', u.provisional,
	'valid_from', u.valid_from, 'valid_to', u.valid_to)`

// Export streams the units of one level valid on a day, as an RFC 7946
// GeoJSON FeatureCollection or CSV. Rows go from the database cursor to w;
// nothing is held in memory.
func (s *Store) Export(ctx context.Context, w io.Writer, opt ExportOptions) (int, error) {
	at := opt.At
	if at.IsZero() {
		at = Today()
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var n int
	var err error
	switch opt.Format {
	case "", "geojson":
		n, err = s.exportGeoJSON(ctx, bw, opt.Level, at)
	case "csv":
		n, err = s.exportCSV(ctx, bw, opt.Level, at, opt.WKT)
	default:
		return 0, fmt.Errorf("export: unknown format %q (want geojson or csv)", opt.Format)
	}
	if err != nil {
		return n, fmt.Errorf("export %s: %w", opt.Level.Layer(), err)
	}
	return n, bw.Flush()
}

func (s *Store) exportGeoJSON(ctx context.Context, w *bufio.Writer, l Level, at time.Time) (int, error) {
	rows, err := s.Pool.Query(ctx, `SELECT json_build_object('type', 'Feature', 'id', u.code,
			'geometry', ST_AsGeoJSON(u.geom, 7)::json, 'properties', `+unitProps+`)::text
		FROM units u WHERE u.level = $1 AND `+asOf("u", 2)+` ORDER BY u.code`, string(l), at)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	if _, err := w.WriteString(`{"type":"FeatureCollection","features":[`); err != nil {
		return 0, err
	}
	n := 0
	for rows.Next() {
		var f []byte
		if err := rows.Scan(&f); err != nil {
			return n, err
		}
		if n > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('\n')
		if _, err := w.Write(f); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	_, err = w.WriteString("\n]}\n")
	return n, err
}

func (s *Store) exportCSV(ctx context.Context, w *bufio.Writer, l Level, at time.Time, wkt bool) (int, error) {
	rows, err := s.Pool.Query(ctx, `SELECT u.code, u.name, u.level, coalesce(u.parent_code, ''), coalesce(u.kind, ''),
			coalesce(u.households::text, ''), coalesce(u.population::text, ''),
			round((ST_Area(u.geom::geography) / 1e6)::numeric, 6)::text, u.provisional::text,
			u.valid_from::text, coalesce(u.valid_to::text, ''), CASE WHEN $3 THEN ST_AsText(u.geom, 7) ELSE '' END
		FROM units u WHERE u.level = $1 AND `+asOf("u", 2)+` ORDER BY u.code`, string(l), at, wkt)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	// A BOM so Excel reads the Chinese names as UTF-8.
	w.WriteString("\ufeff")
	cw := csv.NewWriter(w)
	header := []string{"code", "name", "level", "parent_code", "kind", "households", "population", "area_km2", "provisional", "valid_from", "valid_to"}
	if wkt {
		header = append(header, "wkt")
	}
	cw.Write(header)
	n := 0
	rec := make([]string, 12)
	for rows.Next() {
		ptrs := make([]any, 12)
		for i := range rec {
			ptrs[i] = &rec[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		if wkt {
			cw.Write(rec)
		} else {
			cw.Write(rec[:11])
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	cw.Flush()
	return n, cw.Error()
}
