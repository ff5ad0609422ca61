package geo

import (
	"fmt"
	"math"
	"reflect"

	"github.com/twpayne/go-geom"
)

// Problem is one finding of Validate. Reject means the feature must not be
// sent to PostGIS; Reject=false means Validate repaired it in place and the
// Reason is worth reporting.
type Problem struct {
	Reject bool
	Reason string
}

// minRingPoints is the smallest closed ring: a triangle plus the closing
// point. PostGIS's WKB parser refuses anything shorter.
const minRingPoints = 4

// Validate checks g structurally before it goes to PostGIS. PostGIS's WKB
// parser aborts a whole COPY on an unclosed or too short ring, so these must
// be caught per feature here; topological validity (self-intersections
// and the like) is left to PostGIS's ST_IsValid/ST_MakeValid.
//
// Rejected: a nil or empty geometry, anything but a Polygon or MultiPolygon
// (GeometryCollections included), any NaN or ±Inf ordinate (Z and M
// included), a ring of fewer than 4 points and a ring whose first and last
// points differ in X/Y. Rings and polygons are numbered from 1 in the
// reasons, ring 1 being the exterior.
//
// When nothing is rejected, rings are oriented to RFC 7946's right-hand rule
// (exterior counter-clockwise, holes clockwise) by reversing the wrong ones in
// place, and a single non-reject "ring orientation repaired" is reported.
func Validate(g geom.T) []Problem {
	if isNilGeom(g) || g.Empty() || g.Stride() < 2 {
		return []Problem{{Reject: true, Reason: "empty geometry"}}
	}
	var polys [][]int // ring ends of each polygon, offsets into g.FlatCoords()
	switch t := g.(type) {
	case *geom.Polygon:
		polys = [][]int{t.Ends()}
	case *geom.MultiPolygon:
		polys = t.Endss()
	default:
		return []Problem{{Reject: true, Reason: fmt.Sprintf("geometry type %s is not a polygon", geomTypeName(g))}}
	}
	flat, stride := g.FlatCoords(), g.Stride()

	var problems []Problem
	reject := func(format string, args ...any) {
		problems = append(problems, Problem{Reject: true, Reason: fmt.Sprintf(format, args...)})
	}
	for _, v := range flat {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			reject("non-finite coordinate")
			break
		}
	}
	offset := 0
	for pi, ends := range polys {
		if len(ends) == 0 {
			reject("polygon %d is empty", pi+1)
			continue
		}
		for ri, end := range ends {
			if end < offset || end > len(flat) {
				// Only reachable through go-geom's *Flat constructors.
				reject("ring %d of polygon %d has malformed ends", ri+1, pi+1)
				return problems
			}
			ring := flat[offset:end]
			offset = end
			n := len(ring) / stride
			if n < minRingPoints {
				reject("ring %d of polygon %d has %d points, at least %d needed", ri+1, pi+1, n, minRingPoints)
				continue
			}
			last := ring[len(ring)-stride:]
			if ring[0] != last[0] || ring[1] != last[1] {
				reject("ring %d of polygon %d is not closed", ri+1, pi+1)
			}
		}
	}
	if len(problems) > 0 {
		return problems
	}

	// Orientation: only now that every ring is known to be well formed.
	repaired := false
	offset = 0
	for _, ends := range polys {
		for ri, end := range ends {
			ring := flat[offset:end]
			offset = end
			a := signedArea(ring, stride)
			if (ri == 0 && a < 0) || (ri > 0 && a > 0) {
				reverseRing(ring, stride)
				repaired = true
			}
		}
	}
	if repaired {
		problems = append(problems, Problem{Reject: false, Reason: "ring orientation repaired"})
	}
	return problems
}

// signedArea is the shoelace area of a closed ring in coordinate units,
// positive for counter-clockwise. Coordinates are taken relative to the first
// point so that small rings far from (0, 0) keep their precision. Only the
// sign is used: lon/lat distortion does not change it for sane rings.
func signedArea(ring []float64, stride int) float64 {
	x0, y0 := ring[0], ring[1]
	var sum float64
	for i := 0; i+stride < len(ring); i += stride {
		x1, y1 := ring[i]-x0, ring[i+1]-y0
		x2, y2 := ring[i+stride]-x0, ring[i+stride+1]-y0
		sum += x1*y2 - x2*y1
	}
	return sum / 2
}

// reverseRing reverses the point order of a ring in place, keeping each
// point's ordinates (X, Y, Z, M) together.
func reverseRing(ring []float64, stride int) {
	for i, j := 0, len(ring)-stride; i < j; i, j = i+stride, j-stride {
		for k := range stride {
			ring[i+k], ring[j+k] = ring[j+k], ring[i+k]
		}
	}
}

// isNilGeom reports a nil interface or a typed nil pointer, on which go-geom's
// methods would panic.
func isNilGeom(g geom.T) bool {
	if g == nil {
		return true
	}
	v := reflect.ValueOf(g)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// geomTypeName is the OGC name of g's type, for messages.
func geomTypeName(g geom.T) string {
	switch g.(type) {
	case *geom.Point:
		return "Point"
	case *geom.LineString:
		return "LineString"
	case *geom.LinearRing:
		return "LinearRing"
	case *geom.Polygon:
		return "Polygon"
	case *geom.MultiPoint:
		return "MultiPoint"
	case *geom.MultiLineString:
		return "MultiLineString"
	case *geom.MultiPolygon:
		return "MultiPolygon"
	case *geom.GeometryCollection:
		return "GeometryCollection"
	}
	return fmt.Sprintf("%T", g)
}

// CheckLonLatRange reports the first coordinate outside lon [-180, 180] /
// lat [-90, 90] (NaN counts as outside). It catches projected coordinates
// (metres) that were declared or guessed to be lon/lat.
func CheckLonLatRange(g geom.T) error {
	var err error
	eachXY(g, func(i int, lon, lat float64) bool {
		if !(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90) {
			err = fmt.Errorf("coordinate %d (%v, %v) is outside lon [-180, 180], lat [-90, 90]; is the CRS right?", i+1, lon, lat)
			return false
		}
		return true
	})
	return err
}

// Transform applies f to the X/Y of every coordinate of g in place (Z and M
// are left alone). Members of GeometryCollections are transformed too.
func Transform(g geom.T, f func(lon, lat float64) (float64, float64)) {
	if isNilGeom(g) {
		return
	}
	if gc, ok := g.(*geom.GeometryCollection); ok {
		for _, m := range gc.Geoms() {
			Transform(m, f)
		}
		return
	}
	flat, stride := g.FlatCoords(), g.Stride()
	if stride < 2 {
		return
	}
	for i := 0; i+1 < len(flat); i += stride {
		flat[i], flat[i+1] = f(flat[i], flat[i+1])
	}
}

// eachXY calls f with the running index and X/Y of every coordinate of g
// (descending into GeometryCollections) until f returns false. It returns
// false when stopped early.
func eachXY(g geom.T, f func(i int, x, y float64) bool) bool {
	n := 0
	var walk func(g geom.T) bool
	walk = func(g geom.T) bool {
		if isNilGeom(g) {
			return true
		}
		if gc, ok := g.(*geom.GeometryCollection); ok {
			for _, m := range gc.Geoms() {
				if !walk(m) {
					return false
				}
			}
			return true
		}
		flat, stride := g.FlatCoords(), g.Stride()
		if stride < 2 {
			return true
		}
		for i := 0; i+1 < len(flat); i += stride {
			if !f(n, flat[i], flat[i+1]) {
				return false
			}
			n++
		}
		return true
	}
	return walk(g)
}
