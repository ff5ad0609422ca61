package layers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
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
	// Interval, unless nil or one day, replaces At: every version valid at
	// any time in it, each once, with the analysis of its end day (today
	// when open-ended) for the versions valid then and none for the others.
	Interval *boundaries.Interval
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
	Offset    int     // rows skipped (after Cursor, when both are given)
	// Cursor is FeatureCursor.NextPage of the previous page: the page
	// starts after it. A malformed one is a QueryError on "cursor".
	Cursor  string
	NoCount bool // skip numberMatched
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
	if q.At.IsZero() {
		q.At = today()
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
		sql, args, err := l.compileFilter(q.Filter, q.FilterCRS, 2+len(extra))
		if err != nil {
			return nil, "", nil, &boundaries.QueryError{Param: "filter", Err: err}
		}
		conds = append(conds, sql)
		extra = append(extra, args...)
	}
	if q.ID != "" {
		conds = append(conds, "("+l.ID+") = "+arg(q.ID, "text"))
	}
	_, from, args, err := r.query(ctx, l.Name, q.Profile, q.At, q.Interval, q.Scenario, nil)
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

// FeatureCursor is one page of features, in id order.
type FeatureCursor struct {
	Matched int64 // features matching the filters, -1 with NoCount
	// NextPage is the cursor of the page after this one ("" on the last):
	// FeatureQuery.Cursor takes it.
	NextPage string
	feats    [][]byte
	i        int
}

// Next moves to the next feature of the page.
func (c *FeatureCursor) Next() bool {
	if c.i >= len(c.feats) {
		return false
	}
	c.i++
	return true
}

// Feature is the current feature's GeoJSON; it may be shared with the
// cache, so callers must not modify it.
func (c *FeatureCursor) Feature() []byte { return c.feats[c.i-1] }

// Err is nil: the page is read whole before it is returned.
func (c *FeatureCursor) Err() error { return nil }

// Close releases the page.
func (c *FeatureCursor) Close() { c.feats = nil }

// Features runs an items query: the page's ids first, then the GeoJSON of
// only those features, from the cache or, for the missing ones, from
// PostGIS in one query. The ids come from the query's key list when it is
// cached (numberMatched is its length), else from one repeatable-read
// transaction that reads the list (or, for very large results, the count
// and a keyset page) so count and page agree even while an import commits.
// The caller must Close the cursor.
func (r *Reader) Features(ctx context.Context, q FeatureQuery) (*FeatureCursor, error) {
	var after *featureCursor
	if q.Cursor != "" {
		k, err := parseFeatureCursor(q.Cursor)
		if err != nil {
			return nil, err
		}
		after = &k
	}
	l, from, args, err := r.featureSQL(ctx, &q)
	if err != nil {
		return nil, err
	}
	// A feature's bytes depend on the run, not on how its rows were chosen:
	// the run's day serves as the day of an interval too.
	day := q.At
	if iv := q.Interval; iv != nil {
		if d, one := iv.Day(); one {
			day = d
		} else {
			day = iv.End()
		}
	}
	set := featureSet{layer: l.Name, run: args[0].(int64), day: day, crs: q.CRS.URI}
	if set.data, err = r.st.CurrentDataVersion(ctx); err != nil {
		return nil, fmt.Errorf("features %s: %w", l.Name, err)
	}
	// The key list does not depend on the output CRS.
	listKey := fmt.Sprintf("%s\x00%d\x00%s\x00%#v", l.Name, set.data, from, args) // %#v quotes strings: unambiguous
	var p page
	c := &FeatureCursor{Matched: -1}
	if all, ok := r.features.list(listKey); ok && !q.NoCount {
		if p, ok = pageOf(all, after, q.Limit, q.Offset); ok {
			c.feats = make([][]byte, len(p.keys))
			if r.features.get(set, p.keys, c.feats) > 0 {
				err = r.fillFeatures(ctx, r.st.Reader(), l, q.CRS, set, from, args, &p, c)
			}
			return c.done(p, l, err)
		}
		p.matched = int64(len(all))
	} else {
		p.matched = -1
	}
	err = pgx.BeginTxFunc(ctx, r.st.Reader(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if p, err = r.readPage(ctx, tx, l, listKey, from, args, after, q, p.matched); err != nil {
			return err
		}
		c.feats = make([][]byte, len(p.keys))
		if r.features.get(set, p.keys, c.feats) > 0 {
			return r.fillFeatures(ctx, tx, l, q.CRS, set, from, args, &p, c)
		}
		return nil
	})
	return c.done(p, l, err)
}

// page is the keys of one page and what is known around it.
type page struct {
	keys    []featureKey
	first   int   // position of keys[0] among all the query's keys, -1 unknown
	more    bool  // another page follows
	matched int64 // numberMatched, -1 unknown
}

// done finishes the cursor of page p.
func (c *FeatureCursor) done(p page, l *Layer, err error) (*FeatureCursor, error) {
	if err != nil {
		return nil, fmt.Errorf("features %s: %w", l.Name, err)
	}
	c.Matched = p.matched
	if p.more && len(p.keys) > 0 {
		// Any position is safe as a hint: it is checked against the key.
		fc := featureCursor{featureKey: p.keys[len(p.keys)-1]}
		if p.first >= 0 {
			fc.Pos = int64(p.first + len(p.keys) - 1)
		}
		c.NextPage = fc.String()
	}
	return c, nil
}

// pageOf slices a page from all the query's keys; false when the cursor's
// position does not hold its key (the data moved since).
func pageOf(all []featureKey, after *featureCursor, limit, offset int) (page, bool) {
	start := 0
	if after != nil {
		if after.Pos >= int64(len(all)) || all[after.Pos] != after.featureKey {
			return page{}, false
		}
		start = int(after.Pos) + 1
	}
	start = min(start+offset, len(all))
	end := len(all)
	if limit > 0 {
		end = min(start+limit, len(all))
	}
	return page{keys: all[start:end], first: start, more: end < len(all), matched: int64(len(all))}, true
}

// readPage reads the keys of a page in tx. Unless told not to count (or
// matched is known), it reads all the query's keys, caches them and slices
// the page; a result too large to keep is counted, and then, like a cursor
// the list cannot place, paged by keyset.
func (r *Reader) readPage(ctx context.Context, tx pgx.Tx, l *Layer, listKey, from string, args []any,
	after *featureCursor, q FeatureQuery, matched int64) (page, error) {
	if !q.NoCount && matched < 0 {
		if n, ok := r.features.count(listKey); ok && n > maxListKeys {
			matched = n
		} else {
			all, _, err := pageKeys(ctx, tx, l, from, args, nil, 0, 0)
			if err != nil {
				return page{}, err
			}
			if len(all) <= maxListKeys {
				r.features.putList(listKey, all)
			} else {
				r.features.putCount(listKey, int64(len(all)))
			}
			if p, ok := pageOf(all, after, q.Limit, q.Offset); ok {
				return p, nil
			}
			matched = int64(len(all))
		}
	}
	var k *featureKey
	if after != nil {
		k = &after.featureKey
	}
	keys, more, err := pageKeys(ctx, tx, l, from, args, k, q.Limit, q.Offset)
	return page{keys: keys, first: -1, more: more, matched: matched}, err
}

// versionSQL is the second sort key: the version id where the layer has
// one (0 for a unit a scenario proposes), else 0.
func (l *Layer) versionSQL() string {
	if f, ok := l.Field("version_id"); ok {
		return "coalesce(" + f.SQL + ", 0)"
	}
	return "0::bigint"
}

// pageKeys selects the sort keys of a page, one more than limit to know
// whether another page follows. Only ids are read, so OFFSET skips narrow
// rows rather than encoded features.
func pageKeys(ctx context.Context, tx pgx.Tx, l *Layer, from string, args []any, after *featureKey, limit, offset int) ([]featureKey, bool, error) {
	args = slices.Clone(args)
	vid := l.versionSQL()
	sql := `SELECT (` + l.ID + `)::text, ` + vid + ` FROM ` + from
	if after != nil {
		args = append(args, after.ID, after.Version)
		sql += fmt.Sprintf(" AND ((%s)::text, %s) > ($%d::text, $%d::bigint)", l.ID, vid, len(args)-1, len(args))
	}
	sql += ` ORDER BY 1, 2`
	if limit > 0 {
		args = append(args, limit+1)
		sql += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	if offset > 0 {
		args = append(args, offset)
		sql += fmt.Sprintf(" OFFSET $%d", len(args))
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, false, fmt.Errorf("page ids: %w", err)
	}
	var keys []featureKey
	var k featureKey
	if _, err := pgx.ForEachRow(rows, []any{&k.ID, &k.Version}, func() error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		return nil, false, fmt.Errorf("page ids: %w", err)
	}
	if limit > 0 && len(keys) > limit {
		return keys[:limit], true, nil
	}
	return keys, false, nil
}

// querier is a transaction or a pool.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// fillFeatures encodes the features of p missing from c (nil) in one
// query, puts them in c and in the cache. A feature the query no longer
// finds (a write landed since its key was listed) is left out of the page.
func (r *Reader) fillFeatures(ctx context.Context, db querier, l *Layer, crs geo.CRS, set featureSet, from string, args []any, p *page, c *FeatureCursor) error {
	var ids []string
	for i, k := range p.keys {
		if c.feats[i] == nil {
			ids = append(ids, k.ID)
		}
	}
	args = append(slices.Clone(args), ids)
	rows, err := db.Query(ctx, `SELECT (`+l.ID+`)::text, `+l.versionSQL()+`, `+l.featureJSON(crs)+` FROM `+from+
		fmt.Sprintf(" AND (%s)::text = ANY($%d::text[])", l.ID, len(args)), args...)
	if err != nil {
		return fmt.Errorf("encode features: %w", err)
	}
	got := make(map[featureKey][]byte, len(ids))
	var k featureKey
	var b []byte
	if _, err := pgx.ForEachRow(rows, []any{&k.ID, &k.Version, &b}, func() error {
		got[k] = b // a fresh slice per row: pgx copies when scanning into []byte
		return nil
	}); err != nil {
		return fmt.Errorf("encode features: %w", err)
	}
	var fk []featureKey
	var fb [][]byte
	n := 0
	for i, k := range p.keys {
		f := c.feats[i]
		if f == nil {
			if f = got[k]; f == nil {
				slog.Debug("feature gone since its page was listed", "layer", l.Name, "id", k.ID, "version", k.Version)
				continue
			}
			fk, fb = append(fk, k), append(fb, f)
		}
		c.feats[n] = f
		n++
	}
	c.feats = c.feats[:n]
	r.features.put(set, fk, fb)
	return nil
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
