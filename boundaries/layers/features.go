package layers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/cql2"
	"github.com/jiedao/jiedao/geo"
)

// geomSQL is the expression of a stored (EPSG:4326 lon/lat) geometry in c.
func geomSQL(c geo.CRS, g string) string {
	if c.Stored() != 4326 {
		g = fmt.Sprintf("ST_Transform(%s, %d)", g, c.SRID)
	}
	if c.Flip {
		g = "ST_FlipCoordinates(" + g + ")"
	}
	return g
}

// digits of GeoJSON coordinates: 7 decimals of a degree are about 1 cm;
// projected CRSs get 0.1 mm so output matches ST_Transform to the mm.
func digits(c geo.CRS) int {
	if c.Geographic {
		return 7
	}
	return 4
}

// Queryables are the fields a filter may use: every non-array field, plus
// the geometry. Arrays (reasons, codes) cannot be compared in Basic CQL2.
func (l *Layer) Queryables() []Field {
	var out []Field
	for _, f := range l.Fields {
		if f.Type != "array" {
			out = append(out, f)
		}
	}
	return out
}

func (l *Layer) cqlQueryables() map[string]cql2.Queryable {
	m := map[string]cql2.Queryable{"geometry": {SQL: l.Geom, Type: "geometry"}}
	for _, f := range l.Fields {
		m[f.Name] = cql2.Queryable{SQL: f.SQL, Type: f.Type}
	}
	return m
}

// FeatureQuery is one OGC API items (or single item) request.
type FeatureQuery struct {
	Layer   string
	Profile *analysis.Profile // nil: the default profile
	At      time.Time         // zero: today
	// Scenario reads the boundaries with a scenario applied (0: live).
	Scenario int64
	// Equal are property filters (?status=oversized): each value is read
	// as the field's type, so parent_code=110101005 stays a string and
	// households=3000 is a number.
	Equal map[string]string
	// BBox is minx,miny,maxx,maxy (or 6 numbers with z) in BBoxCRS axis order.
	BBox    []float64
	BBoxCRS geo.CRS
	// Filter is CQL2 text; FilterCRS the CRS of its geometry literals.
	Filter    string
	FilterCRS geo.CRS
	CRS       geo.CRS // output CRS (zero: CRS84)
	ID        string  // one feature
	Limit     int     // 0: no limit
	Offset    int
	NoCount   bool // skip numberMatched
}

// featureSQL resolves the query into the layer, its FROM/WHERE clause with
// every condition, and the arguments.
func (r *Reader) featureSQL(ctx context.Context, q *FeatureQuery) (*Layer, string, []any, error) {
	l, ok := ByName(q.Layer)
	if !ok {
		return nil, "", nil, fmt.Errorf("unknown layer %q: %w", q.Layer, boundaries.ErrNotFound)
	}
	if q.CRS.URI == "" {
		q.CRS = geo.CRS84
	}
	if q.BBoxCRS.URI == "" {
		q.BBoxCRS = geo.CRS84
	}
	if q.FilterCRS.URI == "" {
		q.FilterCRS = geo.CRS84
	}
	// Validate everything the client sent before the (possibly slow)
	// analysis, so bad requests fail fast.
	var conds []string
	var extra []any
	arg := func(v any, cast string) string {
		extra = append(extra, v)
		return fmt.Sprintf("$%d::%s", 2+len(extra), cast)
	}
	for name, v := range q.Equal {
		f, ok := l.Field(name)
		if !ok {
			return nil, "", nil, &boundaries.QueryError{Param: name, Err: fmt.Errorf("layer %s has no queryable %q", l.Name, name)}
		}
		cond, err := equalCond(f, v, arg)
		if err != nil {
			return nil, "", nil, &boundaries.QueryError{Param: name, Err: err}
		}
		conds = append(conds, cond)
	}
	if q.BBox != nil {
		b := q.BBox
		switch len(b) {
		case 4:
		case 6:
			b = []float64{b[0], b[1], b[3], b[4]}
		default:
			return nil, "", nil, &boundaries.QueryError{Param: "bbox", Err: fmt.Errorf("want 4 or 6 numbers, got %d", len(b))}
		}
		if q.BBoxCRS.Flip {
			b = []float64{b[1], b[0], b[3], b[2]}
		}
		for _, v := range b {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, "", nil, &boundaries.QueryError{Param: "bbox", Err: errors.New("not a finite number")}
			}
		}
		if b[0] > b[2] || b[1] > b[3] {
			return nil, "", nil, &boundaries.QueryError{Param: "bbox", Err: errors.New("minimum greater than maximum")}
		}
		env := fmt.Sprintf("ST_MakeEnvelope(%s, %s, %s, %s, %d)", arg(b[0], "float8"), arg(b[1], "float8"),
			arg(b[2], "float8"), arg(b[3], "float8"), q.BBoxCRS.Stored())
		if q.BBoxCRS.Stored() != 4326 {
			// Densified first: a projected box's edges are curves in lon/lat.
			env = fmt.Sprintf("ST_Transform(ST_Segmentize(%s, greatest(%s - %s, %s - %s) / 32), 4326)",
				env, arg(b[2], "float8"), arg(b[0], "float8"), arg(b[3], "float8"), arg(b[1], "float8"))
		}
		conds = append(conds, "ST_Intersects("+l.Geom+", "+env+")")
	}
	if q.Filter != "" {
		sql, args, err := cql2.Compile(q.Filter, cql2.Options{Queryables: l.cqlQueryables(),
			SRID: q.FilterCRS.Stored(), FlipAxes: q.FilterCRS.Flip, ArgBase: 2 + len(extra)})
		if err != nil {
			return nil, "", nil, &boundaries.QueryError{Param: "filter", Err: err}
		}
		conds = append(conds, sql)
		extra = append(extra, args...)
	}
	if q.ID != "" {
		conds = append(conds, "("+l.ID+") = "+arg(q.ID, "text"))
	}
	_, from, args, err := r.Query(ctx, l.Name, q.Profile, q.At, q.Scenario, nil)
	if err != nil {
		return nil, "", nil, err
	}
	for _, c := range conds {
		from += " AND " + c
	}
	return l, from, append(args, extra...), nil
}

// equalCond is the condition field = value with value read as the field's type.
func equalCond(f Field, v string, arg func(any, string) string) (string, error) {
	switch f.Type {
	case "integer":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%q is not an integer", v)
		}
		return "(" + f.SQL + ") = " + arg(n, "bigint"), nil
	case "number":
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return "", fmt.Errorf("%q is not a number", v)
		}
		return "(" + f.SQL + ") = " + arg(n, "float8"), nil
	case "boolean":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "", fmt.Errorf("%q is not true or false", v)
		}
		return "(" + f.SQL + ") = " + arg(b, "boolean"), nil
	case "date":
		d, err := boundaries.ParseDate(v)
		if err != nil {
			return "", err
		}
		return "(" + f.SQL + ") = " + arg(d, "date"), nil
	case "array":
		return arg(v, "text") + " = ANY(" + f.SQL + ")", nil
	}
	return "(" + f.SQL + ") = " + arg(v, "text"), nil
}

// featureJSON is the SQL of one GeoJSON feature as text. It is built by
// concatenation rather than json_build_object so the geometry, already
// JSON from ST_AsGeoJSON, is not parsed again (a third of the time on large
// polygons). Option 0: no "crs" member, the Content-Crs header says it.
func (l *Layer) featureJSON(c geo.CRS) string {
	return `'{"type":"Feature","id":' || to_json(` + l.ID + `)::text || ',"geometry":' || ` +
		fmt.Sprintf("ST_AsGeoJSON(%s, %d, 0)", geomSQL(c, l.Geom), digits(c)) +
		` || ',"properties":' || ` + l.propsJSON() + `::text || '}'`
}

// FeatureCursor streams the features of a page from the database cursor.
type FeatureCursor struct {
	Matched int64 // features matching the filters, -1 with NoCount
	rowCursor
	tx  pgx.Tx
	ctx context.Context
}

// Features runs an items query. Count and page are read in one
// repeatable-read transaction so numberMatched agrees with the pages even
// while an import commits. The caller must Close the cursor.
func (r *Reader) Features(ctx context.Context, q FeatureQuery) (*FeatureCursor, error) {
	l, from, args, err := r.featureSQL(ctx, &q)
	if err != nil {
		return nil, err
	}
	tx, err := r.st.Reader().BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("features %s: begin: %w", l.Name, err)
	}
	c := &FeatureCursor{Matched: -1, tx: tx, ctx: ctx}
	if !q.NoCount {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+from, args...).Scan(&c.Matched); err != nil {
			tx.Rollback(ctx) //nolint:errcheck
			return nil, fmt.Errorf("features %s: count: %w", l.Name, err)
		}
	}
	sql := `SELECT ` + l.featureJSON(q.CRS) + ` FROM ` + from + ` ORDER BY ` + l.ID
	if q.Limit > 0 {
		args = append(args, q.Limit)
		sql += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	if q.Offset > 0 {
		args = append(args, q.Offset)
		sql += fmt.Sprintf(" OFFSET $%d", len(args))
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		tx.Rollback(ctx) //nolint:errcheck
		return nil, fmt.Errorf("features %s: %w", l.Name, err)
	}
	c.rows = rows
	return c, nil
}

// Close releases the cursor and its transaction.
func (c *FeatureCursor) Close() {
	c.rows.Close()
	c.tx.Rollback(context.WithoutCancel(c.ctx)) //nolint:errcheck
}

// Feature returns one feature's GeoJSON, or ErrNotFound.
func (r *Reader) Feature(ctx context.Context, q FeatureQuery) ([]byte, error) {
	q.NoCount, q.Limit, q.Offset = true, 1, 0
	c, err := r.Features(ctx, q)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if !c.Next() {
		if err := c.Err(); err != nil {
			return nil, fmt.Errorf("feature %s/%s: %w", q.Layer, q.ID, err)
		}
		return nil, fmt.Errorf("feature %s/%s: %w", q.Layer, q.ID, boundaries.ErrNotFound)
	}
	return append([]byte(nil), c.Feature()...), nil
}
