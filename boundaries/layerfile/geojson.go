package layerfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"
)

// geojsonReader walks the top-level object with json.Decoder tokens, so that
// only one feature is in memory at a time, whatever the order of its keys.
type geojsonReader struct {
	path  string
	f     *os.File
	dec   *json.Decoder
	state int
	index int
	err   error

	typ         string // top-level "type", once seen
	sawFeatures bool
	// The members of a top-level Feature, kept until the object ends.
	geometry, properties json.RawMessage
	srid                 int
	pending              *Feature

	total    int64
	progress atomic.Int64
}

const (
	gjStart    = iota // before the top-level '{'
	gjTop             // among the top-level keys
	gjFeatures        // inside the "features" array
	gjEnd
)

func openGeoJSON(path string) (Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(f, 256<<10)
	// A UTF-8 byte order mark, which Windows tools like to write, is not
	// JSON and would stop encoding/json at the first byte.
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xEF\xBB\xBF")) {
		br.Discard(3)
	}
	r := &geojsonReader{path: path, f: f, dec: json.NewDecoder(br), total: st.Size()}
	r.prime()
	return r, nil
}

func (r *geojsonReader) Err() error  { return r.err }
func (r *geojsonReader) PRJ() string { return "" }
func (r *geojsonReader) SRID() int   { return r.srid }

func (r *geojsonReader) Progress() (int64, int64) { return r.progress.Load(), r.total }

func (r *geojsonReader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

func (r *geojsonReader) fatal(format string, args ...any) (Feature, bool) {
	r.err = fmt.Errorf("read %s: "+format, append([]any{filepath.Base(r.path)}, args...)...)
	r.state = gjEnd
	return Feature{}, false
}

func (r *geojsonReader) Next() (Feature, bool) {
	if r.pending != nil {
		f := *r.pending
		r.pending = nil
		return f, true
	}
	return r.run(false)
}

// prime reads the top-level members that come before "features", so that a
// "crs" there is known (SRID) as soon as Open returns. A fatal error is left
// in Err for the first Next, as for any other.
func (r *geojsonReader) prime() {
	if f, ok := r.run(true); ok {
		r.pending = &f // a lone Feature, read whole
	}
}

// run advances the state machine to the next feature; with prime, it stops
// instead at the start of the "features" array.
func (r *geojsonReader) run(prime bool) (Feature, bool) {
	for {
		switch r.state {
		case gjEnd:
			return Feature{}, false

		case gjStart:
			tok, err := r.dec.Token()
			if err != nil {
				return r.fatal("not a JSON file: %w", err)
			}
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return r.fatal("the top-level JSON value is %s, want a GeoJSON FeatureCollection or Feature object", describeToken(tok))
			}
			r.state = gjTop

		case gjFeatures:
			if prime {
				return Feature{}, false
			}
			if r.dec.More() {
				var raw json.RawMessage
				if err := r.dec.Decode(&raw); err != nil {
					// Broken JSON syntax: the stream cannot be resynchronised.
					return r.fatal("feature %d: %w", r.index, err)
				}
				f := buildFeature(r.path, r.index, raw)
				r.index++
				r.progress.Store(r.dec.InputOffset())
				return f, true
			}
			if _, err := r.dec.Token(); err != nil { // the closing ']'
				return r.fatal("after feature %d: %w", r.index-1, err)
			}
			r.state = gjTop

		case gjTop:
			if !r.dec.More() {
				return r.finish()
			}
			tok, err := r.dec.Token()
			if err != nil {
				return r.fatal("%w", err)
			}
			key, _ := tok.(string)
			if err := r.topMember(key); err != nil {
				return r.fatal("%w", err)
			}
		}
	}
}

// topMember consumes the value of one top-level member. An error is fatal.
func (r *geojsonReader) topMember(key string) error {
	switch key {
	case "type":
		var typ string
		if err := r.dec.Decode(&typ); err != nil {
			return fmt.Errorf("top-level \"type\": %w", err)
		}
		switch {
		case typ != "FeatureCollection" && typ != "Feature":
			return fmt.Errorf("GeoJSON type %q is not a FeatureCollection or a Feature", typ)
		case typ == "Feature" && r.sawFeatures:
			return errors.New("a Feature with a \"features\" array")
		}
		r.typ = typ
		return nil
	case "features":
		if r.typ == "Feature" {
			break // a foreign member of a Feature: skip it
		}
		tok, err := r.dec.Token()
		if err != nil {
			return fmt.Errorf("\"features\": %w", err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return fmt.Errorf("\"features\" is %s, want an array", describeToken(tok))
		}
		r.sawFeatures = true
		r.state = gjFeatures
		return nil
	case "crs", "geometry", "properties":
		var raw json.RawMessage
		if err := r.dec.Decode(&raw); err != nil {
			return fmt.Errorf("%q: %w", key, err)
		}
		switch key {
		case "crs":
			r.srid = crsEPSG(raw)
		case "geometry":
			r.geometry = raw // kept in case this is a lone Feature
		default:
			r.properties = raw
		}
		return nil
	}
	if err := skipValue(r.dec); err != nil {
		return fmt.Errorf("%q: %w", key, err)
	}
	return nil
}

// finish handles the end of the top-level object.
func (r *geojsonReader) finish() (Feature, bool) {
	if _, err := r.dec.Token(); err != nil { // the closing '}'
		return r.fatal("%w", err)
	}
	if tok, err := r.dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return r.fatal("after the top-level object: %w", err)
		}
		return r.fatal("unexpected %s after the top-level object", describeToken(tok))
	}
	r.state = gjEnd
	r.progress.Store(r.total)
	switch {
	case r.typ == "Feature":
		// A lone Feature: its members were collected on the way.
		var b bytes.Buffer
		b.WriteString(`{"type":"Feature","geometry":`)
		b.Write(orNull(r.geometry))
		b.WriteString(`,"properties":`)
		b.Write(orNull(r.properties))
		b.WriteString("}")
		r.geometry, r.properties = nil, nil
		f := buildFeature(r.path, 0, b.Bytes())
		r.index++
		return f, true
	case !r.sawFeatures && r.typ == "":
		return r.fatal("not GeoJSON: the top-level object has neither \"type\" nor \"features\"")
	case !r.sawFeatures:
		return r.fatal("FeatureCollection without a \"features\" array")
	}
	return Feature{}, false
}

func orNull(raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return []byte("null")
	}
	return raw
}

// skipValue consumes one JSON value token by token, so that a large foreign
// member is not held in memory.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

func describeToken(tok any) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return fmt.Sprintf("%q", string(t))
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// buildFeature decodes one feature object. Properties are decoded first and
// kept even when the geometry fails, so a broken feature can be named.
func buildFeature(path string, index int, raw json.RawMessage) Feature {
	f := Feature{Index: index, Props: map[string]any{}}
	fail := func(err error) Feature {
		f.Geom, f.Err = nil, featureErr(path, index, err)
		return f
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return fail(fmt.Errorf("feature is %s, not an object", describeRaw(t)))
	}
	var member struct {
		Type       any             `json:"type"`
		Geometry   json.RawMessage `json:"geometry"`
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(raw, &member); err != nil {
		return fail(err)
	}
	props, propsErr := decodeProps(member.Properties)
	if props != nil {
		f.Props = props
	}
	// A missing "type" is tolerated (some generators leave it out); a wrong
	// one is not.
	if member.Type != nil && member.Type != "Feature" {
		return fail(fmt.Errorf("\"type\" is %v, want \"Feature\"", jsonText(member.Type)))
	}
	if propsErr != nil {
		return fail(fmt.Errorf("properties: %w", propsErr))
	}
	if g := bytes.TrimSpace(member.Geometry); len(g) == 0 || bytes.Equal(g, []byte("null")) {
		return f // no geometry: not an error here, the importer decides
	}
	g, err := decodeGeometry(member.Geometry)
	if err != nil {
		return fail(fmt.Errorf("geometry: %w", err))
	}
	f.Geom = g
	return f
}

func describeRaw(t []byte) string {
	if len(t) == 0 {
		return "missing"
	}
	switch t[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// decodeProps decodes a properties object with UseNumber, so that integers
// stay exact int64 rather than float64.
func decodeProps(raw json.RawMessage) (map[string]any, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	for k, v := range m {
		m[k] = propValue(v)
	}
	return m, nil
}

func propValue(v any) any {
	switch v := v.(type) {
	case json.Number:
		s := v.String()
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n
			}
		}
		if x, err := strconv.ParseFloat(s, 64); err == nil {
			return x
		}
		return s // out of float64 range: keep the text rather than ±Inf
	case map[string]any, []any:
		b, err := json.Marshal(v) // json.Number marshals verbatim
		if err != nil {
			return nil
		}
		return string(b)
	}
	return v // string, bool or nil
}

// crsNumber finds the EPSG code in the "name" of a legacy (GeoJSON 2008)
// "crs" member: "EPSG:4490", "urn:ogc:def:crs:EPSG::4490",
// "http://www.opengis.net/def/crs/EPSG/0/4490".
var crsNumber = regexp.MustCompile(`(?i)EPSG[:/]+(?:[\d.]*[:/]+)?(\d+)\s*$`)

func crsEPSG(raw json.RawMessage) int {
	var crs struct {
		Type       string `json:"type"`
		Properties struct {
			Name string `json:"name"`
			Code any    `json:"code"`
		} `json:"properties"`
	}
	if json.Unmarshal(raw, &crs) != nil {
		return 0
	}
	name := strings.TrimSpace(crs.Properties.Name)
	if strings.HasSuffix(strings.ToUpper(name), "CRS84") {
		return 4326 // OGC CRS84 is WGS 84 in longitude/latitude order
	}
	if m := crsNumber.FindStringSubmatch(name); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if strings.EqualFold(crs.Type, "EPSG") { // {"type":"EPSG","properties":{"code":4326}}
		if n, err := strconv.Atoi(fmt.Sprint(crs.Properties.Code)); err == nil {
			return n
		}
	}
	return 0
}

// decodeGeometry decodes a GeoJSON geometry object. The common geometry
// types go through a direct parser of the "coordinates" arrays, several
// times faster than go-geom's reflection-based decoding, which is what a
// 600,000-feature file spends its time on; anything that parser does not
// expect (a GeometryCollection, mixed dimensions, empty arrays, numbers out
// of range...) falls back to go-geom, so results and errors are go-geom's.
func decodeGeometry(raw json.RawMessage) (geom.T, error) {
	var gj struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	}
	if err := json.Unmarshal(raw, &gj); err == nil {
		if g, ok := fastGeometry(gj.Type, gj.Coordinates); ok {
			return g, nil
		}
	}
	var g geom.T
	if err := geojson.Unmarshal(raw, &g); err != nil {
		return nil, err
	}
	return g, nil
}

func fastGeometry(typ string, coords []byte) (geom.T, bool) {
	var d int // array depth above positions
	switch typ {
	case "Point":
		d = 0
	case "LineString", "MultiPoint":
		d = 1
	case "Polygon", "MultiLineString":
		d = 2
	case "MultiPolygon":
		d = 3
	default:
		return nil, false
	}
	if len(coords) == 0 {
		return nil, false
	}
	p := coordParser{b: coords}
	if !p.parse(d) {
		return nil, false
	}
	p.skipSpace()
	if p.i != len(p.b) {
		return nil, false
	}
	layout := [...]geom.Layout{2: geom.XY, 3: geom.XYZ, 4: geom.XYZM}[p.stride] // stride is 2..4
	switch typ {
	case "Point":
		return geom.NewPointFlat(layout, p.flat), true
	case "LineString":
		return geom.NewLineStringFlat(layout, p.flat), true
	case "MultiPoint":
		return geom.NewMultiPointFlat(layout, p.flat), true
	case "Polygon":
		return geom.NewPolygonFlat(layout, p.flat, p.ends), true
	case "MultiLineString":
		return geom.NewMultiLineStringFlat(layout, p.flat, p.ends), true
	default:
		return geom.NewMultiPolygonFlat(layout, p.flat, p.endss), true
	}
}

// coordParser reads nested arrays of positions from JSON already validated
// by encoding/json. Every method returns false on anything unexpected.
type coordParser struct {
	b      []byte
	i      int
	stride int // from the first position
	flat   []float64
	ends   []int
	endss  [][]int
}

func (p *coordParser) skipSpace() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

// parse reads an array nested depth levels above positions, recording ring
// (depth 2) and polygon (depth 3) boundaries.
func (p *coordParser) parse(depth int) bool {
	if depth == 0 {
		return p.position()
	}
	p.skipSpace()
	if p.i >= len(p.b) || p.b[p.i] != '[' {
		return false
	}
	p.i++
	for n := 0; ; n++ {
		p.skipSpace()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			if n == 0 {
				return false // empty: go-geom's own rules apply
			}
			break
		}
		if n > 0 {
			if p.b[p.i] != ',' {
				return false
			}
			p.i++
		}
		if !p.parse(depth - 1) {
			return false
		}
		switch depth {
		case 2:
			p.ends = append(p.ends, len(p.flat))
		case 3:
			p.endss = append(p.endss, p.ends)
			p.ends = nil
		}
	}
	return true
}

func (p *coordParser) position() bool {
	p.skipSpace()
	if p.i >= len(p.b) || p.b[p.i] != '[' {
		return false
	}
	p.i++
	n := 0
	for {
		p.skipSpace()
		if p.i >= len(p.b) {
			return false
		}
		if p.b[p.i] == ']' {
			p.i++
			break
		}
		if n > 0 {
			if p.b[p.i] != ',' {
				return false
			}
			p.i++
			p.skipSpace()
		}
		start := p.i
		for p.i < len(p.b) && (p.b[p.i] >= '0' && p.b[p.i] <= '9' || p.b[p.i] == '-' || p.b[p.i] == '+' ||
			p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
			p.i++
		}
		x, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
		if err != nil {
			return false
		}
		p.flat = append(p.flat, x)
		n++
	}
	if n < 2 || n > 4 || (p.stride != 0 && n != p.stride) {
		return false
	}
	p.stride = n
	return true
}
