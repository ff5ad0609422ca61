package geo

import (
	"math"

	"github.com/tidwall/geodesic"
	"github.com/twpayne/go-geom"
)

// Area is the geodesic area in m² of a Polygon or MultiPolygon of WGS84
// lon/lat, on the WGS84 ellipsoid (Karney's algorithm via tidwall/geodesic,
// the same as PostGIS's geography ST_Area). Each polygon is its exterior
// minus its holes, every ring counted by absolute value so orientation does
// not matter; a polygon whose holes outweigh its exterior counts as 0. Other
// geometry types (and nil) have no area: 0.
func Area(g geom.T) float64 {
	if isNilGeom(g) {
		return 0
	}
	switch t := g.(type) {
	case *geom.Polygon:
		return polygonArea(t.FlatCoords(), t.Stride(), 0, t.Ends())
	case *geom.MultiPolygon:
		var sum float64
		offset := 0
		for _, ends := range t.Endss() {
			sum += polygonArea(t.FlatCoords(), t.Stride(), offset, ends)
			if len(ends) > 0 {
				offset = ends[len(ends)-1]
			}
		}
		return sum
	}
	return 0
}

// polygonArea is the area of one polygon whose rings end at ends in flat,
// starting at offset.
func polygonArea(flat []float64, stride, offset int, ends []int) float64 {
	var a float64
	for i, end := range ends {
		r := ringArea(flat[offset:end], stride)
		offset = end
		if i == 0 {
			a = r
		} else {
			a -= r
		}
	}
	return math.Max(a, 0)
}

// ringArea is the unsigned geodesic area of one ring.
func ringArea(ring []float64, stride int) float64 {
	n := len(ring) / stride
	if n < 3 {
		return 0
	}
	// The closing point repeats the first; geodesic closes the ring itself.
	if ring[0] == ring[(n-1)*stride] && ring[1] == ring[(n-1)*stride+1] {
		n--
	}
	p := geodesic.WGS84.PolygonInit(false)
	for i := range n {
		p.AddPoint(ring[i*stride+1], ring[i*stride])
	}
	var area float64
	// sign=true: a clockwise ring gives a negative area rather than "the
	// rest of the Earth"; its absolute value is what is wanted.
	p.Compute(false, true, &area, nil)
	return math.Abs(area)
}
