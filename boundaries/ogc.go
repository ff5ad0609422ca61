package boundaries

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries/cql2"
)

// CRS is a coordinate reference system OGC API clients may ask for.
type CRS struct {
	URI  string
	SRID int // PostGIS SRID to ST_Transform to; 4326 means no transform
	// Flip: the CRS's authoritative axis order is latitude/northing first,
	// while PostGIS (like GeoJSON) always writes x=easting/longitude first.
	Flip    bool
	Degrees bool
}

// The CRSs of OGC API Features Part 2. CGCS2000 (EPSG:4490) is treated as
// identical to WGS84, as everywhere in jiedao: they differ by centimetres.
var (
	CRS84    = CRS{"http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326, false, true}
	EPSG4326 = CRS{"http://www.opengis.net/def/crs/EPSG/0/4326", 4326, true, true}
	EPSG4490 = CRS{"http://www.opengis.net/def/crs/EPSG/0/4490", 4326, true, true}
	// EPSG:4548 (CGCS2000 / 3-degree Gauss-Kruger CM 117E) defines
	// northing (X) before easting (Y) — `projinfo EPSG:4548` — so it is
	// flipped like the geographic EPSG CRSs.
	EPSG4548 = CRS{"http://www.opengis.net/def/crs/EPSG/0/4548", 4548, true, false}
	EPSG3857 = CRS{"http://www.opengis.net/def/crs/EPSG/0/3857", 3857, false, false}
)

// SupportedCRS lists the output CRSs, storage CRS first.
var SupportedCRS = []CRS{CRS84, EPSG4326, EPSG4490, EPSG4548, EPSG3857}

// StorageCRS is the CRS of the stored geometries (EPSG:4326 in lon/lat order).
var StorageCRS = CRS84

// ParseCRS accepts a CRS URI (http or https), a safe CURIE ([EPSG:4326]),
// EPSG:<n>, OGC:CRS84 or CRS84.
func ParseCRS(s string) (CRS, error) {
	v := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "["), "]")
	v = strings.Replace(v, "https://", "http://", 1)
	up := strings.ToUpper(v)
	for _, c := range SupportedCRS {
		code := c.URI[strings.LastIndex(c.URI, "/")+1:]
		switch {
		case v == c.URI,
			code == "CRS84" && (up == "CRS84" || up == "OGC:CRS84"),
			code != "CRS84" && (up == "EPSG:"+code || up == "EPSG::"+code):
			return c, nil
		}
	}
	var names []string
	for _, c := range SupportedCRS {
		names = append(names, c.URI)
	}
	return CRS{}, fmt.Errorf("unsupported CRS %q (supported: %s)", s, strings.Join(names, ", "))
}

// geomSQL is the expression of a stored (EPSG:4326 lon/lat) geometry in c.
func (c CRS) geomSQL(g string) string {
	if c.SRID != 4326 {
		g = fmt.Sprintf("ST_Transform(%s, %d)", g, c.SRID)
	}
	if c.Flip {
		g = "ST_FlipCoordinates(" + g + ")"
	}
	return g
}

// digits of GeoJSON coordinates: 7 decimals of a degree are about 1 cm;
// projected CRSs get 0.1 mm so output matches ST_Transform to the mm.
func (c CRS) digits() int {
	if c.Degrees {
		return 7
	}
	return 4
}

// QueryError is a request the client got wrong (→ 400), naming the parameter.
type QueryError struct {
	Param string
	Err   error
}

func (e *QueryError) Error() string { return e.Param + ": " + e.Err.Error() }
func (e *QueryError) Unwrap() error { return e.Err }

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
	Profile *Profile  // nil: the default profile
	At      time.Time // zero: today
	// Scenario reads the boundaries with a scenario applied (0: live).
	Scenario int64
	// Equal are property filters (?status=oversized): each value is read
	// as the field's type, so parent_code=110101005 stays a string and
	// households=3000 is a number.
	Equal map[string]string
	// BBox is minx,miny,maxx,maxy (or 6 numbers with z) in BBoxCRS axis order.
	BBox    []float64
	BBoxCRS CRS
	// Filter is CQL2 text; FilterCRS the CRS of its geometry literals.
	Filter    string
	FilterCRS CRS
	CRS       CRS    // output CRS (zero: CRS84)
	ID        string // one feature
	Limit     int    // 0: no limit
	Offset    int
	NoCount   bool // skip numberMatched
}

// featureSQL resolves the query into the layer, its FROM/WHERE clause with
// every condition, and the arguments.
func (s *Store) featureSQL(ctx context.Context, q *FeatureQuery) (*Layer, string, []any, error) {
	l, ok := LayerByName(q.Layer)
	if !ok {
		return nil, "", nil, fmt.Errorf("unknown layer %q: %w", q.Layer, ErrNotFound)
	}
	if q.CRS.URI == "" {
		q.CRS = CRS84
	}
	if q.BBoxCRS.URI == "" {
		q.BBoxCRS = CRS84
	}
	if q.FilterCRS.URI == "" {
		q.FilterCRS = CRS84
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
			return nil, "", nil, &QueryError{name, fmt.Errorf("layer %s has no queryable %q", l.Name, name)}
		}
		cond, err := equalCond(f, v, arg)
		if err != nil {
			return nil, "", nil, &QueryError{name, err}
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
			return nil, "", nil, &QueryError{"bbox", fmt.Errorf("want 4 or 6 numbers, got %d", len(b))}
		}
		if q.BBoxCRS.Flip {
			b = []float64{b[1], b[0], b[3], b[2]}
		}
		for _, v := range b {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, "", nil, &QueryError{"bbox", errors.New("not a finite number")}
			}
		}
		if b[0] > b[2] || b[1] > b[3] {
			return nil, "", nil, &QueryError{"bbox", errors.New("minimum greater than maximum")}
		}
		env := fmt.Sprintf("ST_MakeEnvelope(%s, %s, %s, %s, %d)", arg(b[0], "float8"), arg(b[1], "float8"),
			arg(b[2], "float8"), arg(b[3], "float8"), q.BBoxCRS.SRID)
		if q.BBoxCRS.SRID != 4326 {
			// Densified first: a projected box's edges are curves in lon/lat.
			env = fmt.Sprintf("ST_Transform(ST_Segmentize(%s, greatest(%s - %s, %s - %s) / 32), 4326)",
				env, arg(b[2], "float8"), arg(b[0], "float8"), arg(b[3], "float8"), arg(b[1], "float8"))
		}
		conds = append(conds, "ST_Intersects("+l.Geom+", "+env+")")
	}
	if q.Filter != "" {
		sql, args, err := cql2.Compile(q.Filter, cql2.Options{Queryables: l.cqlQueryables(),
			SRID: q.FilterCRS.SRID, FlipAxes: q.FilterCRS.Flip, ArgBase: 2 + len(extra)})
		if err != nil {
			return nil, "", nil, &QueryError{"filter", err}
		}
		conds = append(conds, sql)
		extra = append(extra, args...)
	}
	if q.ID != "" {
		conds = append(conds, "("+l.ID+") = "+arg(q.ID, "text"))
	}
	_, from, args, err := s.Query(ctx, l.Name, q.Profile, q.At, q.Scenario, nil)
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
		d, err := ParseDate(v)
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
func (l *Layer) featureJSON(c CRS) string {
	return `'{"type":"Feature","id":' || to_json(` + l.ID + `)::text || ',"geometry":' || ` +
		fmt.Sprintf("ST_AsGeoJSON(%s, %d, 0)", c.geomSQL(l.Geom), c.digits()) +
		` || ',"properties":' || ` + l.propsJSON() + `::text || '}'`
}

// FeatureCursor streams the features of a page from the database cursor.
type FeatureCursor struct {
	Matched int64 // features matching the filters, -1 with NoCount
	tx      pgx.Tx
	rows    pgx.Rows
	cur     []byte
	ctx     context.Context
}

// Features runs an items query. Count and page are read in one
// repeatable-read transaction so numberMatched agrees with the pages even
// while an import commits. The caller must Close the cursor.
func (s *Store) Features(ctx context.Context, q FeatureQuery) (*FeatureCursor, error) {
	l, from, args, err := s.featureSQL(ctx, &q)
	if err != nil {
		return nil, err
	}
	tx, err := s.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
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

// Next advances to the next feature.
func (c *FeatureCursor) Next() bool {
	if !c.rows.Next() {
		return false
	}
	// RawValues is valid until the next call: no copy per feature.
	c.cur = c.rows.RawValues()[0]
	return true
}

// Feature is the current feature's GeoJSON, valid until Next.
func (c *FeatureCursor) Feature() []byte { return c.cur }

// Err is the error that ended the iteration, if any.
func (c *FeatureCursor) Err() error { return c.rows.Err() }

// Close releases the cursor and its transaction.
func (c *FeatureCursor) Close() {
	c.rows.Close()
	c.tx.Rollback(context.WithoutCancel(c.ctx)) //nolint:errcheck
}

// Feature returns one feature's GeoJSON, or ErrNotFound.
func (s *Store) Feature(ctx context.Context, q FeatureQuery) ([]byte, error) {
	q.NoCount, q.Limit, q.Offset = true, 1, 0
	c, err := s.Features(ctx, q)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if !c.Next() {
		if err := c.Err(); err != nil {
			return nil, fmt.Errorf("feature %s/%s: %w", q.Layer, q.ID, err)
		}
		return nil, fmt.Errorf("feature %s/%s: %w", q.Layer, q.ID, ErrNotFound)
	}
	return append([]byte(nil), c.Feature()...), nil
}

// Extent is a layer's spatial (CRS84) and temporal extent.
type Extent struct {
	BBox  *[4]float64 // nil when the layer is empty
	Start *time.Time  // earliest valid_from of its units (nil for zones)
}

// LayerExtent computes the extent of a layer on a day under a profile.
func (s *Store) LayerExtent(ctx context.Context, layer string, p *Profile, at time.Time, scenario int64) (Extent, error) {
	l, from, args, err := s.Query(ctx, layer, p, at, scenario, nil)
	if err != nil {
		return Extent{}, err
	}
	var ext Extent
	var x0, y0, x1, y1 *float64
	start := "NULL::date"
	if l.Level != "" {
		start = "(SELECT min(valid_from) FROM units WHERE level = '" + string(l.Level) + "')"
	}
	err = s.Pool.QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), `+start+`
		FROM (SELECT ST_Extent(`+l.Geom+`)::box3d e FROM `+from+`) x`, args...).Scan(&x0, &y0, &x1, &y1, &ext.Start)
	if err != nil {
		return Extent{}, fmt.Errorf("extent of %s: %w", l.Name, err)
	}
	if x0 != nil {
		ext.BBox = &[4]float64{*x0, *y0, *x1, *y1}
	}
	return ext, nil
}

// china is the zone of Chinese calendar days (no DST since 1991).
var china = time.FixedZone("CST", 8*3600)

// ParseDatetime reads the OGC datetime parameter as the as-of day: a date
// (2024-06-30) or an instant (2024-06-30T12:00:00Z, taken as the calendar
// day in China, where the boundaries' valid_from dates are decided).
// Intervals are refused: every feature is one version valid on one day,
// and the analysis is per day.
func ParseDatetime(v string) (time.Time, error) {
	if strings.Contains(v, "/") {
		return time.Time{}, fmt.Errorf("%q: intervals are not supported; give a date (YYYY-MM-DD) or an instant (RFC 3339)", v)
	}
	if d, err := time.Parse("2006-01-02", v); err == nil {
		return d, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a date (YYYY-MM-DD) or an instant (RFC 3339)", v)
	}
	y, m, d := t.In(china).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}
