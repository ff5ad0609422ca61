package layerfile

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/wkb"
)

// wgs84WKT is the EPSG:4326 definition GDAL writes into GeoPackages.
const wgs84WKT = `GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]`

// gpkgSchema is the GeoPackage 1.3 core: SRS, contents, geometry columns
// and extensions tables (DDL from the specification, annex C).
const gpkgSchema = `
PRAGMA application_id = 1196444487;
PRAGMA user_version = 10300;
CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
INSERT INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system');
`

// GPKGColumn is one attribute column of a GeoPackage feature table.
type GPKGColumn struct {
	Name string
	// Type is the jiedao field type: "string", "integer", "number",
	// "boolean", "date" or "array"; see gpkgColumnType.
	Type string
}

// gpkgColumnType maps a field type to a GeoPackage column type.
func gpkgColumnType(typ string) string {
	switch typ {
	case "integer":
		return "INTEGER"
	case "number":
		return "DOUBLE"
	case "boolean":
		return "BOOLEAN"
	case "date":
		return "DATE"
	}
	return "TEXT" // string, and arrays joined with "; "
}

// GPKGWriter writes one feature table of MultiPolygons in EPSG:4326: a
// GeoPackage 1.3 with the table's columns, a "geom" MULTIPOLYGON column, an
// R-tree spatial index and the metadata GDAL and QGIS expect. Rows go
// straight into SQLite, so memory does not grow with the number of
// features. A GPKGWriter is not safe for concurrent use.
type GPKGWriter struct {
	path, table string
	description string
	db          *sql.DB
	conn        *sql.Conn
	tx          *sql.Tx
	ins, insIdx *sql.Stmt
	ncols       int
	n           int
	ext         [4]float64 // minx, miny, maxx, maxy of the non-empty geometries
	vals        []any      // fid, geometry, then the attribute values
	blob        []byte     // reused GeoPackage geometry buffer
	err         error      // sticky: a failed SQL statement spoils the file
	finished    bool       // closed or aborted
}

var errGPKGFinished = errors.New("gpkg: writer already closed or aborted")

// CreateGPKG creates (replacing any existing file) a GeoPackage at path with
// one feature table. description goes into gpkg_contents (table name as the
// identifier, as the old boundaries exporter did). The file is scratch until
// Close: it is written without journal or fsync, and removed by Abort or a
// failed Close.
func CreateGPKG(ctx context.Context, path, table, description string, cols []GPKGColumn) (*GPKGWriter, error) {
	if err := checkGPKGNames(table, cols); err != nil {
		return nil, fmt.Errorf("create gpkg %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("create gpkg: %w", err)
	}
	w, err := createGPKG(ctx, path, table, description, cols)
	if err != nil {
		if w != nil {
			w.Abort()
		} else {
			os.Remove(path)
		}
		return nil, fmt.Errorf("create gpkg %s: %w", path, err)
	}
	return w, nil
}

// checkGPKGNames rejects names the feature table cannot hold, with a clearer
// message than SQLite's.
func checkGPKGNames(table string, cols []GPKGColumn) error {
	if table == "" {
		return errors.New("empty table name")
	}
	seen := map[string]bool{"fid": true, "geom": true}
	for _, c := range cols {
		k := strings.ToLower(c.Name)
		if c.Name == "" {
			return errors.New("empty column name")
		}
		if seen[k] {
			return fmt.Errorf("column %q: duplicate or reserved name (fid and geom are taken)", c.Name)
		}
		seen[k] = true
	}
	return nil
}

func createGPKG(ctx context.Context, path, table, description string, cols []GPKGColumn) (*GPKGWriter, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// A "file:" URI, as in openGeoPackage, so that '?', '#' and '%' in the
	// path are not read as URI syntax.
	dsn := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs))
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	w := &GPKGWriter{
		path: path, table: table, description: description, db: db, ncols: len(cols),
		ext:  [4]float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)},
		vals: make([]any, len(cols)+2),
	}
	// One pinned connection: the PRAGMAs and the transaction must share it.
	if w.conn, err = db.Conn(ctx); err != nil {
		return w, err
	}
	// The file is scratch until complete, so no journal and no fsync.
	if _, err := w.conn.ExecContext(ctx, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"+gpkgSchema); err != nil {
		return w, fmt.Errorf("create schema: %w", err)
	}
	// The transaction lives until Close or Abort; each call's own ctx
	// governs that call, so a ctx that ends after CreateGPKG returns does not
	// roll the file back behind the caller's back.
	if w.tx, err = w.conn.BeginTx(context.WithoutCancel(ctx), nil); err != nil {
		return w, err
	}
	if _, err := w.tx.ExecContext(ctx, `INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326, ?,
		'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid')`, wgs84WKT); err != nil {
		return w, err
	}
	qt, rtree := quoteIdent(table), quoteIdent("rtree_"+table+"_geom")
	defs := []string{"fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL", "geom MULTIPOLYGON"}
	marks := []string{"?", "?"}
	for _, c := range cols {
		defs = append(defs, quoteIdent(c.Name)+" "+gpkgColumnType(c.Type))
		marks = append(marks, "?")
	}
	ddl := []string{
		"CREATE TABLE " + qt + " (" + strings.Join(defs, ", ") + ")",
		"CREATE VIRTUAL TABLE " + rtree + " USING rtree(id, minx, maxx, miny, maxy)",
	}
	for _, q := range ddl {
		if _, err := w.tx.ExecContext(ctx, q); err != nil {
			return w, fmt.Errorf("create table: %w", err)
		}
	}
	if w.ins, err = w.tx.PrepareContext(ctx, "INSERT INTO "+qt+" VALUES ("+strings.Join(marks, ", ")+")"); err != nil {
		return w, err
	}
	if w.insIdx, err = w.tx.PrepareContext(ctx, "INSERT INTO "+rtree+" VALUES (?, ?, ?, ?, ?)"); err != nil {
		return w, err
	}
	return w, nil
}

// Add appends one feature: geometry as ISO/OGC WKB (either byte order) of a
// 2D MultiPolygon, and one value per column (nil for NULL). Values are stored
// as given: int64, float64, bool, string ("YYYY-MM-DD" for dates, arrays
// joined with "; "), as gpkgSelect in package boundaries selects them. The
// feature id is the 1-based position of the feature.
//
// Malformed or unsupported WKB, non-finite coordinates and a wrong number of
// values are reported and leave the writer usable (nothing is written); a
// failed insert spoils the writer, and every later call returns that error.
func (w *GPKGWriter) Add(ctx context.Context, wkb []byte, values []any) error {
	if w.finished {
		return errGPKGFinished
	}
	if w.err != nil {
		return w.err
	}
	fid := w.n + 1
	if len(values) != w.ncols {
		return fmt.Errorf("gpkg feature %d: %d values for %d columns", fid, len(values), w.ncols)
	}
	blob, env, empty, err := gpkgGeometry(w.blob[:0], wkb)
	if err != nil {
		return fmt.Errorf("gpkg feature %d: %w", fid, err)
	}
	w.blob = blob
	w.vals[0], w.vals[1] = fid, blob
	copy(w.vals[2:], values)
	_, err = w.ins.ExecContext(ctx, w.vals...)
	clear(w.vals) // do not keep the caller's values alive
	if err != nil {
		w.err = fmt.Errorf("gpkg insert feature %d: %w", fid, err)
		return w.err
	}
	if !empty {
		if _, err := w.insIdx.ExecContext(ctx, fid, env[0], env[2], env[1], env[3]); err != nil {
			w.err = fmt.Errorf("gpkg index feature %d: %w", fid, err)
			return w.err
		}
		w.ext = [4]float64{min(w.ext[0], env[0]), min(w.ext[1], env[1]), max(w.ext[2], env[2]), max(w.ext[3], env[3])}
	}
	w.n = fid
	return nil
}

// Count is the number of features added so far.
func (w *GPKGWriter) Count() int { return w.n }

// Close finishes the file (rtree, contents bbox, metadata) and commits; if
// that fails the partial file is removed. Close after Close or Abort returns
// an error and does nothing.
func (w *GPKGWriter) Close(ctx context.Context) error {
	if w.finished {
		return errGPKGFinished
	}
	err := w.err
	if err == nil {
		err = w.finish(ctx)
	}
	if err != nil {
		w.Abort()
		return fmt.Errorf("close gpkg %s: %w", w.path, err)
	}
	w.finished = true
	return nil
}

func (w *GPKGWriter) finish(ctx context.Context) error {
	extArgs := []any{nil, nil, nil, nil}
	if w.n > 0 && !math.IsInf(w.ext[0], 0) {
		extArgs = []any{w.ext[0], w.ext[1], w.ext[2], w.ext[3]}
	}
	meta := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id)
			VALUES (?, 'features', ?, ?, ?, ?, ?, ?, 4326)`, append([]any{w.table, w.table, w.description}, extArgs...)},
		{`INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'MULTIPOLYGON', 4326, 0, 0)`, []any{w.table}},
		// The index is filled by Add, not by triggers: the file is a
		// snapshot, and "write-only" scope tells editors to maintain it.
		{`INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')`, []any{w.table}},
	}
	for _, m := range meta {
		if _, err := w.tx.ExecContext(ctx, m.q, m.args...); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
	}
	if err := errors.Join(w.ins.Close(), w.insIdx.Close()); err != nil {
		return err
	}
	w.ins, w.insIdx = nil, nil
	if err := w.tx.Commit(); err != nil {
		return err
	}
	w.tx = nil
	return w.release()
}

// release closes the statements, the transaction (rolled back if still
// open), the connection and the database, and reports the first error.
func (w *GPKGWriter) release() error {
	var errs []error
	for _, s := range []*sql.Stmt{w.ins, w.insIdx} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	if w.tx != nil {
		if err := w.tx.Rollback(); !errors.Is(err, sql.ErrTxDone) {
			errs = append(errs, err)
		}
	}
	if w.conn != nil {
		errs = append(errs, w.conn.Close())
	}
	if w.db != nil {
		errs = append(errs, w.db.Close())
	}
	w.ins, w.insIdx, w.tx, w.conn, w.db = nil, nil, nil, nil, nil
	return errors.Join(errs...)
}

// Abort removes the partial file. It does nothing after a successful Close,
// so it can be deferred.
func (w *GPKGWriter) Abort() {
	if w.finished {
		return
	}
	w.finished = true
	w.release() //nolint:errcheck // the file goes anyway
	os.Remove(w.path)
}

// gpkgGeometry appends to dst the GeoPackage binary geometry of a 2D
// MultiPolygon WKB: "GP", version 0, flags (little-endian, xy envelope or
// empty), SRS id 4326, envelope [minx, maxx, miny, maxy], then the WKB as
// given. It returns the envelope as [minx, miny, maxx, maxy], and empty when
// the geometry has no coordinates (then the header has no envelope and the
// empty flag).
func gpkgGeometry(dst, b []byte) (_ []byte, env [4]float64, empty bool, _ error) {
	if err := checkWKBCounts(b); err != nil {
		return dst, env, false, err
	}
	r := bytes.NewReader(b)
	g, err := wkb.Read(r)
	if err != nil {
		return dst, env, false, fmt.Errorf("WKB: %w", err)
	}
	if r.Len() != 0 { // checkWKBCounts already refuses these; belt and braces
		return dst, env, false, fmt.Errorf("WKB: %d trailing bytes", r.Len())
	}
	if mp, ok := g.(*geom.MultiPolygon); !ok || mp.Layout() != geom.XY {
		return dst, env, false, fmt.Errorf("WKB: %T of layout %v, want a 2D MultiPolygon", g, g.Layout())
	}
	if err := checkFinite(g); err != nil {
		return dst, env, false, err
	}
	bounds := g.Bounds()
	empty = bounds.IsEmpty()
	flags := byte(0x01 | 0x02) // little-endian, envelope [minx, maxx, miny, maxy]
	if empty {
		flags = 0x01 | 0x10
	}
	dst = append(dst, 'G', 'P', 0, flags)
	dst = binary.LittleEndian.AppendUint32(dst, 4326)
	if !empty {
		env = [4]float64{bounds.Min(0), bounds.Min(1), bounds.Max(0), bounds.Max(1)}
		for _, v := range []float64{env[0], env[2], env[1], env[3]} {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
		}
	}
	return append(dst, b...), env, empty, nil
}

// checkWKBCounts accepts a MultiPolygon whose counts fit its bytes (see
// checkWKB); the caller checks the decoded layout is 2D.
func checkWKBCounts(b []byte) error {
	typ, err := checkWKB(b)
	if err != nil {
		return err
	}
	if typ != 6 {
		return fmt.Errorf("WKB: geometry type %d, want 6 (2D MultiPolygon)", typ)
	}
	return nil
}
