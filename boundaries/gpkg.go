package boundaries

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
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

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// ExportGPKG writes a layer as a GeoPackage at path (replaced if it
// exists): one feature table named after the layer, EPSG:4326, the layer's
// fields as columns and an R-tree spatial index, readable by GDAL and QGIS.
// SQLite needs a file, so HTTP downloads build into a temp file and stream
// it. Rows go from the PostGIS cursor straight into SQLite.
func (s *Store) ExportGPKG(ctx context.Context, path string, opt ExportOptions) (int, error) {
	l, from, args, err := s.Query(ctx, opt.Layer, opt.Profile, opt.At, opt.Scenario, opt.Equal)
	if err != nil {
		return 0, fmt.Errorf("export gpkg: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("export gpkg: %w", err)
	}
	n, err := s.writeGPKG(ctx, path, l, from, args)
	if err != nil {
		os.Remove(path)
		return n, fmt.Errorf("export gpkg %s: %w", l.Name, err)
	}
	return n, nil
}

func (s *Store) writeGPKG(ctx context.Context, path string, l *Layer, from string, args []any) (n int, err error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	// One connection: PRAGMAs and the transaction must share it.
	db.SetMaxOpenConns(1)
	// The file is scratch until complete, so no journal and no fsync.
	if _, err := db.ExecContext(ctx, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"+gpkgSchema); err != nil {
		return 0, fmt.Errorf("create schema: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck
	table, rtree := quoteIdent(l.Name), quoteIdent("rtree_"+l.Name+"_geom")
	if _, err := tx.ExecContext(ctx, `INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326, ?,
		'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid')`, wgs84WKT); err != nil {
		return 0, err
	}
	cols := []string{"fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL", "geom MULTIPOLYGON"}
	sel := []string{"ST_AsBinary(ST_Multi(" + l.Geom + "), 'NDR')"}
	marks := []string{"?", "?"}
	for _, f := range l.Fields {
		cols = append(cols, quoteIdent(f.Name)+" "+gpkgColumnType(f.Type))
		sel = append(sel, gpkgSelect(f))
		marks = append(marks, "?")
	}
	ddl := []string{
		"CREATE TABLE " + table + " (" + strings.Join(cols, ", ") + ")",
		"CREATE VIRTUAL TABLE " + rtree + " USING rtree(id, minx, maxx, miny, maxy)",
	}
	for _, q := range ddl {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("create table: %w", err)
		}
	}
	ins, err := tx.PrepareContext(ctx, "INSERT INTO "+table+" VALUES ("+strings.Join(marks, ", ")+")")
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	insIdx, err := tx.PrepareContext(ctx, "INSERT INTO "+rtree+" VALUES (?, ?, ?, ?, ?)")
	if err != nil {
		return 0, err
	}
	defer insIdx.Close()

	rows, err := s.Pool.Query(ctx, `SELECT `+strings.Join(sel, ", ")+` FROM `+from+` ORDER BY `+l.ID, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	ext := [4]float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	vals := make([]any, len(sel)+1)
	var blob []byte
	for rows.Next() {
		raw, err := rows.Values()
		if err != nil {
			return n, err
		}
		n++
		wkb, _ := raw[0].([]byte)
		env, empty, err := wkbEnvelope(wkb)
		if err != nil {
			return n, fmt.Errorf("feature %d: %w", n, err)
		}
		blob = gpkgGeometry(blob[:0], wkb, env, empty)
		vals[0], vals[1] = n, blob
		copy(vals[2:], raw[1:])
		if _, err := ins.ExecContext(ctx, vals...); err != nil {
			return n, fmt.Errorf("insert feature %d: %w", n, err)
		}
		if !empty {
			if _, err := insIdx.ExecContext(ctx, n, env[0], env[2], env[1], env[3]); err != nil {
				return n, fmt.Errorf("index feature %d: %w", n, err)
			}
			ext = [4]float64{min(ext[0], env[0]), min(ext[1], env[1]), max(ext[2], env[2]), max(ext[3], env[3])}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	var extArgs []any
	if n > 0 && !math.IsInf(ext[0], 0) {
		extArgs = []any{ext[0], ext[1], ext[2], ext[3]}
	} else {
		extArgs = []any{nil, nil, nil, nil}
	}
	meta := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id)
			VALUES (?, 'features', ?, ?, ?, ?, ?, ?, 4326)`, append([]any{l.Name, l.Name, l.Title}, extArgs...)},
		{`INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'MULTIPOLYGON', 4326, 0, 0)`, []any{l.Name}},
		// The index is filled here, not by triggers: the file is a
		// snapshot, and "write-only" scope tells editors to maintain it.
		{`INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')`, []any{l.Name}},
	}
	for _, m := range meta {
		if _, err := tx.ExecContext(ctx, m.q, m.args...); err != nil {
			return n, fmt.Errorf("metadata: %w", err)
		}
	}
	return n, tx.Commit()
}

// gpkgGeometry appends a GeoPackage binary geometry: "GP", version 0,
// flags (little-endian, xy envelope or empty), SRS id, envelope, WKB.
func gpkgGeometry(dst, wkb []byte, env [4]float64, empty bool) []byte {
	flags := byte(0x01 | 0x02) // little-endian, envelope [minx, maxx, miny, maxy]
	if empty {
		flags = 0x01 | 0x10
	}
	dst = append(dst, 'G', 'P', 0, flags)
	dst = binary.LittleEndian.AppendUint32(dst, 4326)
	if !empty {
		for _, v := range []float64{env[0], env[2], env[1], env[3]} {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
		}
	}
	return append(dst, wkb...)
}

// wkbEnvelope computes [minx, miny, maxx, maxy] of 2D WKB (either byte
// order, ISO or EWKB-less types 1–7); empty when it has no coordinates.
func wkbEnvelope(b []byte) ([4]float64, bool, error) {
	env := [4]float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	rest, err := wkbScan(b, &env, 0)
	if err != nil {
		return env, false, err
	}
	if len(rest) != 0 {
		return env, false, errors.New("wkb: trailing bytes")
	}
	return env, math.IsInf(env[0], 1), nil
}

var errWKB = errors.New("wkb: truncated or unsupported geometry")

func wkbScan(b []byte, env *[4]float64, depth int) ([]byte, error) {
	if len(b) < 5 || depth > 8 {
		return nil, errWKB
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 0 {
		bo = binary.BigEndian
	}
	typ := bo.Uint32(b[1:])
	b = b[5:]
	u32 := func() (uint32, error) {
		if len(b) < 4 {
			return 0, errWKB
		}
		v := bo.Uint32(b)
		b = b[4:]
		return v, nil
	}
	points := func(k uint32) error {
		if uint64(len(b)) < uint64(k)*16 {
			return errWKB
		}
		for i := uint32(0); i < k; i++ {
			x, y := math.Float64frombits(bo.Uint64(b)), math.Float64frombits(bo.Uint64(b[8:]))
			b = b[16:]
			if math.IsNaN(x) || math.IsNaN(y) { // POINT EMPTY
				continue
			}
			env[0], env[1], env[2], env[3] = min(env[0], x), min(env[1], y), max(env[2], x), max(env[3], y)
		}
		return nil
	}
	switch typ {
	case 1:
		return b, points(1)
	case 2:
		k, err := u32()
		if err != nil {
			return nil, err
		}
		return b, points(k)
	case 3:
		rings, err := u32()
		if err != nil {
			return nil, err
		}
		for r := uint32(0); r < rings; r++ {
			k, err := u32()
			if err != nil {
				return nil, err
			}
			if err := points(k); err != nil {
				return nil, err
			}
		}
		return b, nil
	case 4, 5, 6, 7:
		parts, err := u32()
		if err != nil {
			return nil, err
		}
		for i := uint32(0); i < parts; i++ {
			if b, err = wkbScan(b, env, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("wkb: unsupported geometry type %d", typ)
}
