package layerfile

import (
	"archive/zip"
	"bytes"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"
	"github.com/twpayne/go-geom/encoding/wkb"
)

// The fixtures streets.* were generated once from testdata/streets.geojson
// (written by hand) with GDAL 3.6.2:
//
//	ogr2ogr -f "ESRI Shapefile" -lco ENCODING=GBK shp/streets.shp streets.geojson
//	ogr2ogr -f GPKG streets.gpkg streets.geojson -nln streets
//	ogr2ogr -f GPKG -update streets.gpkg streets.geojson -nln communities \
//	    -dialect SQLite -sql "SELECT * FROM streets WHERE name='安定门街道'"
//
// and streets.zip holds shp/streets.* under data/, next to a macOS
// "__MACOSX/data/._streets.shp" and a readme.

func readAll(t *testing.T, r Reader) []Feature {
	t.Helper()
	var fs []Feature
	for {
		f, ok := r.Next()
		if !ok {
			break
		}
		fs = append(fs, f)
		if len(fs) > 1000 {
			t.Fatal("reader does not end")
		}
	}
	if _, ok := r.Next(); ok {
		t.Error("Next returned a feature after the end")
	}
	return fs
}

func openAll(t *testing.T, path string, opts Options) ([]Feature, Reader) {
	t.Helper()
	r, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
	return readAll(t, r), r
}

// ringArea is the absolute area of one ring.
func ringArea(c []float64, stride int) float64 {
	var a float64
	for i := 0; i+stride < len(c); i += stride {
		a += c[i]*c[i+stride+1] - c[i+stride]*c[i+1]
	}
	return math.Abs(a) / 2
}

// shape describes a polygonal geometry independently of ring orientation
// (Shapefiles store outer rings clockwise, GeoJSON counter-clockwise): the
// number of rings of each polygon and the total area, holes subtracted.
func shape(g geom.T) (rings []int, area float64) {
	add := func(p *geom.Polygon) {
		rings = append(rings, p.NumLinearRings())
		for i := range p.NumLinearRings() {
			a := ringArea(p.LinearRing(i).FlatCoords(), p.Stride())
			if i == 0 {
				area += a
			} else {
				area -= a
			}
		}
	}
	switch g := g.(type) {
	case *geom.Polygon:
		add(g)
	case *geom.MultiPolygon:
		for i := range g.NumPolygons() {
			add(g.Polygon(i))
		}
	}
	return rings, area
}

func TestReadFormats(t *testing.T) {
	// Booleans go through GDAL's Shapefile writer as N(1,0) numbers.
	tru, fls := any(true), any(false)
	shpTrue, shpFalse := any(int64(1)), any(int64(0))

	tests := []struct {
		path        string
		srid        int
		prjContains string
		active      [2]any
	}{
		{"testdata/streets.geojson", 4490, "", [2]any{tru, fls}},
		{"testdata/shp/streets.shp", 0, "GCS_China_Geodetic_Coordinate_System_2000", [2]any{shpTrue, shpFalse}},
		{"testdata/streets.zip", 0, "GCS_China_Geodetic_Coordinate_System_2000", [2]any{shpTrue, shpFalse}},
		{"testdata/streets.gpkg", 4490, "China Geodetic Coordinate System 2000", [2]any{tru, fls}},
	}
	want := []struct {
		props map[string]any
		typ   string
		rings []int
		area  float64
		minX  float64
		maxY  float64
	}{
		{
			props: map[string]any{"name": "北新桥街道", "code": "110101007", "pop": int64(52000), "area": 2.75, "updated": "2023-05-01", "类型": "街道"},
			typ:   "Polygon", rings: []int{2}, area: 0.03*0.02 - 0.01*0.005, minX: 116.40, maxY: 39.95,
		},
		{
			props: map[string]any{"name": "东四街道", "code": "110101008", "pop": int64(48000), "area": 1.5, "updated": "2022-12-31", "类型": "街道"},
			typ:   "MultiPolygon", rings: []int{2, 1}, area: 0.03*0.015 - 0.01*0.005 + 0.01*0.01, minX: 116.41, maxY: 39.925,
		},
		{
			props: map[string]any{"name": "安定门街道", "code": "110101010", "pop": int64(31000), "area": 0.125, "updated": "2021-01-15", "类型": "街道"},
			typ:   "Polygon", rings: []int{1}, area: 0.02 * 0.01, minX: 116.40, maxY: 39.96,
		},
		{
			props: map[string]any{"name": "空白社区", "code": "110101010001", "pop": int64(0), "area": 0.0, "updated": "2021-01-15", "类型": "社区"},
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			fs, r := openAll(t, tt.path, Options{})
			if err := r.Err(); err != nil {
				t.Fatalf("Err: %v", err)
			}
			if len(fs) != len(want) {
				t.Fatalf("got %d features, want %d", len(fs), len(want))
			}
			if r.SRID() != tt.srid {
				t.Errorf("SRID = %d, want %d", r.SRID(), tt.srid)
			}
			if !strings.Contains(r.PRJ(), tt.prjContains) || (tt.prjContains == "") != (r.PRJ() == "") {
				t.Errorf("PRJ = %q, want it to contain %q", r.PRJ(), tt.prjContains)
			}
			for i, w := range want {
				f := fs[i]
				if f.Index != i || f.Err != nil {
					t.Errorf("feature %d: Index %d, Err %v", i, f.Index, f.Err)
				}
				props := map[string]any{"active": tt.active[1]}
				if i < 2 {
					props["active"] = tt.active[0]
				}
				for k, v := range w.props {
					props[k] = v
				}
				if !reflect.DeepEqual(f.Props, props) {
					t.Errorf("feature %d props:\n got %#v\nwant %#v", i, f.Props, props)
				}
				if w.typ == "" {
					if f.Geom != nil {
						t.Errorf("feature %d: Geom = %T, want nil", i, f.Geom)
					}
					continue
				}
				if got := strings.TrimPrefix(fmt.Sprintf("%T", f.Geom), "*geom."); got != w.typ {
					t.Errorf("feature %d: Geom is %s, want %s", i, got, w.typ)
					continue
				}
				if f.Geom.Layout() != geom.XY {
					t.Errorf("feature %d: layout %v, want XY", i, f.Geom.Layout())
				}
				rings, area := shape(f.Geom)
				if !reflect.DeepEqual(rings, w.rings) || math.Abs(area-w.area) > 1e-12 {
					t.Errorf("feature %d: rings %v area %g, want %v %g", i, rings, area, w.rings, w.area)
				}
				b := f.Geom.Bounds()
				if math.Abs(b.Min(0)-w.minX) > 1e-12 || math.Abs(b.Max(1)-w.maxY) > 1e-12 {
					t.Errorf("feature %d: bounds %v, want minX %g maxY %g", i, b, w.minX, w.maxY)
				}
			}
			done, total := r.Progress()
			if total <= 0 || done != total {
				t.Errorf("Progress = %d/%d, want done == total > 0", done, total)
			}
		})
	}
}

// A Shapefile polygon's rings must come back as the right polygons and holes
// even when holes do not follow their outer ring.
func TestShapefileMultiPolygonRings(t *testing.T) {
	fs, _ := openAll(t, "testdata/shp/streets.shp", Options{})
	mp := fs[1].Geom.(*geom.MultiPolygon)
	hole := mp.Polygon(0).LinearRing(1).FlatCoords()
	if hole[0] < 116.42 || hole[0] > 116.43 {
		t.Errorf("the hole of 东四街道 is in the wrong polygon: %v", hole)
	}
	// SHP orientation is kept: outer clockwise, hole counter-clockwise.
	outer := mp.Polygon(0).LinearRing(0)
	if signedArea(outer.FlatCoords(), 2) >= 0 || signedArea(hole, 2) <= 0 {
		t.Error("ring orientation not kept")
	}
}

func signedArea(c []float64, stride int) float64 {
	var a float64
	for i := 0; i+stride < len(c); i += stride {
		a += c[i]*c[i+stride+1] - c[i+stride]*c[i+1]
	}
	return a / 2
}

func square(x, y, size float64, clockwise bool) [][2]float64 {
	r := [][2]float64{{x, y}, {x + size, y}, {x + size, y + size}, {x, y + size}, {x, y}}
	if clockwise {
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
	}
	return r
}

func flatRings(rings ...[][2]float64) ([]float64, []int) {
	var flat []float64
	var ends []int
	for _, r := range rings {
		for _, p := range r {
			flat = append(flat, p[0], p[1])
		}
		ends = append(ends, len(flat))
	}
	return flat, ends
}

func TestBuildPolygons(t *testing.T) {
	const cw, ccw = true, false
	tests := []struct {
		name    string
		rings   [][][2]float64
		typ     string
		want    []int // rings per polygon
		area    float64
		wantErr string
	}{
		{"single ring", [][][2]float64{square(0, 0, 10, cw)}, "Polygon", []int{1}, 100, ""},
		{"hole after its outer", [][][2]float64{square(0, 0, 10, cw), square(1, 1, 2, ccw)}, "Polygon", []int{2}, 96, ""},
		{
			"holes after all outers",
			[][][2]float64{square(0, 0, 10, cw), square(20, 0, 10, cw), square(1, 1, 2, ccw), square(21, 1, 3, ccw)},
			"MultiPolygon", []int{2, 2}, 200 - 4 - 9, "",
		},
		{
			"hole first",
			[][][2]float64{square(21, 1, 3, ccw), square(0, 0, 10, cw), square(20, 0, 10, cw)},
			"MultiPolygon", []int{1, 2}, 200 - 9, "",
		},
		{
			"island in a lake",
			[][][2]float64{square(0, 0, 10, cw), square(2, 2, 6, ccw), square(4, 4, 2, cw)},
			"MultiPolygon", []int{2, 1}, 100 - 36 + 4, "",
		},
		{"orphan counter-clockwise ring", [][][2]float64{square(0, 0, 10, cw), square(20, 0, 5, ccw)}, "MultiPolygon", []int{1, 1}, 125, ""},
		{"all counter-clockwise", [][][2]float64{square(0, 0, 10, ccw), square(20, 0, 5, ccw)}, "MultiPolygon", []int{1, 1}, 125, ""},
		{"unclosed ring", [][][2]float64{square(0, 0, 10, cw)[:4]}, "Polygon", []int{1}, 100, ""},
		{"zero-area ring dropped", [][][2]float64{square(0, 0, 10, cw), {{1, 1}, {2, 2}, {3, 3}, {1, 1}}}, "Polygon", []int{1}, 100, ""},
		{"only degenerate rings", [][][2]float64{{{1, 1}, {2, 2}, {1, 1}}}, "", nil, 0, "no ring with a non-zero area"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flat, ends := flatRings(tt.rings...)
			g, err := buildPolygons(geom.XY, flat, ends)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimPrefix(fmt.Sprintf("%T", g), "*geom."); got != tt.typ {
				t.Fatalf("got %s, want %s", got, tt.typ)
			}
			rings, area := shape(g)
			if !reflect.DeepEqual(rings, tt.want) || math.Abs(area-tt.area) > 1e-9 {
				t.Errorf("rings %v area %g, want %v %g", rings, area, tt.want, tt.area)
			}
			for i := range len(rings) {
				var p *geom.Polygon
				if mp, ok := g.(*geom.MultiPolygon); ok {
					p = mp.Polygon(i)
				} else {
					p = g.(*geom.Polygon)
				}
				for j := range p.NumLinearRings() {
					c := p.LinearRing(j).FlatCoords()
					if c[0] != c[len(c)-2] || c[1] != c[len(c)-1] {
						t.Errorf("polygon %d ring %d not closed", i, j)
					}
				}
			}
		})
	}
}

func TestGeoJSONBrokenFeatures(t *testing.T) {
	fs, r := openAll(t, "testdata/broken.geojson", Options{})
	if err := r.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
	tests := []struct {
		wantErr string // "" = no error
		geom    bool
		name    string
	}{
		{"", true, "好的一"},
		{"1e400", false, "超大坐标"},
		{"geometry", false, "嵌套错误"},
		{"unsupported type: Polygonal", false, "未知类型"},
		{"", false, "空几何"},
		{"stride mismatch", false, "维度混合"},
		{"properties", false, ""},
		{`"Geometry"`, false, "类型错误"},
		{"null, not an object", false, ""},
		{"", true, "好的二"},
	}
	if len(fs) != len(tests) {
		t.Fatalf("got %d features, want %d", len(fs), len(tests))
	}
	for i, tt := range tests {
		f := fs[i]
		if f.Index != i {
			t.Errorf("feature %d: Index %d", i, f.Index)
		}
		switch {
		case tt.wantErr == "" && f.Err != nil:
			t.Errorf("feature %d: unexpected Err %v", i, f.Err)
		case tt.wantErr != "" && (f.Err == nil || !strings.Contains(f.Err.Error(), tt.wantErr)):
			t.Errorf("feature %d: Err = %v, want it to mention %q", i, f.Err, tt.wantErr)
		case tt.wantErr != "" && !strings.Contains(f.Err.Error(), fmt.Sprintf("broken.geojson feature %d:", i)):
			t.Errorf("feature %d: Err %q does not name the file and index", i, f.Err)
		}
		if (f.Geom != nil) != tt.geom {
			t.Errorf("feature %d: Geom = %v, want present %v", i, f.Geom, tt.geom)
		}
		if f.Props == nil {
			t.Errorf("feature %d: nil Props", i)
		}
		if tt.name != "" && f.Props["name"] != tt.name {
			t.Errorf("feature %d: name %v, want %s", i, f.Props["name"], tt.name)
		}
	}
	wantProps := map[string]any{
		"name": "好的二", "big": 12345678901234567890.0, "n": int64(7), "f": 7.5, "e": 1000.0,
		"nested": `{"a":[1,2]}`, "huge": "1e999", "ok": true, "none": nil,
	}
	if !reflect.DeepEqual(fs[9].Props, wantProps) {
		t.Errorf("props:\n got %#v\nwant %#v", fs[9].Props, wantProps)
	}
	if p, ok := fs[0].Geom.(*geom.Point); !ok || p.X() != 116.4 || p.Y() != 39.9 {
		t.Errorf("feature 0 geometry = %#v", fs[0].Geom)
	}
}

func TestGeoJSONFatal(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		content  string
		file     string // a fixture instead of content
		features int    // read before the fatal error
		wantErr  string
	}{
		{name: "bare geometry", file: "testdata/geometry.geojson", wantErr: `"Polygon" is not a FeatureCollection or a Feature`},
		{name: "top-level array", content: `[{"type":"Feature","geometry":null,"properties":{}}]`, wantErr: "top-level JSON value is an array"},
		{name: "not JSON", content: "PK\x03\x04 this is a zip", wantErr: "not a JSON file"},
		{name: "empty file", content: "", wantErr: "not a JSON file"},
		{name: "no type, no features", content: `{"name":"x"}`, wantErr: "neither"},
		{name: "collection without features", content: `{"type":"FeatureCollection"}`, wantErr: `without a "features" array`},
		{name: "features not an array", content: `{"type":"FeatureCollection","features":{}}`, wantErr: "want an array"},
		{name: "topology", content: `{"type":"Topology","objects":{}}`, wantErr: `"Topology"`},
		{name: "type after the features", content: `{"features":[{"type":"Feature","geometry":null,"properties":{}}],"type":"GeometryCollection"}`, features: 1, wantErr: `"GeometryCollection"`},
		{
			name:     "truncated",
			content:  `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,"properties":{}},{"type":"Feature","geometry":{"type":"Po`,
			features: 1, wantErr: "feature 1",
		},
		{name: "trailing garbage", content: `{"type":"FeatureCollection","features":[]} {}`, wantErr: "after the top-level object"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.file
			if path == "" {
				path = filepath.Join(dir, fmt.Sprintf("%d.geojson", i))
				if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fs, r := openAll(t, path, Options{})
			if len(fs) != tt.features {
				t.Errorf("got %d features before the error, want %d", len(fs), tt.features)
			}
			if err := r.Err(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestGeoJSONShapes(t *testing.T) {
	t.Run("single feature, keys in any order", func(t *testing.T) {
		fs, r := openAll(t, "testdata/feature.geojson", Options{})
		if r.Err() != nil || len(fs) != 1 {
			t.Fatalf("got %d features, Err %v", len(fs), r.Err())
		}
		if fs[0].Err != nil || fs[0].Props["name"] != "北新桥街道" || fs[0].Props["pop"] != int64(52000) {
			t.Errorf("feature = %+v", fs[0])
		}
		if _, ok := fs[0].Geom.(*geom.Polygon); !ok {
			t.Errorf("Geom = %T, want Polygon", fs[0].Geom)
		}
		if done, total := r.Progress(); done != total {
			t.Errorf("Progress = %d/%d", done, total)
		}
	})
	t.Run("features before type and crs, with a BOM", func(t *testing.T) {
		r, err := Open("testdata/unordered.geojson", Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		fs := readAll(t, r)
		if r.Err() != nil || len(fs) != 2 {
			t.Fatalf("got %d features, Err %v", len(fs), r.Err())
		}
		if fs[0].Props["name"] != "北新桥街道" || len(fs[1].Props) != 0 || fs[1].Props == nil {
			t.Errorf("props = %v, %v", fs[0].Props, fs[1].Props)
		}
		if r.SRID() != 4490 {
			t.Errorf("SRID after the end = %d, want 4490 from the trailing crs", r.SRID())
		}
	})
	t.Run("crs known right after Open", func(t *testing.T) {
		r, err := Open("testdata/streets.geojson", Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.SRID() != 4490 {
			t.Errorf("SRID = %d, want 4490", r.SRID())
		}
	})
}

func TestCRSNames(t *testing.T) {
	for name, want := range map[string]int{
		"EPSG:4490":                                  4490,
		"urn:ogc:def:crs:EPSG::4490":                 4490,
		"urn:ogc:def:crs:EPSG:6.6:4326":              4326,
		"urn:ogc:def:crs:OGC:1.3:CRS84":              4326,
		"http://www.opengis.net/def/crs/EPSG/0/3857": 3857,
		"something else":                             0,
	} {
		if got := crsEPSG([]byte(`{"type":"name","properties":{"name":"` + name + `"}}`)); got != want {
			t.Errorf("crsEPSG(%q) = %d, want %d", name, got, want)
		}
	}
	if got := prjEPSG(`GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]]`); got != 4326 {
		t.Errorf("prjEPSG = %d, want 4326", got)
	}
	if got := prjEPSG(`GEOGCS["x",UNIT["degree",0.01,AUTHORITY["EPSG","9122"]]]`); got != 0 {
		t.Errorf("prjEPSG of a nested authority = %d, want 0", got)
	}
}

// copyShapefile copies testdata/shp/streets.* to dir under newBase, with
// extension case changed by extCase, leaving out the extensions in skip.
func copyShapefile(t *testing.T, dir, newBase string, extCase func(string) string, skip ...string) string {
	t.Helper()
	for _, ext := range []string{".shp", ".shx", ".dbf", ".prj", ".cpg"} {
		if strings.Contains(strings.Join(skip, " "), ext) {
			continue
		}
		data, err := os.ReadFile("testdata/shp/streets" + ext)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, newBase+extCase(ext)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, newBase+extCase(".shp"))
}

func same(s string) string { return s }

func TestShapefileEncoding(t *testing.T) {
	dir := t.TempDir()
	noCPG := copyShapefile(t, dir, "nocpg", same, ".cpg")
	upper := copyShapefile(t, dir, "UPPER", strings.ToUpper)
	numCPG := copyShapefile(t, dir, "numcpg", same)
	if err := os.WriteFile(filepath.Join(dir, "numcpg.cpg"), []byte("936\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badCPG := copyShapefile(t, dir, "badcpg", same)
	if err := os.WriteFile(filepath.Join(dir, "badcpg.cpg"), []byte("klingon"), 0o644); err != nil {
		t.Fatal(err)
	}
	lying := copyShapefile(t, dir, "lying", same)
	if err := os.WriteFile(filepath.Join(dir, "lying.cpg"), []byte("UTF-8"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		path     string
		encoding string
		wantName string // of feature 0; "" = garbled
		openErr  string
	}{
		{"cpg GBK", "testdata/shp/streets.shp", "", "北新桥街道", ""},
		{"override CP936", "testdata/shp/streets.shp", "CP936", "北新桥街道", ""},
		{"override GB18030", "testdata/shp/streets.shp", "gb18030", "北新桥街道", ""},
		{"override wrong UTF-8", "testdata/shp/streets.shp", "UTF-8", "", ""},
		{"no cpg: guessed", noCPG, "", "北新桥街道", ""},
		{"upper-case extensions", upper, "", "北新桥街道", ""},
		{"cpg 936 with CRLF", numCPG, "", "北新桥街道", ""},
		{"lying cpg", lying, "", "", ""},
		{"lying cpg overridden", lying, "GBK", "北新桥街道", ""},
		{"unknown cpg", badCPG, "", "", `unknown text encoding "klingon"`},
		{"unknown cpg overridden", badCPG, "ANSI 936", "北新桥街道", ""},
		{"unknown option", "testdata/shp/streets.shp", "EBCDIC-42", "", "Options.Encoding"},
		{"zip with override", "testdata/streets.zip", "windows-936", "北新桥街道", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Open(tt.path, Options{Encoding: tt.encoding})
			if tt.openErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.openErr) {
					t.Fatalf("Open error = %v, want %q", err, tt.openErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			fs := readAll(t, r)
			if r.Err() != nil || len(fs) != 4 {
				t.Fatalf("got %d features, Err %v", len(fs), r.Err())
			}
			name, _ := fs[0].Props["name"].(string)
			if tt.wantName == "" {
				if name == "北新桥街道" || !strings.ContainsRune(name, '\uFFFD') {
					t.Errorf("name = %q, want it garbled", name)
				}
				return
			}
			if name != tt.wantName {
				t.Errorf("name = %q, want %q", name, tt.wantName)
			}
			if fs[3].Props["类型"] != "社区" {
				t.Errorf("Chinese field name not decoded: %v", fs[3].Props)
			}
		})
	}
}

func TestShapefileOddities(t *testing.T) {
	dir := t.TempDir()

	t.Run("no dbf", func(t *testing.T) {
		p := copyShapefile(t, dir, "nodbf", same, ".dbf")
		fs, r := openAll(t, p, Options{})
		if r.Err() != nil || len(fs) != 4 {
			t.Fatalf("got %d features, Err %v", len(fs), r.Err())
		}
		if len(fs[0].Props) != 0 || fs[0].Props == nil || fs[0].Geom == nil || fs[3].Geom != nil {
			t.Errorf("features = %+v", fs)
		}
	})

	t.Run("deleted record skipped", func(t *testing.T) {
		p := copyShapefile(t, dir, "deleted", same)
		dbfPath := strings.TrimSuffix(p, ".shp") + ".dbf"
		dbf, err := os.ReadFile(dbfPath)
		if err != nil {
			t.Fatal(err)
		}
		headerLen := int(binary.LittleEndian.Uint16(dbf[8:10]))
		recLen := int(binary.LittleEndian.Uint16(dbf[10:12]))
		dbf[headerLen+2*recLen] = '*'
		if err := os.WriteFile(dbfPath, dbf, 0o644); err != nil {
			t.Fatal(err)
		}
		fs, r := openAll(t, p, Options{})
		if r.Err() != nil || len(fs) != 3 {
			t.Fatalf("got %d features, Err %v", len(fs), r.Err())
		}
		if fs[2].Index != 3 || fs[2].Props["name"] != "空白社区" {
			t.Errorf("after the deleted record: %+v", fs[2])
		}
	})

	t.Run("zip without shp", func(t *testing.T) {
		p := filepath.Join(dir, "empty.zip")
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create("readme.txt")
		w.Write([]byte("nothing here"))
		zw.Close()
		os.WriteFile(p, buf.Bytes(), 0o644)
		if _, err := Open(p, Options{}); err == nil || !strings.Contains(err.Error(), "no .shp") {
			t.Errorf("Open error = %v", err)
		}
	})
}

// shpPolygonRecord encodes a Polygon record (shape type 5) with the given
// part starts, or a record of another type when typ != 5 (no content).
func shpPolygonRecord(rings ...[][2]float64) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	binary.Write(&b, le, int32(shpPolygon))
	binary.Write(&b, le, [4]float64{}) // box: not used by the reader
	n := 0
	for _, r := range rings {
		n += len(r)
	}
	binary.Write(&b, le, int32(len(rings)))
	binary.Write(&b, le, int32(n))
	start := 0
	for _, r := range rings {
		binary.Write(&b, le, int32(start))
		start += len(r)
	}
	for _, r := range rings {
		for _, p := range r {
			binary.Write(&b, le, p)
		}
	}
	return b.Bytes()
}

// writeSHP writes a .shp of the given record contents (no .shx or .dbf). If
// truncate > 0, that many bytes are cut off the end of the file.
func writeSHP(t *testing.T, path string, truncate int, records ...[]byte) {
	t.Helper()
	var body bytes.Buffer
	for i, rec := range records {
		binary.Write(&body, binary.BigEndian, int32(i+1))
		binary.Write(&body, binary.BigEndian, int32(len(rec)/2))
		body.Write(rec)
	}
	head := make([]byte, 100)
	binary.BigEndian.PutUint32(head[0:], shpFileCode)
	binary.BigEndian.PutUint32(head[24:], uint32((100+body.Len())/2))
	binary.LittleEndian.PutUint32(head[28:], 1000)
	binary.LittleEndian.PutUint32(head[32:], shpPolygon)
	data := append(head, body.Bytes()...)
	if err := os.WriteFile(path, data[:len(data)-truncate], 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestShapefileBrokenRecords(t *testing.T) {
	dir := t.TempDir()
	good := shpPolygonRecord(square(0, 0, 10, true))
	badParts := shpPolygonRecord(square(0, 0, 10, true))
	binary.LittleEndian.PutUint32(badParts[44:], 3) // first part must start at 0
	unknown := []byte{99, 0, 0, 0}
	nan := shpPolygonRecord([][2]float64{{0, 0}, {0, math.NaN()}, {1, 1}, {1, 0}, {0, 0}})
	short := shpPolygonRecord(square(0, 0, 10, true))[:60]
	null := []byte{0, 0, 0, 0}
	multi := shpPolygonRecord(square(0, 0, 10, true), square(20, 0, 10, true), square(1, 1, 2, false))

	p := filepath.Join(dir, "broken.shp")
	writeSHP(t, p, 0, good, badParts, unknown, nan, short, null, multi, good)
	fs, r := openAll(t, p, Options{})
	if r.Err() != nil {
		t.Fatalf("Err: %v", r.Err())
	}
	wantErr := []string{"", "first part", "unknown shape type 99", "not finite", "too short", "", "", ""}
	if len(fs) != len(wantErr) {
		t.Fatalf("got %d features, want %d", len(fs), len(wantErr))
	}
	for i, w := range wantErr {
		f := fs[i]
		switch {
		case w == "" && f.Err != nil:
			t.Errorf("feature %d: unexpected Err %v", i, f.Err)
		case w != "" && (f.Err == nil || !strings.Contains(f.Err.Error(), w)):
			t.Errorf("feature %d: Err = %v, want %q", i, f.Err, w)
		case w != "" && f.Geom != nil:
			t.Errorf("feature %d: Geom set with Err", i)
		}
	}
	if fs[5].Geom != nil || fs[5].Err != nil {
		t.Errorf("null shape: %+v", fs[5])
	}
	if rings, _ := shape(fs[6].Geom); !reflect.DeepEqual(rings, []int{2, 1}) {
		t.Errorf("multi: rings %v, want [2 1]", rings)
	}
	if done, total := r.Progress(); done != total {
		t.Errorf("Progress = %d/%d", done, total)
	}

	// A record running past the end of the file cannot be skipped: fatal,
	// after the features before it.
	p = filepath.Join(dir, "truncated.shp")
	writeSHP(t, p, 8, good, good, good)
	fs, r = openAll(t, p, Options{})
	if len(fs) != 2 || r.Err() == nil || !strings.Contains(r.Err().Error(), "feature 2") {
		t.Errorf("truncated: %d features, Err %v", len(fs), r.Err())
	}

	// Cut inside the last record header: also fatal.
	writeSHP(t, p, len(good)+4, good, good, good)
	fs, r = openAll(t, p, Options{})
	if len(fs) != 2 || r.Err() == nil || !strings.Contains(r.Err().Error(), "truncated") {
		t.Errorf("truncated header: %d features, Err %v", len(fs), r.Err())
	}

	// A few bytes of padding after the last record, counted in the header:
	// ignored.
	writeSHP(t, p, 0, good, good)
	data, _ := os.ReadFile(p)
	data = append(data, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(data[24:], uint32(len(data)/2))
	os.WriteFile(p, data, 0o644)
	fs, r = openAll(t, p, Options{})
	if len(fs) != 2 || r.Err() != nil {
		t.Errorf("padded: %d features, Err %v", len(fs), r.Err())
	}
}

func TestGeoPackageLayers(t *testing.T) {
	tests := []struct {
		layer   string
		count   int
		name0   string
		openErr string
	}{
		{"", 4, "北新桥街道", ""},
		{"STREETS", 4, "北新桥街道", ""},
		{"communities", 1, "安定门街道", ""},
		{"nope", 0, "", `no feature table "nope" in the GeoPackage (it has streets, communities)`},
	}
	for _, tt := range tests {
		t.Run(tt.layer, func(t *testing.T) {
			r, err := Open("testdata/streets.gpkg", Options{Layer: tt.layer})
			if tt.openErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.openErr) {
					t.Fatalf("Open error = %v, want %q", err, tt.openErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			fs := readAll(t, r)
			if r.Err() != nil || len(fs) != tt.count {
				t.Fatalf("got %d features, Err %v", len(fs), r.Err())
			}
			if fs[0].Props["name"] != tt.name0 || fs[0].Geom == nil {
				t.Errorf("feature 0 = %+v", fs[0])
			}
			if _, ok := fs[0].Props["fid"]; ok {
				t.Error("the primary key is among the attributes")
			}
		})
	}
	if _, err := Open("testdata/missing.gpkg", Options{}); err == nil {
		t.Error("Open of a missing GeoPackage succeeded")
	}
	if _, err := Open("testdata/streets.geojson.gpkg", Options{}); err == nil {
		t.Error("Open of a missing GeoPackage succeeded")
	}
}

// A GeoPackage row with a broken geometry gives a per-feature error.
func TestGeoPackageBrokenGeometry(t *testing.T) {
	src, err := os.ReadFile("testdata/streets.gpkg")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "broken.gpkg")
	if err := os.WriteFile(p, src, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	// GDAL's triggers call spatial SQL functions SQLite does not have.
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'streets'`)
	if err != nil {
		t.Fatal(err)
	}
	var triggers []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		triggers = append(triggers, n)
	}
	rows.Close()
	for _, n := range triggers {
		if _, err := db.Exec(`DROP TRIGGER ` + quoteIdent(n)); err != nil {
			t.Fatal(err)
		}
	}
	circular := []byte{'G', 'P', 0, 0x01, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 0, 0, 0} // WKB CircularString
	for fid, blob := range map[int][]byte{2: []byte("GX garbage"), 3: circular} {
		if _, err := db.Exec(`UPDATE streets SET geom = ? WHERE fid = ?`, blob, fid); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	fs, r := openAll(t, p, Options{})
	if r.Err() != nil || len(fs) != 4 {
		t.Fatalf("got %d features, Err %v", len(fs), r.Err())
	}
	wantErr := []string{"", "magic", "WKB", ""}
	for i, w := range wantErr {
		f := fs[i]
		if (w == "") != (f.Err == nil) || (w != "" && !strings.Contains(f.Err.Error(), w)) {
			t.Errorf("feature %d: Err = %v, want %q", i, f.Err, w)
		}
		if w != "" && (f.Geom != nil || f.Props["name"] == nil) {
			t.Errorf("feature %d: Geom %v, props %v", i, f.Geom, f.Props)
		}
	}
}

func TestParseGPKGGeometry(t *testing.T) {
	poly := geom.NewPolygon(geom.XY).MustSetCoords([][]geom.Coord{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}})
	body, err := wkb.Marshal(poly, wkb.NDR)
	if err != nil {
		t.Fatal(err)
	}
	bigEndian, err := wkb.Marshal(poly, wkb.XDR)
	if err != nil {
		t.Fatal(err)
	}
	emptyPoint := []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F}
	blob := func(flags byte, envelope int, wkbBytes []byte) []byte {
		b := []byte{'G', 'P', 0, flags, 0xAA, 0x11, 0, 0}
		b = append(b, make([]byte, envelope)...)
		return append(b, wkbBytes...)
	}
	tests := []struct {
		name    string
		blob    []byte
		empty   bool
		wantErr string
	}{
		{"no envelope", blob(0x01, 0, body), false, ""},
		{"xy envelope", blob(0x03, 32, body), false, ""},
		{"xyz envelope", blob(0x05, 48, body), false, ""},
		{"xym envelope", blob(0x07, 48, body), false, ""},
		{"xyzm envelope", blob(0x09, 64, body), false, ""},
		{"big-endian header and WKB", blob(0x02, 32, bigEndian), false, ""},
		{"empty point", blob(0x11, 0, emptyPoint), true, ""},
		{"bare WKB", body, false, ""},
		{"bad envelope indicator", blob(0x0B, 64, body), false, "envelope indicator 5"},
		{"extended", blob(0x21, 0, body), false, "extended"},
		{"bad magic", append([]byte("XP"), blob(0x01, 0, body)[2:]...), false, "magic"},
		{"version 1", append([]byte{'G', 'P', 1}, blob(0x01, 0, body)[3:]...), false, "version 1"},
		{"truncated", blob(0x03, 32, body)[:20], false, "too short"},
		{"truncated WKB", blob(0x01, 0, body[:len(body)-4]), false, "WKB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := parseGPKGGeometry(tt.blob)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.empty {
				if p, ok := g.(*geom.Point); !ok || !p.Empty() {
					t.Errorf("got %#v, want an empty point", g)
				}
				return
			}
			if !reflect.DeepEqual(g.FlatCoords(), poly.FlatCoords()) {
				t.Errorf("got %v", g.FlatCoords())
			}
		})
	}
}

func TestEncodingLabels(t *testing.T) {
	gbk := []byte{0xB1, 0xB1, 0xD0, 0xC2, 0xC7, 0xC5} // 北新桥 in GBK
	for _, label := range []string{"GBK", "gbk\n", "CP936", "cp 936", "936", "ANSI 936", "windows-936", "MS936", "GB2312", "GB18030", "54936", "x-gbk"} {
		d, err := lookupEncoding(label)
		if err != nil {
			t.Errorf("%q: %v", label, err)
			continue
		}
		if got := d.decode(gbk); got != "北新桥" {
			t.Errorf("%q decodes to %q", label, got)
		}
	}
	for label, want := range map[string]string{"UTF-8": "é", "65001": "é", "utf8": "é"} {
		d, err := lookupEncoding(label)
		if err != nil || d.decode([]byte("é")) != want {
			t.Errorf("%q: %v", label, err)
		}
	}
	d, _ := lookupEncoding("ANSI 1252")
	if got := d.decode([]byte{0xE9}); got != "é" {
		t.Errorf("1252: %q", got)
	}
	if got := autoDecoder().decode([]byte("北新桥")); got != "北新桥" {
		t.Errorf("auto, UTF-8 input: %q", got)
	}
	if got := autoDecoder().decode(gbk); got != "北新桥" {
		t.Errorf("auto, GBK input: %q", got)
	}
}

func TestOpenUnsupported(t *testing.T) {
	for _, p := range []string{"testdata/streets.kml", "testdata/nothing.geojson", "testdata/nothing.shp", "testdata/nothing.zip"} {
		// Named by the file (its base name: reports go to API clients).
		if _, err := Open(p, Options{}); err == nil || !strings.Contains(err.Error(), filepath.Base(p)) {
			t.Errorf("Open(%s) error = %v", p, err)
		}
	}
}

// The fast coordinate parser must agree with go-geom, which it stands in
// for, and leave to go-geom whatever it does not handle.
func TestDecodeGeometryMatchesGoGeom(t *testing.T) {
	tests := []struct {
		json string
		fast bool // handled by the fast path
	}{
		{`{"type":"Point","coordinates":[116.4,39.9]}`, true},
		{`{"coordinates":[ 116.4 , -39.9e-1 , 12 ] ,"type":"Point"}`, true},
		{`{"type":"Point","coordinates":[1,2,3,4]}`, true},
		{`{"type":"LineString","coordinates":[[1,2],[3,4],[5,6]]}`, true},
		{`{"type":"MultiPoint","coordinates":[[1,2,0],[3,4,0]]}`, true},
		{"{\"type\":\"Polygon\",\"coordinates\":[\n[[0,0],[10,0],[10,10],[0,0]],\r\n\t[[1,1],[2,1],[2,2],[1,1]]]}", true},
		{`{"type":"MultiLineString","coordinates":[[[1,2],[3,4]],[[5,6],[7,8],[9,10]]]}`, true},
		{`{"type":"MultiPolygon","coordinates":[[[[0,0],[10,0],[10,10],[0,0]],[[1,1],[2,1],[2,2],[1,1]]],[[[20,0],[30,0],[30,10],[20,0]]],[[[40,0],[50,0],[50,10],[40,0]],[[41,1],[42,1],[42,2],[41,1]],[[43,1],[44,1],[44,2],[43,1]]]]}`, true},
		{`{"type":"Polygon","coordinates":[[[-0,1E2],[1.5e+2,-2.25],[0.000001,3],[-0,1E2]]],"bbox":[0,0,1,1]}`, true},
		{`{"type":"Point","coordinates":[]}`, false},
		{`{"type":"Point","coordinates":[1]}`, false},
		{`{"type":"Point","coordinates":[1,2,3,4,5]}`, false},
		{`{"type":"Point"}`, false},
		{`{"type":"LineString","coordinates":[]}`, false},
		{`{"type":"Polygon","coordinates":[[]]}`, false},
		{`{"type":"MultiPolygon","coordinates":[]}`, false},
		{`{"type":"LineString","coordinates":[[1,2],[3,4,5]]}`, false},
		{`{"type":"Polygon","coordinates":[[[1e400,0],[1,0],[1,1],[1e400,0]]]}`, false},
		{`{"type":"Polygon","coordinates":[[1,2],[3,4]]}`, false},
		{`{"type":"LineString","coordinates":[[1,2],[3,"4"]]}`, false},
		{`{"type":"Point","coordinates":[1,null]}`, false},
		{`{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]},{"type":"LineString","coordinates":[[1,2],[3,4]]}]}`, false},
		{`{"type":"Circle","coordinates":[1,2]}`, false},
		{`{"type":7}`, false},
	}
	for _, tt := range tests {
		var gj struct {
			Type        string          `json:"type"`
			Coordinates json.RawMessage `json:"coordinates"`
		}
		_ = json.Unmarshal([]byte(tt.json), &gj)
		if _, fast := fastGeometry(gj.Type, gj.Coordinates); fast != tt.fast {
			t.Errorf("%s: fast path %v, want %v", tt.json, fast, tt.fast)
		}
		got, gotErr := decodeGeometry([]byte(tt.json))
		var want geom.T
		wantErr := geojson.Unmarshal([]byte(tt.json), &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s: err %v, go-geom err %v", tt.json, gotErr, wantErr)
			continue
		}
		if gotErr != nil {
			continue
		}
		if _, ok := want.(*geom.GeometryCollection); ok { // whose FlatCoords panics
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: got %#v, want %#v", tt.json, got, want)
			}
			continue
		}
		if reflect.TypeOf(got) != reflect.TypeOf(want) || got.Layout() != want.Layout() ||
			!reflect.DeepEqual(got.FlatCoords(), want.FlatCoords()) ||
			!reflect.DeepEqual(got.Ends(), want.Ends()) || !reflect.DeepEqual(got.Endss(), want.Endss()) {
			t.Errorf("%s:\n got %T %v %v %v %v\nwant %T %v %v %v %v", tt.json,
				got, got.Layout(), got.FlatCoords(), got.Ends(), got.Endss(),
				want, want.Layout(), want.FlatCoords(), want.Ends(), want.Endss())
		}
	}
}
