package layerfile

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/wkb"
	"github.com/twpayne/go-geom/encoding/wkbcommon"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

type gpkgReader struct {
	path    string
	db      *sql.DB
	rows    *sql.Rows
	cols    []gpkgColumn // attribute columns, in query order after the geometry
	vals    []any
	ptrs    []any
	prj     string
	srid    int
	index   int
	total   int64
	doneCnt atomic.Int64
	done    bool
	err     error
}

type gpkgColumn struct {
	name     string
	declType string // upper-case declared type, e.g. "BOOLEAN", "DATE"
}

func openGeoPackage(path string, opts Options) (Reader, error) {
	// sqlite would create a missing file (or fail with a vague message in
	// read-only mode), so check first.
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// A "file:" URI so that SQLite honours mode=ro; '?', '#' and '%' in the
	// path would otherwise be read as URI syntax.
	dsn := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs)) + "?mode=ro"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection: the rows cursor holds it for the whole read and no
	// other query runs meanwhile.
	db.SetMaxOpenConns(1)
	r := &gpkgReader{path: path, db: db}
	if err := r.init(opts); err != nil {
		db.Close()
		return nil, err
	}
	return r, nil
}

// gpkgLayer is one feature table, as gpkg_contents and gpkg_geometry_columns list it.
type gpkgLayer struct {
	table, geomCol string
	srsID          int64
}

// init picks the layer, reads its CRS and attribute columns, and opens the cursor over its rows.
func (r *gpkgReader) init(opts Options) error {
	layers, err := r.featureLayers()
	if err != nil {
		return err
	}
	l, err := pickLayer(layers, opts.Layer)
	if err != nil {
		return err
	}
	if err := r.readCRS(l.srsID); err != nil {
		return err
	}
	pks, err := r.readColumns(l)
	if err != nil {
		return err
	}
	return r.openRows(l, pks)
}

// featureLayers lists the feature tables in gpkg_contents order (unreadable: no GeoPackage).
func (r *gpkgReader) featureLayers() ([]gpkgLayer, error) {
	rows, err := r.db.Query(`
		SELECT c.table_name, g.column_name, g.srs_id
		FROM gpkg_contents c
		JOIN gpkg_geometry_columns g ON lower(g.table_name) = lower(c.table_name)
		WHERE lower(c.data_type) = 'features'
		ORDER BY c.rowid`)
	if err != nil {
		return nil, fmt.Errorf("not a GeoPackage (cannot read gpkg_contents/gpkg_geometry_columns): %w", err)
	}
	var layers []gpkgLayer
	for rows.Next() {
		var l gpkgLayer
		if err := rows.Scan(&l.table, &l.geomCol, &l.srsID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read gpkg_contents: %w", err)
		}
		layers = append(layers, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read gpkg_contents: %w", err)
	}
	if len(layers) == 0 {
		return nil, errors.New("the GeoPackage has no feature table")
	}
	return layers, nil
}

// pickLayer returns the layer called name (any case, last match wins); name "": the first.
func pickLayer(layers []gpkgLayer, name string) (*gpkgLayer, error) {
	var l *gpkgLayer
	if name == "" {
		l = &layers[0]
	} else {
		var names []string
		for i := range layers {
			names = append(names, layers[i].table)
			if strings.EqualFold(layers[i].table, name) {
				l = &layers[i]
			}
		}
		if l == nil {
			return nil, fmt.Errorf("no feature table %q in the GeoPackage (it has %s)", name, strings.Join(names, ", "))
		}
	}
	return l, nil
}

// readCRS sets r.srid and r.prj from the layer's gpkg_spatial_ref_sys row, if there is one.
func (r *gpkgReader) readCRS(srsID int64) error {
	// The CRS. srs_id 0 and -1 are the "undefined" systems the spec
	// requires, whose definition is the word "undefined".
	var org, def sql.NullString
	var orgID sql.NullInt64
	err := r.db.QueryRow(`SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = ?`, srsID).
		Scan(&org, &orgID, &def)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("read gpkg_spatial_ref_sys: %w", err)
	default:
		if strings.EqualFold(org.String, "EPSG") && orgID.Int64 > 0 {
			r.srid = int(orgID.Int64)
		}
		if d := strings.TrimSpace(def.String); !strings.EqualFold(d, "undefined") {
			r.prj = d
		}
	}
	return nil
}

// readColumns sets r.cols to the attribute columns and returns the primary key columns.
func (r *gpkgReader) readColumns(l *gpkgLayer) (pks []string, err error) {
	// Attribute columns: all but the primary key and the geometry.
	ti, err := r.db.Query(`SELECT name, type, pk FROM pragma_table_info(?)`, l.table)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %q: %w", l.table, err)
	}
	for ti.Next() {
		var name, typ string
		var pk int
		if err := ti.Scan(&name, &typ, &pk); err != nil {
			ti.Close()
			return nil, fmt.Errorf("read the columns of %q: %w", l.table, err)
		}
		switch {
		case pk > 0:
			pks = append(pks, name)
		case strings.EqualFold(name, l.geomCol):
		default:
			r.cols = append(r.cols, gpkgColumn{name: name, declType: strings.ToUpper(strings.TrimSpace(typ))})
		}
	}
	ti.Close()
	if err := ti.Err(); err != nil {
		return nil, fmt.Errorf("read the columns of %q: %w", l.table, err)
	}
	return pks, nil
}

// openRows counts the rows (for Progress) and opens the cursor that Next reads.
func (r *gpkgReader) openRows(l *gpkgLayer, pks []string) error {
	if err := r.db.QueryRow(`SELECT count(*) FROM ` + quoteIdent(l.table)).Scan(&r.total); err != nil {
		return fmt.Errorf("count the rows of %q: %w", l.table, err)
	}

	sel := []string{quoteIdent(l.geomCol)}
	for _, c := range r.cols {
		sel = append(sel, quoteIdent(c.name))
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + quoteIdent(l.table)
	if len(pks) == 1 {
		q += " ORDER BY " + quoteIdent(pks[0]) // the rowid alias: free, and stable
	}
	var err error
	if r.rows, err = r.db.Query(q); err != nil {
		return fmt.Errorf("read %q: %w", l.table, err)
	}
	r.vals = make([]any, len(sel))
	r.ptrs = make([]any, len(sel))
	for i := range r.vals {
		r.ptrs[i] = &r.vals[i]
	}
	return nil
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func (r *gpkgReader) Err() error  { return r.err }
func (r *gpkgReader) PRJ() string { return r.prj }
func (r *gpkgReader) SRID() int   { return r.srid }

func (r *gpkgReader) Progress() (int64, int64) { return r.doneCnt.Load(), r.total }

func (r *gpkgReader) Close() error {
	if r.db == nil {
		return nil
	}
	var errs []error
	if r.rows != nil {
		errs = append(errs, r.rows.Close())
	}
	errs = append(errs, r.db.Close())
	r.db, r.rows = nil, nil
	return errors.Join(errs...)
}

func (r *gpkgReader) Next() (Feature, bool) {
	if r.done || r.rows == nil {
		return Feature{}, false
	}
	if !r.rows.Next() {
		r.done = true
		if err := r.rows.Err(); err != nil {
			r.err = fmt.Errorf("read %s after feature %d: %w", filepath.Base(r.path), r.index-1, err)
			return Feature{}, false
		}
		r.doneCnt.Store(r.total)
		return Feature{}, false
	}
	f := Feature{Index: r.index, Props: make(map[string]any, len(r.cols))}
	r.index++
	r.doneCnt.Add(1)
	for i := range r.vals {
		r.vals[i] = nil
	}
	if err := r.rows.Scan(r.ptrs...); err != nil {
		f.Err = featureErr(r.path, f.Index, err)
		return f, true
	}
	for i, c := range r.cols {
		f.Props[c.name] = gpkgValue(c, r.vals[i+1])
	}
	var err error
	switch v := r.vals[0].(type) {
	case nil:
	case []byte:
		f.Geom, err = parseGPKGGeometry(v)
		if err == nil {
			err = checkFinite(f.Geom)
		}
	default:
		err = fmt.Errorf("geometry column holds %T, not a BLOB", v)
	}
	if err != nil {
		f.Geom, f.Err = nil, featureErr(r.path, f.Index, err)
	}
	return f, true
}

// gpkgValue normalises a column value to string, float64, int64, bool or nil.
func gpkgValue(c gpkgColumn, v any) any {
	switch v := v.(type) {
	case int64:
		if c.declType == "BOOLEAN" {
			return v != 0
		}
		return v
	case float64, string, bool, nil:
		return v
	case time.Time:
		// The driver parses DATE/DATETIME columns; give them back as text,
		// the same in every format.
		if c.declType == "DATE" {
			return v.Format(time.DateOnly)
		}
		return v.Format(time.RFC3339Nano)
	case []byte:
		if utf8.Valid(v) {
			return string(v)
		}
		return fmt.Sprintf("%x", v) // a binary BLOB attribute, as hex
	}
	return fmt.Sprint(v)
}

// parseGPKGGeometry decodes a GeoPackage geometry BLOB: the "GP" header
// (GeoPackage 1.x, §2.1.3) then standard (ISO) WKB.
func parseGPKGGeometry(b []byte) (geom.T, error) {
	// Some writers store bare WKB; it starts with its byte-order byte.
	if len(b) > 0 && (b[0] == 0 || b[0] == 1) {
		return decodeWKB(b)
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("geometry BLOB of %d bytes is too short", len(b))
	}
	if b[0] != 'G' || b[1] != 'P' {
		return nil, fmt.Errorf("geometry BLOB starts with %q, not the GeoPackage magic \"GP\"", b[:2])
	}
	if b[2] != 0 {
		return nil, fmt.Errorf("unsupported GeoPackage geometry version %d", b[2])
	}
	flags := b[3]
	if flags&0x20 != 0 {
		return nil, errors.New("extended GeoPackage geometries are not supported")
	}
	// Bits 1-3: the envelope that follows the srs_id: none, xy, xyz, xym,
	// xyzm.
	envSizes := [...]int{0, 32, 48, 48, 64}
	env := int(flags>>1) & 0x07
	if env >= len(envSizes) {
		return nil, fmt.Errorf("invalid GeoPackage envelope indicator %d", env)
	}
	off := 8 + envSizes[env]
	if len(b) < off+5 {
		return nil, fmt.Errorf("geometry BLOB of %d bytes is too short for its header", len(b))
	}
	// Bit 0 is the byte order of the header (srs_id, envelope), which is not
	// needed here: the WKB states its own. Bit 4 flags an empty geometry,
	// whose WKB is still present (NaN coordinates for a point).
	g, err := decodeWKB(b[off:])
	if err != nil {
		return nil, err
	}
	if flags&0x10 != 0 {
		if p, ok := g.(*geom.Point); ok && !p.Empty() && isNaNPoint(p) {
			return geom.NewPointEmpty(p.Layout()), nil
		}
	}
	return g, nil
}

// decodeWKB decodes a geometry after checkWKB has bounded its counts.
func decodeWKB(b []byte) (geom.T, error) {
	if _, err := checkWKB(b); err != nil {
		return nil, err
	}
	g, err := wkb.Unmarshal(b, wkbcommon.WKBOptionEmptyPointHandling(wkbcommon.EmptyPointHandlingNaN))
	if err != nil {
		return nil, fmt.Errorf("WKB: %w", err)
	}
	return g, nil
}

func isNaNPoint(p *geom.Point) bool {
	for _, x := range p.FlatCoords() {
		if !math.IsNaN(x) {
			return false
		}
	}
	return true
}
