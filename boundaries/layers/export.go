package layers

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/geo"
)

// ExportOptions select what Export writes.
type ExportOptions struct {
	Layer   string            // a layer of All: districts, streets, communities, grids, zones, barriers
	At      time.Time         // zero: today
	Profile *analysis.Profile // nil: the default profile
	// Interval, unless nil or one day, exports every version valid at any
	// time in it (see FeatureQuery.Interval); At is then ignored.
	Interval *boundaries.Interval
	// Scenario reads the boundaries with a scenario applied (0: live).
	Scenario int64
	Format   string // geojson (default) or csv
	// Equal filters on layer fields (e.g. parent_code, status).
	Equal map[string]string
	// WKT adds a geometry column to CSV output.
	WKT bool
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
func (r *Reader) Query(ctx context.Context, layer string, p *analysis.Profile, at time.Time, scenario int64, equal map[string]string) (*Layer, string, []any, error) {
	return r.query(ctx, layer, p, at, nil, scenario, equal)
}

// query is Query over an interval when iv is more than one day: the FROM
// clause is the layer's interval form, its $2 the interval as a daterange,
// and the run is of the interval's end day (today when open).
func (r *Reader) query(ctx context.Context, layer string, p *analysis.Profile, at time.Time, iv *boundaries.Interval,
	scenario int64, equal map[string]string) (*Layer, string, []any, error) {
	l, ok := ByName(layer)
	if !ok {
		return nil, "", nil, fmt.Errorf("unknown layer %q", layer)
	}
	if p == nil {
		var err error
		if p, err = analysis.LoadProfile(""); err != nil {
			return nil, "", nil, err
		}
	}
	if iv != nil {
		if day, one := iv.Day(); one {
			at, iv = day, nil
		} else if scenario != 0 {
			// A scenario is one day's boundaries with a proposal applied.
			return nil, "", nil, &boundaries.QueryError{Param: "datetime", Err: errors.New("intervals are not supported with scenario: give a day")}
		} else {
			at = iv.End()
		}
	}
	if at.IsZero() {
		at = today()
	}
	run, err := r.Run(ctx, p, at, scenario)
	if err != nil {
		return nil, "", nil, err
	}
	from, args := l.From(scenario != 0), []any{run, at}
	if iv != nil {
		from, args[1] = l.during, daterange(*iv)
	}
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

// daterange is iv as a PostgreSQL daterange literal; an open end is
// unbounded.
func daterange(iv boundaries.Interval) string {
	s := "["
	if !iv.From.IsZero() {
		s += iv.From.Format("2006-01-02")
	}
	s += ","
	if !iv.To.IsZero() {
		s += iv.To.Format("2006-01-02")
	}
	return s + "]"
}

// Export streams a layer as an RFC 7946 GeoJSON FeatureCollection or CSV.
// Rows go from the database cursor to w; nothing is held in memory.
func (r *Reader) Export(ctx context.Context, w io.Writer, opt ExportOptions) (int, error) {
	l, from, args, err := r.query(ctx, opt.Layer, opt.Profile, opt.At, opt.Interval, opt.Scenario, opt.Equal)
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var n int
	switch opt.Format {
	case "", "geojson":
		n, err = r.exportGeoJSON(ctx, bw, l, from, args)
	case "csv":
		n, err = r.exportCSV(ctx, bw, l, from, args, opt.WKT)
	default:
		return 0, fmt.Errorf("export: unknown format %q (want geojson or csv)", opt.Format)
	}
	if err != nil {
		return n, fmt.Errorf("export %s: %w", l.Name, err)
	}
	return n, bw.Flush()
}

func (r *Reader) exportGeoJSON(ctx context.Context, w io.Writer, l *Layer, from string, args []any) (int, error) {
	// The same feature SQL as OGC API items, in RFC 7946's CRS84.
	rows, err := r.st.Reader().Query(ctx, `SELECT `+l.featureJSON(geo.CRS84)+` FROM `+from+` ORDER BY `+l.ID+`, `+l.versionSQL(), args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	return WriteCollection(w, `{"type":"FeatureCollection","features":[`, rowCursor{rows}, func(int) string { return "\n]}\n" })
}

// Cursor is a stream of features, each one GeoJSON Feature valid until
// the next call of Next.
type Cursor interface {
	Next() bool
	Feature() []byte
	Err() error
}

// rowCursor reads features from the first column of rows.
type rowCursor struct{ rows pgx.Rows }

func (c rowCursor) Next() bool { return c.rows.Next() }

// Feature is the row's bytes as received: RawValues is valid until the
// next call, so there is no copy per feature.
func (c rowCursor) Feature() []byte { return c.rows.RawValues()[0] }
func (c rowCursor) Err() error      { return c.rows.Err() }

// WriteCollection streams features as the members of a GeoJSON features
// array, one per line: head opens the collection and its array, tail(n)
// closes them after the n features written. Downloads, zones and OGC API
// pages all write through it.
func WriteCollection(w io.Writer, head string, fs Cursor, tail func(n int) string) (int, error) {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriterSize(w, 64<<10)
		defer bw.Flush()
	}
	if _, err := bw.WriteString(head); err != nil {
		return 0, err
	}
	n := 0
	for fs.Next() {
		if n > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		if _, err := bw.Write(fs.Feature()); err != nil {
			return n, err
		}
		n++
	}
	if err := fs.Err(); err != nil {
		return n, err
	}
	_, err := bw.WriteString(tail(n))
	return n, err
}

func (r *Reader) exportCSV(ctx context.Context, w *bufio.Writer, l *Layer, from string, args []any, wkt bool) (int, error) {
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
	rows, err := r.st.Reader().Query(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+from+` ORDER BY `+l.ID+`, `+l.versionSQL(), args...)
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

// ZonesGeoJSON streams the zones of a run as a GeoJSON FeatureCollection.
func (r *Reader) ZonesGeoJSON(ctx context.Context, run int64, w io.Writer) (int, error) {
	rows, err := r.st.Reader().Query(ctx, `SELECT json_build_object('type', 'Feature', 'id', z.id,
			'geometry', ST_AsGeoJSON(z.geom, 7)::json,
			'properties', json_build_object('id', z.id, 'kind', z.kind, 'level', z.level, 'codes', z.codes, 'part', z.part,
				'area_m2', round(z.area_m2::numeric, 1), 'households', z.households, 'population', z.population))::text
		FROM zones z WHERE z.run_id = $1 ORDER BY z.kind, z.codes, z.part`, run)
	if err != nil {
		return 0, fmt.Errorf("zones of run %d: %w", run, err)
	}
	defer rows.Close()
	return WriteCollection(w, `{"type":"FeatureCollection","features":[`, rowCursor{rows}, func(int) string { return "\n]}\n" })
}
