package boundaries

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"
)

// ExportOptions select what Export writes.
type ExportOptions struct {
	Layer   string    // districts, streets, communities or zones
	At      time.Time // zero: today
	Profile *Profile  // nil: the default profile
	// Scenario reads the boundaries with a scenario applied (0: live).
	Scenario int64
	Format   string // geojson (default) or csv
	// Equal filters on layer fields (e.g. parent_code, status).
	Equal map[string]string
	// WKT adds a geometry column to CSV output.
	WKT bool
}

// asOf is the SQL predicate for "the version valid on day $n".
func asOf(alias string, n int) string {
	return asOfExpr(alias, fmt.Sprintf("$%d", n))
}

// asOfExpr is asOf for any SQL expression of the day.
func asOfExpr(alias, day string) string {
	return fmt.Sprintf("(%[1]s.valid_from <= %[2]s AND (%[1]s.valid_to IS NULL OR %[1]s.valid_to > %[2]s))", alias, day)
}

// propsJSON is the SQL of a layer's properties as one JSON object.
func (l *Layer) propsJSON() string {
	var parts []string
	for _, f := range l.Fields {
		expr := f.SQL
		if f.Type == "number" {
			expr = "round((" + expr + ")::numeric, 6)"
		}
		parts = append(parts, "'"+f.Name+"', "+expr)
	}
	return "json_build_object(" + strings.Join(parts, ", ") + ")"
}

// Query resolves a layer for reading: the analysis run for the profile,
// day and scenario (0: the live boundaries), and the equality filters as
// SQL conditions with parameters from $3. It returns the FROM/WHERE clause
// and its arguments.
func (s *Store) Query(ctx context.Context, layer string, p *Profile, at time.Time, scenario int64, equal map[string]string) (*Layer, string, []any, error) {
	l, ok := LayerByName(layer)
	if !ok {
		return nil, "", nil, fmt.Errorf("unknown layer %q", layer)
	}
	if p == nil {
		var err error
		if p, err = LoadProfile(""); err != nil {
			return nil, "", nil, err
		}
	}
	if at.IsZero() {
		at = Today()
	}
	run, err := s.EnsureScenarioAnalysis(ctx, p, at, scenario)
	if err != nil {
		return nil, "", nil, err
	}
	from, args := l.From(scenario != 0), []any{run, at}
	for name, v := range equal {
		f, ok := l.Field(name)
		if !ok {
			return nil, "", nil, fmt.Errorf("layer %s has no field %q", layer, name)
		}
		args = append(args, v)
		from += fmt.Sprintf(" AND (%s)::text = $%d", f.SQL, len(args))
	}
	return l, from, args, nil
}

// Export streams a layer as an RFC 7946 GeoJSON FeatureCollection or CSV.
// Rows go from the database cursor to w; nothing is held in memory.
func (s *Store) Export(ctx context.Context, w io.Writer, opt ExportOptions) (int, error) {
	l, from, args, err := s.Query(ctx, opt.Layer, opt.Profile, opt.At, opt.Scenario, opt.Equal)
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var n int
	switch opt.Format {
	case "", "geojson":
		n, err = s.exportGeoJSON(ctx, bw, l, from, args)
	case "csv":
		n, err = s.exportCSV(ctx, bw, l, from, args, opt.WKT)
	default:
		return 0, fmt.Errorf("export: unknown format %q (want geojson or csv)", opt.Format)
	}
	if err != nil {
		return n, fmt.Errorf("export %s: %w", l.Name, err)
	}
	return n, bw.Flush()
}

func (s *Store) exportGeoJSON(ctx context.Context, w *bufio.Writer, l *Layer, from string, args []any) (int, error) {
	// The same feature SQL as OGC API items, in RFC 7946's CRS84.
	rows, err := s.Pool.Query(ctx, `SELECT `+l.featureJSON(CRS84)+` FROM `+from+` ORDER BY `+l.ID, args...)
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

func (s *Store) exportCSV(ctx context.Context, w *bufio.Writer, l *Layer, from string, args []any, wkt bool) (int, error) {
	var cols, header []string
	for _, f := range l.Fields {
		expr := f.SQL
		switch f.Type {
		case "array":
			expr = "array_to_string(" + expr + ", '; ')"
		case "number":
			expr = "round((" + expr + ")::numeric, 6)"
		}
		cols = append(cols, "coalesce(("+expr+")::text, '')")
		header = append(header, f.Name)
	}
	if wkt {
		cols = append(cols, "ST_AsText("+l.Geom+", 7)")
		header = append(header, "wkt")
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+from+` ORDER BY `+l.ID, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	// A BOM so Excel reads the Chinese names as UTF-8.
	w.WriteString("\ufeff")
	cw := csv.NewWriter(w)
	cw.Write(header)
	n := 0
	rec := make([]string, len(cols))
	ptrs := make([]any, len(cols))
	for i := range rec {
		ptrs[i] = &rec[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		cw.Write(rec)
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	cw.Flush()
	return n, cw.Error()
}
