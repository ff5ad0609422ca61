package layerfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/wkb"
)

// Fuzz targets for the readers of uploaded boundary files: FuzzGeoJSON,
// FuzzShapefile, FuzzDBF and FuzzZip (FuzzGPKGAdd and FuzzGPKGGeometry are
// beside the code they test). `go test` runs their seeds, which include
// hostile inputs; `make fuzz` fuzzes each for a while. The file-shaped
// hostile seeds are also kept in testdata/hostile, written by
// TestWriteHostileSeeds from the builders below:
//
//	go test -run TestWriteHostileSeeds -update-hostile ./boundaries/layerfile/

var updateHostile = flag.Bool("update-hostile", false, "rewrite testdata/hostile from the fuzz seed builders")

// fuzzZipOptions are the zip limits the fuzz target reads with: the
// importer's ratio, and a byte limit small enough for a fuzzing process.
var fuzzZipOptions = Options{MaxZipRatio: 100, MaxZipBytes: 64 << 20}

// heapAllocs is the number of bytes the process has allocated so far
// (cumulative; reading it does not stop the world).
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// checkAllocs fails when reading one input allocated more than budget
// bytes: a count or length read from the file drove an allocation.
func checkAllocs(t *testing.T, before, budget uint64) {
	t.Helper()
	if n := heapAllocs() - before; n > budget {
		t.Fatalf("reading this input allocated %d MB (budget %d MB)", n>>20, budget>>20)
	}
}

// allocBudget is what reading an input of n bytes may allocate: buffers
// (about 1 MB), plus a generous factor of the input (parsed coordinates
// and attributes).
func allocBudget(n int) uint64 { return 16<<20 + 1024*uint64(n) }

// drainChecked reads r to the end, checking the Reader contract on every
// feature, and returns the number of features. maxFeatures bounds the
// iteration: a reader that yields more from this input does not end.
func drainChecked(t *testing.T, r Reader, dir string, maxFeatures int) int {
	t.Helper()
	n, last := 0, -1
	for {
		f, ok := r.Next()
		if !ok {
			break
		}
		if n++; n > maxFeatures {
			t.Fatalf("more than %d features from this input: the reader does not end", maxFeatures)
		}
		if f.Index <= last {
			t.Fatalf("feature index %d after %d", f.Index, last)
		}
		last = f.Index
		checkFeature(t, f)
		checkNoPath(t, f.Err, dir)
		if done, total := r.Progress(); done < 0 || (total > 0 && done > total) {
			t.Fatalf("Progress = %d/%d", done, total)
		}
	}
	if _, ok := r.Next(); ok {
		t.Fatal("Next returned a feature after the end")
	}
	if err := r.Err(); err != nil && err.Error() == "" {
		t.Fatal("Err with an empty message")
	}
	checkNoPath(t, r.Err(), dir)
	return n
}

// checkNoPath fails if err names dir, the server-side folder of the file:
// errors end up in import reports sent to API clients, which should see
// the file's name only (see featureErr).
func checkNoPath(t *testing.T, err error, dir string) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), dir) {
		knownBug(t, "server-path-in-error", "error names the server's folder: %v", err)
	}
}

// knownBugs are bugs the fuzz targets found, reported to the owners of the
// code and not fixed yet. An input that hits one is logged with the bug
// named, and the other checks go on (so that `go test` stays green and
// fuzzing looks for other bugs); delete the entry with the fix, and the
// seeds that hit it guard the fix. Any other failure is fatal.
var knownBugs = map[string]string{
	// None open. Fixed, and guarded by their seeds: Shapefile Point records
	// with NaN/Inf X/Y; the server's upload path in reader errors; the zip
	// ratio trusting the declared compressed size; the Shapefile record
	// buffer sized from a zip entry's declared size.
}

// knownBug logs the failure if bug is a known, unfixed bug, and fails the
// input otherwise.
func knownBug(t *testing.T, bug, format string, args ...any) {
	t.Helper()
	if desc, ok := knownBugs[bug]; ok {
		t.Logf("known bug %s (%s): "+format, append([]any{bug, desc}, args...)...)
		return
	}
	t.Fatalf(format, args...)
}

// checkFeature checks what the importer relies on: Props is never nil and
// holds only normalised values; a feature has a usable geometry, none, or
// an Err (never both); a geometry has finite X/Y and encodes as WKB.
func checkFeature(t *testing.T, f Feature) {
	t.Helper()
	if f.Props == nil {
		t.Fatalf("feature %d: nil Props", f.Index)
	}
	for k, v := range f.Props {
		switch v.(type) {
		case string, float64, int64, bool, nil:
		default:
			t.Fatalf("feature %d: property %q is a %T", f.Index, k, v)
		}
	}
	if f.Err != nil {
		if f.Geom != nil {
			t.Fatalf("feature %d: Geom %T set along with Err %v", f.Index, f.Geom, f.Err)
		}
		return
	}
	if f.Geom == nil {
		return
	}
	if err := checkFinite(f.Geom); err != nil {
		if _, ok := f.Geom.(*geom.Point); ok {
			knownBug(t, "shp-point-not-finite", "feature %d: accepted geometry: %v", f.Index, err)
		} else {
			t.Fatalf("feature %d: accepted geometry: %v", f.Index, err)
		}
	}
	// Empty geometries (a GeoJSON Point without coordinates comes back
	// with no layout) are the importer's to refuse, and WKB cannot encode
	// an empty Point: only non-empty simple geometries are encoded.
	if _, ok := f.Geom.(*geom.GeometryCollection); ok || f.Geom.Empty() {
		return
	}
	if s := f.Geom.Stride(); s < 2 || len(f.Geom.FlatCoords())%s != 0 {
		t.Fatalf("feature %d: %d flat coordinates for stride %d", f.Index, len(f.Geom.FlatCoords()), s)
	}
	if _, err := wkb.Marshal(f.Geom, wkb.NDR); err != nil {
		t.Fatalf("feature %d: accepted %T does not encode as WKB: %v", f.Index, f.Geom, err)
	}
}

// closeTwice closes r twice. The first Close may repeat the error that
// stopped the reading (a zip entry's decompressor reports corrupt data
// again), but fails nothing else; the second is a no-op.
func closeTwice(t *testing.T, r Reader) {
	t.Helper()
	if err := r.Close(); err != nil && r.Err() == nil {
		t.Fatalf("Close: %v (after a read without error)", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func readTestdata(f *testing.F, pattern string) map[string][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		f.Fatal(err)
	}
	m := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		m[p] = b
	}
	return m
}

// sortedKeys gives seeds in a stable order.
func sortedKeys(m map[string][]byte) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// --- GeoJSON ---

// hostileGeoJSON are GeoJSON documents that have broken readers: deep
// nesting, numbers out of range, a BOM, duplicate or misplaced members,
// NUL bytes, truncation, trailing data.
func hostileGeoJSON() map[string][]byte {
	pt := `{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,2]}}`
	return map[string][]byte{
		"deep-geometry.geojson": []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":` +
			strings.Repeat("[", 12000) + strings.Repeat("]", 12000) + `}}]}`),
		"deep-foreign.geojson":  []byte(`{"type":"FeatureCollection","x":` + strings.Repeat("[", 12000) + strings.Repeat("]", 12000) + `,"features":[]}`),
		"deep-features.geojson": []byte(`{"type":"FeatureCollection","features":[` + strings.Repeat("[", 12000) + strings.Repeat("]", 12000) + `]}`),
		"unclosed.geojson":      []byte(`{"type":"FeatureCollection","features":[` + strings.Repeat("[", 12000)),
		"huge-numbers.geojson": []byte(`{"type":"FeatureCollection","features":[` +
			`{"type":"Feature","properties":{"a":1e999,"b":-1e999,"c":123456789012345678901234567890},"geometry":{"type":"Point","coordinates":[1e308,-1e308]}},` +
			`{"type":"Feature","geometry":{"type":"Point","coordinates":[1e400,2]}},` +
			`{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2],[3,4,5,6,7]]}},` +
			`{"type":"Feature","geometry":{"type":"Point","coordinates":[0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001e-400,2]}}]}`),
		"bom.geojson":                   append([]byte("\xEF\xBB\xBF"), `{"type":"FeatureCollection","features":[`+pt+`]}`...),
		"double-bom.geojson":            append([]byte("\xEF\xBB\xBF\xEF\xBB\xBF"), `{"type":"FeatureCollection","features":[]}`...),
		"dup-features.geojson":          []byte(`{"type":"FeatureCollection","features":[` + pt + `],"features":[` + pt + `,` + pt + `],"type":"Feature"}`),
		"feature-with-features.geojson": []byte(`{"features":[` + pt + `],"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}}`),
		"lone-feature.geojson":          []byte(`{"properties":{"n":1},"geometry":{"type":"GeometryCollection","geometries":[{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[]}]}]},"type":"Feature","crs":{"type":"name","properties":{"name":"EPSG:4490"}}}`),
		"nul-escaped.geojson":           []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"\u0000":"a\u0000b"},"geometry":{"type":"Point","coordinates":[1,2]}}]}`),
		"nul.geojson":                   []byte("{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{\"n\\u0000\":\"a\x00b\"},\"geometry\":null}\x00]}"),
		"trailing.geojson":              []byte(`{"type":"FeatureCollection","features":[]}{"type":"FeatureCollection","features":[]}`),
		"not-features.geojson":          []byte(`{"type":"FeatureCollection","features":{"0":` + pt + `}}`),
		"scalars.geojson":               []byte(`{"type":"FeatureCollection","features":[1,"x",null,true,[],{}]}`),
		"invalid-utf8.geojson":          []byte("{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{\"\xff\xfe\":\"\xc3\x28\"},\"geometry\":null}]}"),
		"empty-rings.geojson": []byte(`{"type":"FeatureCollection","features":[` +
			`{"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[[],[[]],[[[]]]]}},` +
			`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[1,2]]]}},` +
			`{"type":"Feature","geometry":{"type":"MultiPoint","coordinates":[[1,2],[3,4,5]]}}]}`),
	}
}

// FuzzGeoJSON: no document crashes the GeoJSON reader, makes it allocate
// out of proportion to its size, or yields a feature that breaks the
// Reader contract; and a document read without error is valid JSON.
func FuzzGeoJSON(f *testing.F) {
	tdata := readTestdata(f, "*.geojson")
	for k, v := range readTestdata(f, "hostile/*.geojson") {
		tdata[k] = v
	}
	for _, k := range sortedKeys(tdata) {
		f.Add(tdata[k])
	}
	hostile := hostileGeoJSON()
	for _, k := range sortedKeys(hostile) {
		f.Add(hostile[k])
	}
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `{"type":"Topology"}`, `{"type":"FeatureCollection"}`,
		`{"type":"FeatureCollection","features":[`, `{"type":"FeatureCollection","features":[]`,
		`{"type":"FeatureCollection","features":[{"geometry":{"type":"Point","coordinates":[1,2]},"properties":null}]}`,
		`{"type":"Feature"}`, `{"type":"Feature","geometry":{"type":"Point"}}`,
		`{"type":"FeatureCollection","crs":{"type":"EPSG","properties":{"code":4490}},"features":[]}`,
		`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2],"coordinates":[3]}}]}`,
		`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[1,2],[3,4],[5,6],[1,2]]]}}]}`,
		"{\"type\":\"FeatureCollection\",\"features\":[]}\n\n  ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "in.geojson")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		before := heapAllocs()
		r, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("Open: %v (only a missing file is an Open error for GeoJSON)", err)
		}
		drainChecked(t, r, dir, len(b)+1)
		checkAllocs(t, before, allocBudget(len(b)))
		if r.Err() == nil {
			checkValidJSON(t, bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF")))
		}
		closeTwice(t, r)
	})
}

// checkValidJSON fails unless b is one JSON value. encoding/json refuses
// nesting deeper than 10,000, which the reader (streaming tokens) need not:
// that refusal does not count.
func checkValidJSON(t *testing.T, b []byte) {
	t.Helper()
	if json.Valid(b) {
		return
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil && !strings.Contains(err.Error(), "exceeded max depth") {
		t.Fatalf("read without error, but is not JSON (%v): %s", err, abbrev(b))
	}
}

// abbrev quotes at most 200 bytes of b for a failure message.
func abbrev(b []byte) string {
	if len(b) > 200 {
		return fmt.Sprintf("%q... (%d bytes)", b[:200], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// --- Shapefile and DBF ---

// shpFile is a .shp of the given record contents whose header declares
// declared bytes (-1: the real length).
func shpFile(declared int64, records ...[]byte) []byte {
	var body bytes.Buffer
	for i, rec := range records {
		binary.Write(&body, binary.BigEndian, int32(i+1))
		binary.Write(&body, binary.BigEndian, uint32(len(rec)/2))
		body.Write(rec)
	}
	if declared < 0 {
		declared = int64(shpHeaderLen + body.Len())
	}
	head := make([]byte, shpHeaderLen)
	binary.BigEndian.PutUint32(head[0:], shpFileCode)
	binary.BigEndian.PutUint32(head[24:], uint32(declared/2))
	binary.LittleEndian.PutUint32(head[28:], 1000)
	binary.LittleEndian.PutUint32(head[32:], shpPolygon)
	return append(head, body.Bytes()...)
}

// shpWithTail is shpFile of records followed by tail (raw bytes, e.g. a
// lying record), the header declaring the real length.
func shpWithTail(tail []byte, records ...[]byte) []byte {
	b := append(shpFile(0, records...), tail...)
	binary.BigEndian.PutUint32(b[24:], uint32(len(b)/2))
	return b
}

// shpRawRecord is a record header claiming words 16-bit words, followed by
// content (which need not be that long).
func shpRawRecord(words uint32, content []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 1)
	b = binary.BigEndian.AppendUint32(b, words)
	return append(b, content...)
}

// shpCounts is the start of a MultiPoint/PolyLine/Polygon record: the
// shape type, a zero box, the part count (unless multipoint) and the point
// count, then tail.
func shpCounts(typ uint32, numParts, numPoints uint32, tail ...byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = append(b, make([]byte, 32)...)
	if typ != shpMultiPoint && typ != shpMultiPointZ && typ != shpMultiPointM {
		b = binary.LittleEndian.AppendUint32(b, numParts)
	}
	b = binary.LittleEndian.AppendUint32(b, numPoints)
	return append(b, tail...)
}

func u32le(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

func f64le(vs ...float64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

type dbfSpec struct {
	name     string
	typ      byte
	length   int // over 255: C fields carry the high byte in the decimals byte
	decimals byte
}

// dbfFile is a DBF with the given fields and records (each the text of
// one record after its deletion flag, padded or cut to the record length).
// records < 0 declares the real count; recLen <= 0 the fields' length.
func dbfFile(records int64, recLen int, ldid byte, fields []dbfSpec, rows ...string) []byte {
	n := 1
	for _, f := range fields {
		n += f.length
	}
	if recLen <= 0 {
		recLen = n
	}
	if records < 0 {
		records = int64(len(rows))
	}
	head := make([]byte, dbfHeaderLen)
	head[0], head[1], head[2], head[3] = 3, 125, 1, 1
	binary.LittleEndian.PutUint32(head[4:], uint32(records))
	binary.LittleEndian.PutUint16(head[8:], uint16(dbfHeaderLen+32*len(fields)+1))
	binary.LittleEndian.PutUint16(head[10:], uint16(recLen))
	head[29] = ldid
	for _, f := range fields {
		fd := make([]byte, 32)
		copy(fd[:11], f.name)
		fd[11] = f.typ
		fd[16] = byte(f.length)
		fd[17] = f.decimals
		if f.typ == 'C' && f.length > 255 {
			fd[17] = byte(f.length >> 8)
		}
		head = append(head, fd...)
	}
	head = append(head, 0x0D)
	for _, r := range rows {
		rec := []byte(r)
		if len(rec) < recLen {
			rec = append(rec, bytes.Repeat([]byte(" "), recLen-len(rec))...)
		}
		head = append(head, rec[:recLen]...)
	}
	return append(head, 0x1A)
}

// hostileShapefiles are .shp/.dbf pairs (base name to parts; a missing
// part is nil) with lying headers, counts and lengths.
func hostileShapefiles() map[string][2][]byte {
	good := shpPolygonRecord(square(0, 0, 10, true))
	allTypes := dbfFile(-1, 0, 0, []dbfSpec{
		{"name", 'C', 10, 0}, {"n", 'N', 5, 0}, {"f", 'N', 8, 3}, {"F", 'F', 6, 2},
		{"d", 'D', 8, 0}, {"l", 'L', 1, 0}, {"i", 'I', 4, 0}, {"i3", 'I', 3, 0},
		{"o", 'O', 8, 0}, {"b", 'B', 8, 0}, {"m", 'M', 10, 0}, {"zero", 'C', 0, 0},
	},
		" 北京 1 2.5 3.25 20240101T\x01\x00\x00\x00xyz\x00\x00\x00\x00\x00\x00\xf8\x7f\x00\x00\x00\x00\x00\x00\xf0\x7fmemo",
		"*\xff\xfe\xc3\x28 *****.....1e999NaN  20241399?\xff\xff\xff\xff...\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80",
		"  \x00\x00  -    -    00000000Y",
	)
	return map[string][2][]byte{
		// The header promises 2 GB; the file holds one record.
		"declares-2gb": {shpFile(2<<30, good), nil},
		// The header's length is 0xFFFFFFFF words.
		"declares-max": {shpFile(2*0xFFFFFFFF, good, good), nil},
		// A record claiming 0xFFFFFFFF words (8 GB), and one whose length
		// is negative as an int32.
		"huge-record":      {shpWithTail(shpRawRecord(0xFFFFFFFF, good), good), nil},
		"negative-record":  {shpWithTail(shpRawRecord(0x80000000, good), good), nil},
		"minus-one-record": {shpWithTail(shpRawRecord(0xFFFFFFFF, nil)), nil},
		// Promises 2 GB and stops a few bytes into the next record header.
		"declares-2gb-cut": {append(shpFile(2<<30, good), 0, 0, 0, 1), nil},
		// Part and point counts of 0xFFFFFFFF, and counts that overflow an
		// int32 multiplication, in records too short for them.
		"huge-counts": {shpFile(-1,
			shpCounts(shpPolygon, 0xFFFFFFFF, 0xFFFFFFFF),
			shpCounts(shpPolygon, 1, 0xFFFFFFFF, u32le(0)...),
			shpCounts(shpPolygon, 0xFFFFFFFF, 4),
			shpCounts(shpPolyLineZ, 1, 0x10000000, u32le(0)...),
			shpCounts(shpMultiPoint, 0, 0xFFFFFFFF),
			shpCounts(shpMultiPointZ, 0, 0x0FFFFFFF),
			shpCounts(shpPolygonM, 0x40000000, 0x40000000),
			shpCounts(shpPolygon, 2, 4, append(u32le(0, 0xFFFFFFFF), f64le(0, 0, 1, 0, 1, 1, 0, 0)...)...),
			shpCounts(shpPolygon, 2, 4, append(u32le(0, 3), f64le(0, 0, 1, 0, 1, 1, 0, 0)...)...),
			shpCounts(shpPolygon, 1, 0, u32le(0)...),
			shpCounts(shpPolygon, 0, 4, f64le(0, 0, 1, 0, 1, 1, 0, 0)...),
			u32le(0xFFFFFFFF), u32le(shpMultiPatch), u32le(shpPointZ), nil, u32le(shpNull),
		), dbfFile(0xFFFFFFFF, 0, 0, []dbfSpec{{"name", 'C', 4, 0}}, " abc")},
		// Coordinates that are not finite, in every kind of shape.
		"not-finite-point": {shpFile(-1,
			append(u32le(shpPoint), f64le(math.NaN(), 1)...),
			append(u32le(shpPointZ), f64le(1, math.Inf(-1), 0, 0)...),
		), nil},
		"not-finite": {shpFile(-1,
			append(u32le(shpPointM), f64le(1, 2, math.Inf(1))...),
			shpCounts(shpMultiPoint, 0, 1, f64le(math.Inf(-1), 0)...),
			shpCounts(shpPolyLine, 1, 2, append(u32le(0), f64le(0, 0, 1, math.NaN())...)...),
			shpPolygonRecord([][2]float64{{0, 0}, {1, math.Inf(1)}, {1, 1}, {0, 0}}),
			shpPolygonRecord([][2]float64{{0, 0}, {1e308, 0}, {1e308, 1e308}, {0, 0}}),
		), nil},
		// Degenerate rings: zero area, a single point, unclosed.
		"degenerate": {shpFile(-1,
			shpPolygonRecord([][2]float64{{0, 0}, {1, 1}, {2, 2}, {0, 0}}),
			shpPolygonRecord([][2]float64{{5, 5}}),
			shpPolygonRecord([][2]float64{{0, 0}, {0, 1}, {1, 1}, {1, 0}}, square(0.2, 0.2, 0.5, false), square(5, 5, 1, false)),
			shpPolygonRecord(square(0, 0, 10, true), square(0, 0, 10, false)),
		), nil},
		// A DBF with more records than the .shp, one of every field type,
		// deleted records and values that do not parse.
		"dbf-longer": {shpFile(-1, good), allTypes},
		// A DBF whose header length is 0xFFFF over a few bytes, and one
		// whose record length is 0xFFFF.
		"dbf-huge-header": {shpFile(-1, good), func() []byte {
			b := dbfFile(1, 0, 0, []dbfSpec{{"a", 'C', 1, 0}}, " x")
			binary.LittleEndian.PutUint16(b[8:], 0xFFFF)
			return b
		}()},
		// 0xFFFFFFFF records of 0xFFFF bytes declared, 100 bytes present.
		"dbf-huge-record": {shpFile(-1, good), dbfFile(0xFFFFFFFF, 0xFFFF, 0x4D, []dbfSpec{{"a", 'C', 0xFFFE, 0}}, " x")[:dbfHeaderLen+33+100]},
		// Fields that need more bytes than the record holds.
		"dbf-fields-overflow": {shpFile(-1, good), dbfFile(1, 8, 0, []dbfSpec{{"a", 'C', 0xFFFF, 0}, {"b", 'N', 255, 255}}, " x")},
	}
}

// hostileDBFs are DBF files on their own, for FuzzDBF.
func hostileDBFs() map[string][]byte {
	many := make([]dbfSpec, 1000) // 1,000 descriptors of 65,535-byte fields
	for i := range many {
		many[i] = dbfSpec{string(rune('a'+i%26)) + "x", 'C', 255, 255}
	}
	small := make([]dbfSpec, 1000) // 1,000 one-byte fields: valid
	for i := range small {
		small[i] = dbfSpec{string(rune('a'+i%26)) + "y", 'N', 1, 0}
	}
	noTerminator := dbfFile(1, 0, 0, []dbfSpec{{"a", 'C', 3, 0}, {"b", 'N', 3, 0}}, " abc123")
	noTerminator[dbfHeaderLen+64] = 'z' // the 0x0D becomes a record byte
	m := map[string][]byte{
		"many-fields.dbf":       dbfFile(0xFFFFFFFF, 0, 0, many),
		"many-small-fields.dbf": dbfFile(0xFFFFFFFF, 0, 0, small, " "+strings.Repeat("1", len(small))),
		"no-terminator.dbf":     noTerminator,
		"short-header.dbf":      dbfFile(1, 0, 0, nil, " ")[:20],
		"header-len-32.dbf":     func() []byte { b := dbfFile(1, 0, 0, nil, " "); binary.LittleEndian.PutUint16(b[8:], 32); return b }(),
		"record-len-0.dbf":      dbfFile(1, 0, 0, nil)[:dbfHeaderLen+1],
		"eof-marker.dbf":        dbfFile(3, 0, 0x7A, []dbfSpec{{"名", 'C', 4, 0}}, " \xc4\xfa\xba\xc3", "\x1a"),
		"cut-record.dbf":        dbfFile(2, 0, 0x4F, []dbfSpec{{"a", 'C', 300, 0}}, " x", " y")[:dbfHeaderLen+33+100],
		"duplicate-names.dbf":   dbfFile(-1, 0, 0x13, []dbfSpec{{"a", 'C', 2, 0}, {"a", 'N', 2, 0}, {"", 'C', 1, 0}}, " xx12z"),
	}
	for base, p := range hostileShapefiles() {
		if p[1] != nil {
			m[base+".dbf"] = p[1]
		}
	}
	return m
}

// FuzzShapefile: no .shp/.dbf pair (with an optional .cpg) crashes the
// Shapefile reader, makes it allocate out of proportion to the files, or
// yields features that break the Reader contract.
func FuzzShapefile(f *testing.F) {
	add := func(shp, dbf []byte, cpg string) { f.Add(shp, dbf, cpg) }
	streets := readTestdata(f, "shp/streets.*")
	add(streets["testdata/shp/streets.shp"], streets["testdata/shp/streets.dbf"], "GBK")
	add(streets["testdata/shp/streets.shp"], streets["testdata/shp/streets.dbf"], "")
	add(streets["testdata/shp/streets.shp"], nil, "")
	add(streets["testdata/shp/streets.shp"], streets["testdata/shp/streets.dbf"], "no such encoding")
	add(streets["testdata/shp/streets.shp"][:300], streets["testdata/shp/streets.dbf"][:300], "936")
	files := readTestdata(f, "hostile/*.shp")
	for _, p := range sortedKeys(files) {
		dbf, _ := os.ReadFile(strings.TrimSuffix(p, ".shp") + ".dbf")
		add(files[p], dbf, "")
	}
	hostile := hostileShapefiles()
	names := make([]string, 0, len(hostile))
	for k := range hostile {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		add(hostile[k][0], hostile[k][1], "")
	}
	add(nil, nil, "")
	add(make([]byte, shpHeaderLen), nil, "")
	add(shpFile(-1)[:99], nil, "")
	add(shpFile(0), nil, "UTF-8")
	add(shpFile(-1, shpPolygonRecord(square(0, 0, 1, true))), []byte{3}, "")

	f.Fuzz(func(t *testing.T, shp, dbf []byte, cpg string) {
		dir := t.TempDir()
		path := filepath.Join(dir, "in.shp")
		if err := os.WriteFile(path, shp, 0o600); err != nil {
			t.Fatal(err)
		}
		if len(dbf) > 0 {
			if err := os.WriteFile(filepath.Join(dir, "in.dbf"), dbf, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if cpg != "" {
			if err := os.WriteFile(filepath.Join(dir, "in.cpg"), []byte(cpg), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		before := heapAllocs()
		r, err := Open(path, Options{})
		if err != nil {
			if r != nil {
				t.Fatal("Open returned a Reader with an error")
			}
			checkNoPath(t, err, dir)
			checkAllocs(t, before, allocBudget(len(shp)+len(dbf)))
			return
		}
		// Each feature consumes a record of at least 8 bytes of the .shp or
		// at least 1 byte of the .dbf.
		drainChecked(t, r, dir, len(shp)/8+len(dbf)+1)
		checkAllocs(t, before, allocBudget(len(shp)+len(dbf)))
		if r.Err() == nil {
			if done, total := r.Progress(); done != total {
				t.Fatalf("read without error but Progress = %d/%d", done, total)
			}
		}
		closeTwice(t, r)
	})
}

// FuzzDBF: no DBF crashes the attribute reader or makes it allocate out of
// proportion; records hold one normalised value per field. enc picks the
// text decoder: the header's language driver or guessing, or a named one.
func FuzzDBF(f *testing.F) {
	encodings := []string{"", "UTF-8", "GBK", "GB18030", "Big5", "Shift_JIS", "EUC-KR", "windows-1252", "866"}
	seeds := readTestdata(f, "shp/*.dbf")
	for k, v := range readTestdata(f, "hostile/*.dbf") {
		seeds[k] = v
	}
	for k, v := range hostileDBFs() {
		seeds[k] = v
	}
	for i, k := range sortedKeys(seeds) {
		f.Add(seeds[k], uint8(i%len(encodings)))
	}
	f.Add([]byte{}, uint8(0))
	f.Add(make([]byte, dbfHeaderLen), uint8(0))

	f.Fuzz(func(t *testing.T, b []byte, enc uint8) {
		var dec *textDecoder
		if label := encodings[int(enc)%len(encodings)]; label != "" {
			var err error
			if dec, err = lookupEncoding(label); err != nil {
				t.Fatal(err)
			}
		}
		before := heapAllocs()
		d, err := newDBFReader(bytes.NewReader(b), dec)
		if err != nil {
			checkAllocs(t, before, allocBudget(len(b)))
			return
		}
		if d.recLen < 1 {
			t.Fatalf("record length %d accepted", d.recLen)
		}
		for _, fd := range d.fields {
			if fd.offset < 1 || fd.length < 0 || fd.offset+fd.length > d.recLen {
				t.Fatalf("field %q at %d+%d does not fit records of %d bytes", fd.name, fd.offset, fd.length, d.recLen)
			}
		}
		n := 0
		for {
			props, _, err := d.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				break // a bytes.Reader only fails at its end: nothing more to read
			}
			if n++; n > len(b)/d.recLen+1 {
				t.Fatalf("%d records from %d bytes of %d-byte records", n, len(b), d.recLen)
			}
			if n > d.records {
				t.Fatalf("record %d past the %d the header declares", n, d.records)
			}
			if props == nil || len(props) > len(d.fields) {
				t.Fatalf("%d values for %d fields", len(props), len(d.fields))
			}
			checkFeature(t, Feature{Index: n - 1, Props: props})
		}
		if _, _, err := d.next(); !errors.Is(err, io.EOF) {
			t.Fatalf("next after the end: %v, want io.EOF", err)
		}
		checkAllocs(t, before, allocBudget(len(b)))
	})
}

// --- Zipped Shapefile ---

// zipOf builds a zip archive of the named entries, in order; a name ending
// in "!" is stored (not compressed), without the "!".
func zipOf(entries ...any) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(entries); i += 2 {
		name := entries[i].(string)
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		if n, ok := strings.CutSuffix(name, "!"); ok {
			h.Name, h.Method = n, zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			panic(err)
		}
		w.Write(entries[i+1].([]byte))
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// bombSHP is a .shp header declaring 2 GB followed by 2 MB of zeros, which
// deflate a thousandfold.
func bombSHP() []byte {
	return append(shpFile(2<<30), make([]byte, 2<<20)...)
}

// ratioLieZip is a zip bomb whose central directory declares a compressed
// size of 1 GB for its 1.5 MB of zeros (one null shape record: cheap to
// read through).
func ratioLieZip() []byte {
	z := zipOf("lie.shp", shpFile(-1, make([]byte, 3<<19)))
	i := bytes.Index(z, []byte("PK\x01\x02")) // the central directory entry
	binary.LittleEndian.PutUint32(z[i+20:], 1<<30)
	return z
}

// allocLieZip is a zip whose .shp entry declares 60 MB, compressed and
// not, and holds a record header claiming 48 MB, then 300 KB of zeros (so
// that the header is read before the deflate stream ends).
func allocLieZip() []byte {
	shp := shpFile(2<<30, make([]byte, 300<<10))
	shp = append(shp, shpRawRecord(24<<20, nil)...)
	shp = append(shp, make([]byte, 300<<10)...)
	z := zipOf("alloc.shp", shp)
	i := bytes.Index(z, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(z[i+20:], 60<<20) // compressed size
	binary.LittleEndian.PutUint32(z[i+24:], 60<<20) // uncompressed size
	return z
}

// hostileZips are zipped Shapefiles: bombs, missing or junk entries,
// hostile contents.
func hostileZips() map[string][]byte {
	good := shpFile(-1, shpPolygonRecord(square(0, 0, 10, true)))
	dbf := dbfFile(-1, 0, 0, []dbfSpec{{"name", 'C', 4, 0}}, " abc")
	hs := hostileShapefiles()
	return map[string][]byte{
		"bomb.zip":      zipOf("bomb.shp", bombSHP()),
		"ratio-lie.zip": ratioLieZip(),
		"alloc-lie.zip": allocLieZip(),
		"dbf-bomb.zip":  zipOf("a.shp", good, "a.dbf", append(dbf, make([]byte, 2<<20)...)),
		// The .shp is fine but the first entry is a macOS resource fork,
		// and the sidecars differ in case and folder.
		"junk-first.zip":   zipOf("__MACOSX/x/._a.shp", bombSHP()[:200], "x/A.SHP!", good, "x/a.DbF", dbf, "x/A.prj", []byte(`GEOGCS["x",AUTHORITY["EPSG","4490"]]`), "x/a.cpg", []byte("GBK\n")),
		"no-shp.zip":       zipOf("readme.txt", []byte("nothing here"), "a.dbf", dbf),
		"huge-counts.zip":  zipOf("h.shp!", hs["huge-counts"][0], "h.dbf", hs["huge-counts"][1]),
		"declares-2gb.zip": zipOf("d.shp!", hs["declares-2gb"][0]),
		"bad-cpg.zip":      zipOf("a.shp", good, "a.dbf", dbf, "a.cpg", []byte("EBCDIC-or-something")),
	}
}

// FuzzZip: no archive crashes the zipped Shapefile reader, gets past the
// zip limits, or yields features that break the Reader contract.
func FuzzZip(f *testing.F) {
	seeds := readTestdata(f, "*.zip")
	for k, v := range readTestdata(f, "hostile/*.zip") {
		seeds[k] = v
	}
	for k, v := range hostileZips() {
		seeds[k] = v
	}
	for _, k := range sortedKeys(seeds) {
		f.Add(seeds[k])
	}
	if streets, ok := seeds["testdata/streets.zip"]; ok {
		f.Add(streets[:len(streets)/2])
		f.Add(streets[len(streets)/2:])
	}
	f.Add([]byte{})
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))

	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "in.zip")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		opts := fuzzZipOptions
		// An entry may hold a record as large as itself: up to 1 MB, or
		// MaxZipRatio times the archive.
		budget := allocBudget(len(b)) + 1<<20 + uint64(opts.MaxZipRatio*float64(len(b)))
		before := heapAllocs()
		checkZipAllocs := func() {
			t.Helper()
			if n := heapAllocs() - before; n > budget {
				knownBug(t, "zip-alloc-declared-size", "reading this %d-byte archive allocated %d MB (budget %d MB)", len(b), n>>20, budget>>20)
			}
		}
		r, err := Open(path, opts)
		if err != nil {
			if r != nil {
				t.Fatal("Open returned a Reader with an error")
			}
			checkNoPath(t, err, dir)
			checkZipAllocs()
			return
		}
		_, total := r.Progress()
		if total > opts.MaxZipBytes {
			t.Fatalf("a .shp of %d bytes uncompressed got past MaxZipBytes %d", total, opts.MaxZipBytes)
		}
		// No entry is really compressed into more bytes than the archive
		// has, whatever its header says.
		if total > 1<<20 && float64(total) > opts.MaxZipRatio*float64(len(b)) {
			knownBug(t, "zip-ratio-declared-size", "a .shp of %d bytes uncompressed, from a %d-byte archive, got past MaxZipRatio %g",
				total, len(b), opts.MaxZipRatio)
		}
		// Each feature consumes 8 bytes of the .shp or 1 of the .dbf; an
		// entry uncompresses to at most 1 MB, or MaxZipRatio times itself.
		maxBytes := int(max(1<<20, opts.MaxZipRatio*float64(len(b))))
		drainChecked(t, r, dir, 2*maxBytes+1)
		checkZipAllocs()
		closeTwice(t, r)
	})
}

// A zip bomb is refused by Open, with the importer's limits, before any
// record is read.
func TestFuzzZipBombSeedRefused(t *testing.T) {
	for name, b := range hostileZips() {
		if !strings.Contains(name, "bomb") {
			continue
		}
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path, fuzzZipOptions); err == nil || !strings.Contains(err.Error(), "zip bomb") {
			t.Errorf("%s (%d bytes): Open error %v, want a zip bomb refused", name, len(b), err)
		}
	}
}

// TestWriteHostileSeeds rewrites testdata/hostile from the builders above
// when run with -update-hostile; the fuzz targets read those files as seeds
// as well (they are the inputs to try on other tools, e.g. ogrinfo).
func TestWriteHostileSeeds(t *testing.T) {
	files := map[string][]byte{}
	for k, v := range hostileGeoJSON() {
		files[k] = v
	}
	for k, v := range hostileShapefiles() {
		files[k+".shp"] = v[0]
		if v[1] != nil {
			files[k+".dbf"] = v[1]
		}
	}
	for k, v := range hostileDBFs() {
		files[k] = v
	}
	for k, v := range hostileZips() {
		files[k] = v
	}
	for name, b := range files {
		if len(b) > 100<<10 {
			t.Errorf("hostile seed %s is %d bytes: keep seeds under 100 KB", name, len(b))
		}
	}
	if !*updateHostile {
		t.Skip("run with -update-hostile to rewrite testdata/hostile")
	}
	dir := filepath.Join("testdata", "hostile")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
