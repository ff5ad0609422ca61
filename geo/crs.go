package geo

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Shift is a non-geodetic offset that must be undone in Go before the
// coordinates are given to PostGIS, which knows nothing of GCJ-02 or BD-09.
type Shift int

const (
	// NoShift: the coordinates are already in the CRS named by SRID.
	NoShift Shift = iota
	// ShiftGCJ02: WGS84 coordinates offset to GCJ-02 (AMap, Tencent).
	ShiftGCJ02
	// ShiftBD09: WGS84 coordinates offset to BD-09 (Baidu).
	ShiftBD09
)

// String names the shift for messages.
func (s Shift) String() string {
	switch s {
	case NoShift:
		return "none"
	case ShiftGCJ02:
		return "gcj02"
	case ShiftBD09:
		return "bd09"
	}
	return fmt.Sprintf("Shift(%d)", int(s))
}

// CRS describes the coordinate reference system of input data.
//
// SRID is the EPSG code PostGIS should ST_Transform from once Unshift has been
// applied: 4326 for wgs84, gcj02 and bd09 (the shift is undone in Go, which
// yields WGS84), 4490 for cgcs2000, n for EPSG:n.
//
// CGCS2000 (EPSG:4490) is, at map accuracy, the same as WGS84: the two
// realisations differ by centimetres, and PostGIS/PROJ transform 4490→4326
// as a null transformation anyway. It keeps its own SRID so that the source
// is recorded truthfully.
//
// Name is a canonical label derived from SRID and Shift ("wgs84",
// "cgcs2000", "gcj02", "bd09", otherwise "EPSG:n"), so two CRS values that
// mean the same thing compare equal whichever way they were spelt.
//
// URI, Flip and Geographic describe the CRS as OGC API Features names it
// (Part 2): the CRSs the service offers for output, bbox and filters carry
// them (see OGC and ParseURI).
type CRS struct {
	Name  string
	SRID  int
	Shift Shift
	// URI is the OGC name (http://www.opengis.net/def/crs/…).
	URI string
	// Flip: the CRS's authoritative axis order is latitude/northing first,
	// while PostGIS (like GeoJSON) always writes x = easting/longitude first.
	Flip bool
	// Geographic: coordinates are degrees.
	Geographic bool
}

// Stored is the SRID coordinates in this CRS have once stored: CGCS2000
// is stored as WGS84 (centimetres apart), everything else keeps its SRID
// (PostGIS transforms it).
func (c CRS) Stored() int {
	if c.SRID == sridCGCS2000 {
		return sridWGS84
	}
	return c.SRID
}

// String returns c.Name.
func (c CRS) String() string { return c.Name }

// Unshift undoes the CRS's GCJ-02/BD-09 shift, returning WGS84 lon/lat; for
// unshifted CRSs it is the identity.
func (c CRS) Unshift(lon, lat float64) (float64, float64) {
	switch c.Shift {
	case ShiftGCJ02:
		return FromGCJ02(lon, lat)
	case ShiftBD09:
		return FromBD09(lon, lat)
	}
	return lon, lat
}

const (
	sridWGS84    = 4326
	sridCGCS2000 = 4490
	// PostGIS reserves SRIDs above 999999.
	maxSRID = 999999
)

// crsForSRID builds an unshifted CRS with its canonical name.
func crsForSRID(srid int) CRS {
	switch srid {
	case sridWGS84:
		return CRS{Name: "wgs84", SRID: sridWGS84}
	case sridCGCS2000:
		return CRS{Name: "cgcs2000", SRID: sridCGCS2000}
	}
	return CRS{Name: "EPSG:" + strconv.Itoa(srid), SRID: srid}
}

const acceptedCRS = "wgs84, cgcs2000, gcj02, bd09, CRS84, OGC:CRS84 or EPSG:<code>"

// ParseCRS parses a --crs style value, case-insensitively: wgs84, cgcs2000,
// gcj02, bd09 (dashes and underscores are ignored in these, so "GCJ-02"
// works), CRS84 or OGC:CRS84 (both WGS84 lon/lat), or EPSG:<n>.
func ParseCRS(s string) (CRS, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	if code, ok := strings.CutPrefix(v, "epsg:"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(code))
		if err != nil || n <= 0 || n > maxSRID {
			return CRS{}, fmt.Errorf("invalid CRS %q: EPSG code must be an integer between 1 and %d; accepted: %s", s, maxSRID, acceptedCRS)
		}
		return crsForSRID(n), nil
	}
	switch strings.NewReplacer("-", "", "_", "").Replace(v) {
	case "wgs84", "crs84", "ogc:crs84":
		return crsForSRID(sridWGS84), nil
	case "cgcs2000":
		return crsForSRID(sridCGCS2000), nil
	case "gcj02":
		return CRS{Name: "gcj02", SRID: sridWGS84, Shift: ShiftGCJ02}, nil
	case "bd09":
		return CRS{Name: "bd09", SRID: sridWGS84, Shift: ShiftBD09}, nil
	}
	return CRS{}, fmt.Errorf("unknown CRS %q; accepted: %s", s, acceptedCRS)
}

// CRSFromPRJ recognises the CRS of a Shapefile .prj (WKT1 in its ESRI or
// OGC/GDAL flavour; WKT2's ID[...] is understood too).
//
// An EPSG authority on the outermost CRS wins (the last AUTHORITY/ID that is
// a direct child of the root: nested ones belong to the datum, the base
// geographic CRS, units…). ESRI .prj files carry no authority, so otherwise
// the root's name is matched: WGS 84 and CGCS2000 geographic CRSs, the
// CGCS2000 Gauss-Krüger 3° and 6° zones (by central meridian or zone
// number), WGS 84 UTM zones and Web Mercator. A geographic root with an
// unknown name falls back to its datum. Anything else is an error asking for
// --crs, rather than a guess: a wrong CRS silently misplaces all the data.
func CRSFromPRJ(wkt string) (CRS, error) {
	root, err := parseWKT(wkt)
	if err != nil {
		return CRS{}, fmt.Errorf("cannot read .prj: %v; pass --crs", err)
	}
	if srid, ok := rootEPSG(root); ok {
		return crsForSRID(srid), nil
	}
	kw := strings.ToUpper(root.keyword)
	name := normName(root.name)
	switch kw {
	case "GEOGCS", "GEOGCRS", "GEODCRS":
		if cs := root.child("CS"); cs != nil && len(cs.values) > 0 && !strings.EqualFold(cs.values[0], "ellipsoidal") {
			// A WKT2 geocentric CRS (e.g. EPSG:4978) is also named "WGS 84".
			break
		}
		if srid, ok := geographicNames[strings.ReplaceAll(name, "_", "")]; ok {
			return crsForSRID(srid), nil
		}
		if d := root.child("DATUM"); d != nil {
			if srid, ok := datumNames[strings.ReplaceAll(normName(d.name), "_", "")]; ok {
				return crsForSRID(srid), nil
			}
		}
	case "PROJCS", "PROJCRS":
		if srid, ok := projectedSRID(name); ok {
			return crsForSRID(srid), nil
		}
	}
	return CRS{}, fmt.Errorf("unrecognised coordinate system %s[%q] in .prj; pass --crs (e.g. --crs EPSG:4547)", root.keyword, root.name)
}

// Geographic CRS and datum names, normalised by normName with underscores
// removed ("GCS_WGS_1984" → "gcswgs1984").
var (
	geographicNames = map[string]int{
		"gcswgs1984":                           sridWGS84,
		"wgs1984":                              sridWGS84,
		"wgs84":                                sridWGS84,
		"gcschinageodeticcoordinatesystem2000": sridCGCS2000,
		"chinageodeticcoordinatesystem2000":    sridCGCS2000,
		"cgcs2000":                             sridCGCS2000,
		"gcscgcs2000":                          sridCGCS2000,
	}
	datumNames = map[string]int{
		"dwgs1984":                          sridWGS84,
		"wgs1984":                           sridWGS84,
		"worldgeodeticsystem1984":           sridWGS84,
		"dchina2000":                        sridCGCS2000,
		"china2000":                         sridCGCS2000,
		"chinageodeticcoordinatesystem2000": sridCGCS2000,
		"cgcs2000":                          sridCGCS2000,
	}
)

// Projected CRS names, normalised by normName. ESRI spells them
// "CGCS2000_3_Degree_GK_CM_114E", EPSG/GDAL "CGCS2000 / 3-degree
// Gauss-Kruger CM 114E"; both normalise to the same shape.
var (
	reGK3CM   = regexp.MustCompile(`^cgcs2000_3_degree_(?:gk|gauss_kruger)_cm_(\d+)_?e$`)
	reGK3Zone = regexp.MustCompile(`^cgcs2000_3_degree_(?:gk|gauss_kruger)_zone_(\d+)$`)
	reGK6CM   = regexp.MustCompile(`^cgcs2000_(?:gk|gauss_kruger)_cm_(\d+)_?e$`)
	reGK6Zone = regexp.MustCompile(`^cgcs2000_(?:gk|gauss_kruger)_zone_(\d+)$`)
	reUTM     = regexp.MustCompile(`^wgs_(?:1984|84)_utm_zone_(\d+)_?([ns])$`)

	webMercatorNames = map[string]bool{
		"wgs_1984_web_mercator_auxiliary_sphere": true,
		"wgs_1984_web_mercator":                  true, // ESRI:102113, same projection
		"wgs_84_pseudo_mercator":                 true,
		"pseudo_mercator":                        true,
		"popular_visualisation_crs_mercator":     true, // the old EPSG:900913 name
	}
)

// projectedSRID maps a normalised projected CRS name to its EPSG code. The
// CGCS2000 Gauss-Krüger codes are consecutive in EPSG (checked against PROJ
// 9.1's database): 3° zones 25..45 are 4513..4533 and 3° CMs 75E..135E are
// 4534..4554; 6° zones 13..23 are 4491..4501 and 6° CMs 75E..135E are
// 4502..4512.
func projectedSRID(name string) (int, bool) {
	if webMercatorNames[name] {
		return 3857, true
	}
	num := func(re *regexp.Regexp) (int, []string, bool) {
		m := re.FindStringSubmatch(name)
		if m == nil {
			return 0, nil, false
		}
		n, err := strconv.Atoi(m[1])
		return n, m, err == nil
	}
	if cm, _, ok := num(reGK3CM); ok && cm >= 75 && cm <= 135 && cm%3 == 0 {
		return 4534 + (cm-75)/3, true
	}
	if z, _, ok := num(reGK3Zone); ok && z >= 25 && z <= 45 {
		return 4513 + (z - 25), true
	}
	if cm, _, ok := num(reGK6CM); ok && cm >= 75 && cm <= 135 && cm%6 == 3 {
		return 4502 + (cm-75)/6, true
	}
	if z, _, ok := num(reGK6Zone); ok && z >= 13 && z <= 23 {
		return 4491 + (z - 13), true
	}
	if z, m, ok := num(reUTM); ok && z >= 1 && z <= 60 {
		if m[2] == "n" {
			return 32600 + z, true
		}
		return 32700 + z, true
	}
	return 0, false
}

// normName lowercases a WKT name and turns every run of other characters
// than letters and digits into a single "_", so that "WGS 84 / UTM zone 50N"
// and "WGS_84_UTM_Zone_50N" compare equal.
func normName(s string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			sep = false
			b.WriteRune(r)
		} else {
			sep = true
		}
	}
	return b.String()
}

// rootEPSG returns the EPSG code of the last AUTHORITY["EPSG",n] or
// ID["EPSG",n] directly under the root.
func rootEPSG(root *wktNode) (int, bool) {
	srid, found := 0, false
	for _, c := range root.children {
		k := strings.ToUpper(c.keyword)
		if (k != "AUTHORITY" && k != "ID") || len(c.values) < 2 {
			continue
		}
		if !strings.EqualFold(c.values[0], "EPSG") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(c.values[1]))
		if err != nil || n <= 0 || n > maxSRID {
			continue
		}
		srid, found = n, true
	}
	return srid, found
}

// wktNode is one KEYWORD[...] of a WKT string. values holds its non-node
// arguments in order (quoted strings unquoted, numbers and enums as written);
// name is the first argument when it is a quoted string.
type wktNode struct {
	keyword  string
	name     string
	values   []string
	children []*wktNode
}

func (n *wktNode) child(keyword string) *wktNode {
	for _, c := range n.children {
		if strings.EqualFold(c.keyword, keyword) {
			return c
		}
	}
	return nil
}

// parseWKT parses just enough WKT (1 or 2) to walk its tree. Both [] and ()
// delimiters are allowed, as the WKT1 spec does.
func parseWKT(s string) (*wktNode, error) {
	p := &wktParser{s: strings.TrimPrefix(s, "\ufeff")}
	p.skipSpace()
	n, err := p.nodeDepth(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected text after the WKT at offset %d", p.i)
	}
	return n, nil
}

type wktParser struct {
	s string
	i int
}

// maxWKTDepth bounds recursion on hostile input; real CRSs nest ~5 deep.
const maxWKTDepth = 32

func (p *wktParser) skipSpace() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *wktParser) nodeDepth(depth int) (*wktNode, error) {
	if depth > maxWKTDepth {
		return nil, errors.New("WKT nested too deeply")
	}
	kw := p.word()
	if kw == "" {
		return nil, fmt.Errorf("expected a WKT keyword at offset %d", p.i)
	}
	n := &wktNode{keyword: kw}
	p.skipSpace()
	if p.i >= len(p.s) || (p.s[p.i] != '[' && p.s[p.i] != '(') {
		// A bare keyword such as an axis direction (NORTH).
		return n, nil
	}
	closer := byte(']')
	if p.s[p.i] == '(' {
		closer = ')'
	}
	p.i++
	for first := true; ; first = false {
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("unterminated %s", kw)
		}
		if p.s[p.i] == closer && first {
			p.i++
			return n, nil
		}
		switch c := p.s[p.i]; {
		case c == '"':
			v, err := p.quoted()
			if err != nil {
				return nil, err
			}
			if first {
				n.name = v
			}
			n.values = append(n.values, v)
		case isWordByte(c) && !isNumberStart(c):
			child, err := p.nodeDepth(depth + 1)
			if err != nil {
				return nil, err
			}
			if len(child.children) == 0 && child.name == "" && len(child.values) == 0 {
				// Enum value (e.g. EAST): keep it as a value.
				n.values = append(n.values, child.keyword)
			} else {
				n.children = append(n.children, child)
			}
		default:
			v := p.number()
			if v == "" {
				return nil, fmt.Errorf("unexpected %q at offset %d", c, p.i)
			}
			n.values = append(n.values, v)
		}
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("unterminated %s", kw)
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case closer:
			p.i++
			return n, nil
		default:
			return nil, fmt.Errorf("expected ',' or %q at offset %d", closer, p.i)
		}
	}
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

func isNumberStart(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.'
}

func (p *wktParser) word() string {
	start := p.i
	for p.i < len(p.s) && isWordByte(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *wktParser) number() string {
	start := p.i
	for p.i < len(p.s) && (isNumberStart(p.s[p.i]) || p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a "..." string; WKT escapes a quote by doubling it.
func (p *wktParser) quoted() (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		if c != '"' {
			b.WriteByte(c)
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '"' {
			b.WriteByte('"')
			p.i++
			continue
		}
		return b.String(), nil
	}
	return "", errors.New("unterminated quoted string")
}

// The CRSs of OGC API Features Part 2 that jiedao offers.
var (
	CRS84    = CRS{Name: "wgs84", SRID: sridWGS84, URI: "http://www.opengis.net/def/crs/OGC/1.3/CRS84", Geographic: true}
	EPSG4326 = CRS{Name: "wgs84", SRID: sridWGS84, URI: "http://www.opengis.net/def/crs/EPSG/0/4326", Flip: true, Geographic: true}
	EPSG4490 = CRS{Name: "cgcs2000", SRID: sridCGCS2000, URI: "http://www.opengis.net/def/crs/EPSG/0/4490", Flip: true, Geographic: true}
	// EPSG:4548 (CGCS2000 / 3-degree Gauss-Kruger CM 117E) defines
	// northing (X) before easting (Y) — `projinfo EPSG:4548` — so it is
	// flipped like the geographic EPSG CRSs.
	EPSG4548 = CRS{Name: "EPSG:4548", SRID: 4548, URI: "http://www.opengis.net/def/crs/EPSG/0/4548", Flip: true}
	EPSG3857 = CRS{Name: "EPSG:3857", SRID: 3857, URI: "http://www.opengis.net/def/crs/EPSG/0/3857"}
)

// OGC lists the CRSs offered to OGC API clients, the storage CRS first.
var OGC = []CRS{CRS84, EPSG4326, EPSG4490, EPSG4548, EPSG3857}

// Storage is the CRS of the stored geometries (EPSG:4326 in lon/lat order).
var Storage = CRS84

// ParseURI accepts an OGC CRS name of one of the OGC CRSs: a URI (http or
// https), a safe CURIE ([EPSG:4326]), EPSG:<n>, OGC:CRS84 or CRS84.
func ParseURI(s string) (CRS, error) {
	v := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "["), "]")
	v = strings.Replace(v, "https://", "http://", 1)
	up := strings.ToUpper(v)
	for _, c := range OGC {
		code := c.URI[strings.LastIndex(c.URI, "/")+1:]
		switch {
		case v == c.URI,
			code == "CRS84" && (up == "CRS84" || up == "OGC:CRS84"),
			code != "CRS84" && (up == "EPSG:"+code || up == "EPSG::"+code):
			return c, nil
		}
	}
	var names []string
	for _, c := range OGC {
		names = append(names, c.URI)
	}
	return CRS{}, fmt.Errorf("unsupported CRS %q (supported: %s)", s, strings.Join(names, ", "))
}
