package importer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/geo"
)

// roadClasses is a profile's blocks.classes as the importer gets it.
var roadClasses = map[string]string{"主干道": "primary", "胡同": "alley", "河": "river", "motorway": "trunk", "围墙": "wall"}

// isInvalid reports a ValidationError (bad input, 422).
func isInvalid(err error) bool {
	var ve *boundaries.ValidationError
	return errors.As(err, &ve)
}

func lineGeom(c ...float64) string {
	var p []string
	for i := 0; i+1 < len(c); i += 2 {
		p = append(p, fmt.Sprintf("[%.9f,%.9f]", c[i], c[i+1]))
	}
	return `{"type":"LineString","coordinates":[` + strings.Join(p, ",") + `]}`
}

func barrierFeature(class, name, geometry string) string {
	return pgtest.Feature(fmt.Sprintf(`{"class":%q,"name":%q}`, class, name), geometry)
}

// barrierState is what the barriers table holds: rows, their classes in
// id order, and barriers_version.
func barrierState(t *testing.T, s *store.Store) (n int, classes string, version int64) {
	t.Helper()
	err := s.Primary().QueryRow(context.Background(), `SELECT count(*), coalesce(string_agg(class, ',' ORDER BY id), ''),
		(SELECT barriers_version FROM meta) FROM barriers`).Scan(&n, &classes, &version)
	if err != nil {
		t.Fatal(err)
	}
	return n, classes, version
}

func TestImportBarriers(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	opt := importer.BarrierOptions{Classes: roadClasses}
	first := pgtest.WriteFile(t, "roads.geojson", pgtest.FC(
		barrierFeature("主干道", "东直门大街", lineGeom(116.40, 39.90, 116.41, 39.90)),
		barrierFeature(" Motorway", "", `{"type":"MultiLineString","coordinates":[[[116.40,39.91],[116.41,39.91]],[[116.41,39.91],[116.42,39.92]]]}`),
		barrierFeature("alley", "", lineGeom(116.40, 39.905, 116.401, 39.905)),
	))
	rep, err := importer.Barriers(ctx, s, first, opt)
	if err != nil {
		t.Fatalf("%v %+v", err, rep)
	}
	if n, classes, v := barrierState(t, s); rep.Created != 3 || n != 3 || classes != "primary,trunk,alley" || v != 1 || rep.Level != "barriers" {
		t.Fatalf("created %d; table %d rows %s, version %d, level %s", rep.Created, n, classes, v, rep.Level)
	}
	var level, status string
	if err := s.Primary().QueryRow(ctx, `SELECT level, status FROM imports WHERE id = $1`, rep.ImportID).Scan(&level, &status); err != nil || level != "barriers" || status != "committed" {
		t.Fatalf("imports row: %s %s %v", level, status, err)
	}

	// A polygon is stored as its outline: a lake with an island, two rings.
	lake := pgtest.WriteFile(t, "lake.geojson", pgtest.FC(barrierFeature("河", "后海",
		pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1), pgtest.Rect(0.4, 0.4, 0.6, 0.6)))))
	if _, err := importer.Barriers(ctx, s, lake, importer.BarrierOptions{Classes: roadClasses, Append: true}); err != nil {
		t.Fatal(err)
	}
	if n, classes, v := barrierState(t, s); n != 4 || classes != "primary,trunk,alley,river" || v != 2 {
		t.Fatalf("after append: %d rows %s, version %d", n, classes, v)
	}
	var typ string
	var parts int
	var lenRatio float64
	if err := s.Primary().QueryRow(ctx, `SELECT GeometryType(geom), ST_NumGeometries(geom),
			ST_Length(geom::geography) / ST_Perimeter(ST_MakePolygon(ST_GeometryN(geom, 1), ARRAY[ST_GeometryN(geom, 2)])::geography)
		FROM barriers WHERE class = 'river'`).Scan(&typ, &parts, &lenRatio); err != nil {
		t.Fatal(err)
	}
	if typ != "MULTILINESTRING" || parts != 2 || math.Abs(lenRatio-1) > 1e-9 {
		t.Errorf("lake stored as %s of %d parts, length/perimeter %v; want its 2 rings", typ, parts, lenRatio)
	}

	// A new file replaces them all.
	if _, err := importer.Barriers(ctx, s, lake, importer.BarrierOptions{Classes: roadClasses}); err != nil {
		t.Fatal(err)
	}
	if n, classes, v := barrierState(t, s); n != 1 || classes != "river" || v != 3 {
		t.Fatalf("after replace: %d rows %s, version %d", n, classes, v)
	}
}

// TestImportBarriersGCJ02: Amap coordinates are unshifted like points'.
func TestImportBarriersGCJ02(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	wgs := [][2]float64{{116.40, 39.90}, {116.41, 39.905}}
	var c []float64
	for _, p := range wgs {
		x, y := geo.ToGCJ02(p[0], p[1])
		c = append(c, x, y)
	}
	path := pgtest.WriteFile(t, "amap.geojson", pgtest.FC(barrierFeature("胡同", "", lineGeom(c...))))
	if _, err := importer.Barriers(ctx, s, path, importer.BarrierOptions{CRS: pgtest.MustCRS(t, "gcj02"), Classes: roadClasses}); err != nil {
		t.Fatal(err)
	}
	for i, p := range wgs {
		var x, y float64
		if err := s.Primary().QueryRow(ctx, `SELECT ST_X(ST_PointN(ST_GeometryN(geom, 1), $1)), ST_Y(ST_PointN(ST_GeometryN(geom, 1), $1)) FROM barriers`, i+1).Scan(&x, &y); err != nil {
			t.Fatal(err)
		}
		if d := geo.Distance(x, y, p[0], p[1]); d > 0.5 {
			t.Errorf("point %d stored %.1f m from its WGS84 position", i+1, d)
		}
		if d := geo.Distance(c[2*i], c[2*i+1], p[0], p[1]); d < 300 {
			t.Errorf("point %d: the GCJ-02 input is only %.0f m off WGS84, not a real shift", i+1, d)
		}
	}
}

// TestImportBarriersRejects: one bad feature rejects the file, named by
// index with the reason, and the barriers loaded before stay as they were.
func TestImportBarriersRejects(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	good := barrierFeature("主干道", "", lineGeom(116.40, 39.90, 116.41, 39.90))
	if _, err := importer.Barriers(ctx, s, pgtest.WriteFile(t, "ok.geojson", pgtest.FC(good)), importer.BarrierOptions{Classes: roadClasses}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, feature, want string
		crs                 string
	}{
		{"unknown class", barrierFeature("高架桥", "", lineGeom(116.40, 39.90, 116.41, 39.90)), `class "高架桥" is not one of`, ""},
		{"no class", pgtest.Feature(`{"kind":"road"}`, lineGeom(116.40, 39.90, 116.41, 39.90)), "missing class: no field class", ""},
		{"point", barrierFeature("胡同", "", `{"type":"Point","coordinates":[116.40,39.90]}`), "geometry type Point is not a line or polygon", ""},
		{"empty line", barrierFeature("胡同", "", `{"type":"LineString","coordinates":[]}`), "empty geometry", ""},
		{"one point twice", barrierFeature("胡同", "", lineGeom(116.40, 39.90, 116.40, 39.90)), "fewer than 2 distinct points", ""},
		{"unclosed ring", barrierFeature("河", "", pgtest.Poly(`[[[116.40,39.90],[116.41,39.90],[116.41,39.91],[116.40,39.91]]]`)), "not closed", ""},
		{"huge lon/lat", barrierFeature("胡同", "", lineGeom(1e300, 39.90, 116.41, 39.90)), "outside lon", ""},
		{"infinite", barrierFeature("胡同", "", `{"type":"LineString","coordinates":[[1e400,39.90],[116.41,39.90]]}`), "", ""},
		{"huge projected", barrierFeature("胡同", "", lineGeom(1e300, 4e6, 448688, 4e6)), "beyond", "EPSG:4548"},
		{"projected off the map", barrierFeature("胡同", "", lineGeom(9e7, 9e7, 448688, 4e6)), "", "EPSG:4548"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opt := importer.BarrierOptions{Classes: roadClasses}
			if c.crs != "" {
				opt.CRS = pgtest.MustCRS(t, c.crs)
			}
			path := pgtest.WriteFile(t, "bad.geojson", pgtest.FC(good, c.feature))
			rep, err := importer.Barriers(ctx, s, path, opt)
			if err == nil {
				t.Fatalf("imported: %+v", rep)
			}
			if !isInvalid(err) && !errors.Is(err, boundaries.ErrRejected) {
				t.Errorf("error %v is neither a rejection nor invalid input", err)
			}
			if errors.Is(err, boundaries.ErrRejected) {
				if len(rep.Rejected) != 1 || rep.Rejected[0].Index != 1 || !strings.Contains(rep.Rejected[0].Reason, c.want) || rep.Rejected[0].Reason == "" {
					t.Errorf("rejected %+v, want feature 1: %q", rep.Rejected, c.want)
				}
			} else if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if n, _, v := barrierState(t, s); n != 1 || v != 1 {
				t.Errorf("%d barriers, version %d after a refused file: want the first file's 1 and 1", n, v)
			}
		})
	}
}

// TestImportBarriersNaN: a Shapefile can hold NaN, which GeoJSON cannot.
func TestImportBarriersNaN(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "nan.shp")
	if err := os.WriteFile(path, shpLines([][2]float64{{116.40, 39.90}, {116.41, 39.90}}, [][2]float64{{116.40, math.NaN()}, {116.41, 39.90}}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nan.dbf"), dbfClasses("alley", "alley"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := importer.Barriers(ctx, s, path, importer.BarrierOptions{CRS: pgtest.MustCRS(t, "wgs84")})
	if err == nil || rep == nil || rep.RejectedTotal != 1 || rep.Rejected[0].Index != 1 {
		t.Fatalf("imported %+v: %v; want feature 1 rejected", rep, err)
	}
	if n, _, _ := barrierState(t, s); n != 0 {
		t.Errorf("%d barriers written", n)
	}
}

// shpLines is a .shp (no .dbf) of PolyLine records, one per line.
func shpLines(lines ...[][2]float64) []byte {
	var body bytes.Buffer
	le := binary.LittleEndian
	for i, l := range lines {
		rec := le.AppendUint32(nil, 3)
		rec = append(rec, make([]byte, 32)...)
		rec = le.AppendUint32(le.AppendUint32(le.AppendUint32(rec, 1), uint32(len(l))), 0)
		for _, p := range l {
			rec = le.AppendUint64(le.AppendUint64(rec, math.Float64bits(p[0])), math.Float64bits(p[1]))
		}
		binary.Write(&body, binary.BigEndian, int32(i+1))         //nolint:errcheck
		binary.Write(&body, binary.BigEndian, uint32(len(rec)/2)) //nolint:errcheck
		body.Write(rec)
	}
	head := make([]byte, 100)
	binary.BigEndian.PutUint32(head[0:], 9994)
	binary.BigEndian.PutUint32(head[24:], uint32((100+body.Len())/2))
	le.PutUint32(head[28:], 1000)
	le.PutUint32(head[32:], 3)
	return append(head, body.Bytes()...)
}

// dbfClasses is a .dbf with one text field, class, holding values.
func dbfClasses(values ...string) []byte {
	const width = 10
	head := make([]byte, 32+32+1)
	head[0] = 3
	binary.LittleEndian.PutUint32(head[4:], uint32(len(values)))
	binary.LittleEndian.PutUint16(head[8:], uint16(len(head)))
	binary.LittleEndian.PutUint16(head[10:], 1+width)
	copy(head[32:], "class")
	head[32+11], head[32+16] = 'C', width
	head[64] = 0x0D
	for _, v := range values {
		head = append(head, ' ')
		head = append(head, fmt.Sprintf("%-*s", width, v)...)
	}
	return append(head, 0x1A)
}

// TestImportBarriersBadProfile: a class table mapping to no class is the
// profile's mistake, refused before reading.
func TestImportBarriersBadProfile(t *testing.T) {
	s, _ := pgtest.NewStore(t)
	path := pgtest.WriteFile(t, "ok.geojson", pgtest.FC(barrierFeature("alley", "", lineGeom(116.40, 39.90, 116.41, 39.90))))
	_, err := importer.Barriers(context.Background(), s, path, importer.BarrierOptions{Classes: map[string]string{"路": "road"}})
	if !isInvalid(err) || !strings.Contains(err.Error(), `"road"`) {
		t.Fatalf("%v, want invalid naming the bad class", err)
	}
}
