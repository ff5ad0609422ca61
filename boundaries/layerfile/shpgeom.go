package layerfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/twpayne/go-geom"

	"github.com/jiedao/jiedao/geo"
)

// Shape types of the ESRI Shapefile Technical Description (1998).
const (
	shpNull        = 0
	shpPoint       = 1
	shpPolyLine    = 3
	shpPolygon     = 5
	shpMultiPoint  = 8
	shpPointZ      = 11
	shpPolyLineZ   = 13
	shpPolygonZ    = 15
	shpMultiPointZ = 18
	shpPointM      = 21
	shpPolyLineM   = 23
	shpPolygonM    = 25
	shpMultiPointM = 28
	shpMultiPatch  = 31
)

// shpNoData: M values below this mean "no data" in a Shapefile.
const shpNoData = -1e38

// parseShape decodes the content of one .shp record (after the 8-byte record
// header). A null shape, or a shape without points, gives a nil geometry.
func parseShape(b []byte) (geom.T, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("shape record too short (%d bytes)", len(b))
	}
	typ := binary.LittleEndian.Uint32(b)
	if typ == shpNull {
		return nil, nil
	}
	hasZ, hasM, err := shapeDims(typ)
	if err != nil {
		return nil, err
	}

	if typ == shpPoint || typ == shpPointZ || typ == shpPointM {
		return parsePoint(b, hasZ, hasM)
	}

	// MultiPoint, PolyLine and Polygon: box, [parts], points, [Z], [M].
	isMultiPoint := typ == shpMultiPoint || typ == shpMultiPointZ || typ == shpMultiPointM
	off, numParts, numPoints, err := shapeCounts(b, isMultiPoint, hasZ)
	if err != nil {
		return nil, err
	}
	if numPoints == 0 {
		return nil, nil
	}
	if !isMultiPoint && numParts == 0 {
		return nil, fmt.Errorf("%d points but no parts", numPoints)
	}

	parts, err := shapeParts(b, off, numParts, numPoints)
	if err != nil {
		return nil, err
	}
	off += 4 * numParts
	xyOff := off
	off += 16 * numPoints

	zOff, mOff := -1, -1
	if hasZ {
		zOff = off + 16 // after the Z range
		off += 16 + 8*numPoints
	}
	if hasM {
		mOff = shapeMOffset(b, off, numPoints)
	}

	layout := shapeLayout(zOff >= 0, mOff >= 0)
	stride := layout.Stride()
	flat := shapeCoords(b, stride, numPoints, xyOff, zOff, mOff)

	// Before ring assembly, whose orientation and containment tests NaN
	// would silently defeat.
	if err := checkFiniteFlat(flat, stride); err != nil {
		return nil, err
	}

	if isMultiPoint {
		return geom.NewMultiPointFlat(layout, flat), nil
	}
	ends := partEnds(parts, numPoints, stride)
	switch typ {
	case shpPolyLine, shpPolyLineZ, shpPolyLineM:
		if len(ends) == 1 {
			return geom.NewLineStringFlat(layout, flat), nil
		}
		return geom.NewMultiLineStringFlat(layout, flat, ends), nil
	default:
		return buildPolygons(layout, flat, ends)
	}
}

// shapeDims says whether a non-null shape type has Z and M values, and refuses unsupported types.
func shapeDims(typ uint32) (hasZ, hasM bool, err error) {
	switch typ {
	case shpPoint, shpPolyLine, shpPolygon, shpMultiPoint:
	case shpPointZ, shpPolyLineZ, shpPolygonZ, shpMultiPointZ:
		hasZ, hasM = true, true
	case shpPointM, shpPolyLineM, shpPolygonM, shpMultiPointM:
		hasM = true
	case shpMultiPatch:
		return false, false, errors.New("MultiPatch shapes are not supported")
	default:
		return false, false, fmt.Errorf("unknown shape type %d", typ)
	}
	return hasZ, hasM, nil
}

// shapeCounts reads the part and point counts, checks the record holds them, and says where next.
func shapeCounts(b []byte, isMultiPoint, hasZ bool) (off, numParts, numPoints int, err error) {
	off = 4 + 32
	if !isMultiPoint {
		if len(b) < off+8 {
			return 0, 0, 0, fmt.Errorf("shape record too short (%d bytes)", len(b))
		}
		numParts = int(binary.LittleEndian.Uint32(b[off:]))
		off += 4
	} else if len(b) < off+4 {
		return 0, 0, 0, fmt.Errorf("shape record too short (%d bytes)", len(b))
	}
	numPoints = int(binary.LittleEndian.Uint32(b[off:]))
	off += 4
	// int64 arithmetic: the counts come from the file and may be garbage.
	need := int64(off) + 4*int64(numParts) + 16*int64(numPoints)
	if hasZ {
		need += 16 + 8*int64(numPoints)
	}
	if need > int64(len(b)) {
		return 0, 0, 0, fmt.Errorf("shape record of %d bytes too short for %d parts and %d points", len(b), numParts, numPoints)
	}
	return off, numParts, numPoints, nil
}

// shapeParts reads each part's first point index, checking they start at 0, in order, in range.
func shapeParts(b []byte, off, numParts, numPoints int) ([]int, error) {
	parts := make([]int, numParts)
	for i := range parts {
		parts[i] = int(binary.LittleEndian.Uint32(b[off+4*i:]))
		switch {
		case i == 0 && parts[i] != 0:
			return nil, fmt.Errorf("first part starts at point %d, not 0", parts[i])
		case i > 0 && (parts[i] < parts[i-1] || parts[i] > numPoints):
			return nil, fmt.Errorf("part %d starts at point %d (previous %d, %d points)", i, parts[i], parts[i-1], numPoints)
		}
	}
	return parts, nil
}

// shapeMOffset is where M values start (the M range is at off), or -1 if none is worth keeping.
func shapeMOffset(b []byte, off, numPoints int) int {
	// M is optional even in M and Z shapes, and all-"no data" M is dropped.
	if int64(off)+16+8*int64(numPoints) <= int64(len(b)) {
		for i := range numPoints {
			if readF64(b, off+16+8*i) > shpNoData {
				return off + 16
			}
		}
	}
	return -1
}

// shapeLayout is the coordinate layout for the dimensions a record keeps.
func shapeLayout(hasZ, hasM bool) geom.Layout {
	layout := geom.XY
	switch {
	case hasZ && hasM:
		layout = geom.XYZM
	case hasZ:
		layout = geom.XYZ
	case hasM:
		layout = geom.XYM
	}
	return layout
}

// shapeCoords interleaves the record's XY, Z and M arrays (offset < 0: absent) into flat coords.
func shapeCoords(b []byte, stride, numPoints, xyOff, zOff, mOff int) []float64 {
	flat := make([]float64, stride*numPoints)
	for i := range numPoints {
		flat[i*stride] = readF64(b, xyOff+16*i)
		flat[i*stride+1] = readF64(b, xyOff+16*i+8)
		k := 2
		if zOff >= 0 {
			flat[i*stride+k] = readF64(b, zOff+8*i)
			k++
		}
		if mOff >= 0 {
			flat[i*stride+k] = readF64(b, mOff+8*i)
		}
	}
	return flat
}

// checkFiniteFlat rejects a NaN or infinite X/Y, naming the point (checkFinite takes a geometry).
func checkFiniteFlat(flat []float64, stride int) error {
	for i := 0; i < len(flat); i += stride {
		if x, y := flat[i], flat[i+1]; math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			return fmt.Errorf("%w: point %d is (%v, %v)", errNotFinite, i/stride, x, y)
		}
	}
	return nil
}

// partEnds turns part start indices into the flat-coordinate end offsets that go-geom wants.
func partEnds(parts []int, numPoints, stride int) []int {
	numParts := len(parts)
	// Part boundaries as flat-coordinate offsets, without empty parts.
	ends := make([]int, 0, numParts)
	for i := range parts {
		end := numPoints
		if i+1 < numParts {
			end = parts[i+1]
		}
		if end > parts[i] {
			ends = append(ends, end*stride)
		}
	}
	return ends
}

func parsePoint(b []byte, hasZ, hasM bool) (geom.T, error) {
	need := 4 + 16
	if hasZ {
		need += 8
	}
	if len(b) < need {
		return nil, fmt.Errorf("point record too short (%d bytes)", len(b))
	}
	coords := []float64{readF64(b, 4), readF64(b, 12)}
	layout := geom.XY
	if hasZ {
		coords = append(coords, readF64(b, 20))
		layout = geom.XYZ
	}
	if hasM && len(b) >= need+8 {
		if m := readF64(b, need); m > shpNoData {
			coords = append(coords, m)
			if hasZ {
				layout = geom.XYZM
			} else {
				layout = geom.XYM
			}
		}
	}
	if err := checkFiniteFlat(coords, layout.Stride()); err != nil {
		return nil, err
	}
	return geom.NewPointFlat(layout, coords), nil
}

func readF64(b []byte, off int) float64 {
	return math.Float64frombits(binary.LittleEndian.Uint64(b[off:]))
}

// shpRing is one part of a Polygon shape.
type shpRing struct {
	coords                 []float64
	area                   float64 // signed, twice the area: < 0 clockwise
	minX, minY, maxX, maxY float64
	holes                  []int
	outer                  bool
}

// buildPolygons turns the rings of a Polygon shape into a Polygon or a
// MultiPolygon. The Shapefile specification only says that outer rings are
// clockwise and holes counter-clockwise; it does not say which outer a hole
// belongs to, and writers do not all put holes right after their outer ring.
// So, like GDAL: clockwise rings are outers, each counter-clockwise ring goes
// to the smallest outer that contains it, and a counter-clockwise ring inside
// no outer becomes a polygon of its own (which also reads files written with
// the opposite orientation as separate polygons rather than as holes of
// nothing). Unclosed rings are closed. Rings of zero area (which includes
// rings of fewer than 4 points) are dropped: they enclose nothing and their
// orientation is undefined; a polygon left with no ring is an error.
func buildPolygons(layout geom.Layout, flat []float64, ends []int) (geom.T, error) {
	stride := layout.Stride()
	rings := make([]*shpRing, 0, len(ends))
	start := 0
	for _, end := range ends {
		c := flat[start:end]
		start = end
		n := len(c) / stride
		if c[0] != c[(n-1)*stride] || c[1] != c[(n-1)*stride+1] {
			c = append(slices.Clip(c), c[:stride]...)
		}
		r := &shpRing{coords: c, minX: math.Inf(1), minY: math.Inf(1), maxX: math.Inf(-1), maxY: math.Inf(-1)}
		for k := 0; k < len(c); k += stride {
			x, y := c[k], c[k+1]
			r.minX, r.maxX = min(r.minX, x), max(r.maxX, x)
			r.minY, r.maxY = min(r.minY, y), max(r.maxY, y)
			if k+stride < len(c) {
				r.area += x*c[k+stride+1] - c[k+stride]*y
			}
		}
		if r.area == 0 {
			continue
		}
		r.outer = r.area < 0
		rings = append(rings, r)
	}
	if len(rings) == 0 {
		return nil, errors.New("polygon has no ring with a non-zero area")
	}

	var outers []*shpRing
	for _, r := range rings {
		if r.outer {
			outers = append(outers, r)
		}
	}
	for i, h := range rings {
		if h.outer {
			continue
		}
		if o := containingOuter(h, outers, stride); o != nil {
			o.holes = append(o.holes, i)
		} else {
			h.outer = true // an orphan hole: a polygon of its own
		}
	}

	out := make([]float64, 0, len(flat)+len(rings)*stride)
	var endss [][]int
	for _, r := range rings {
		if !r.outer {
			continue
		}
		out = append(out, r.coords...)
		polyEnds := []int{len(out)}
		for _, hi := range r.holes {
			out = append(out, rings[hi].coords...)
			polyEnds = append(polyEnds, len(out))
		}
		endss = append(endss, polyEnds)
	}
	if len(endss) == 1 {
		return geom.NewPolygonFlat(layout, out, endss[0]), nil
	}
	return geom.NewMultiPolygonFlat(layout, out, endss), nil
}

// containingOuter returns the smallest outer ring containing hole h, or nil.
func containingOuter(h *shpRing, outers []*shpRing, stride int) *shpRing {
	var best *shpRing
	for _, o := range outers {
		if h.minX < o.minX || h.maxX > o.maxX || h.minY < o.minY || h.maxY > o.maxY {
			continue
		}
		if best != nil && -o.area >= -best.area {
			continue
		}
		if len(outers) > 1 && !ringInside(h, o, stride) {
			continue
		}
		best = o
	}
	return best
}

// ringInside tests the first vertex of h that is not on o's boundary (holes
// often touch their outer ring at a vertex).
func ringInside(h, o *shpRing, stride int) bool {
	for k := 0; k < len(h.coords); k += stride {
		// Exactly on the boundary (tol 0) is neither in nor out.
		if in, on := geo.RingContains(o.coords, stride, stride, h.coords[k], h.coords[k+1], 0); !on {
			return in
		}
	}
	return true // entirely on the boundary: degenerate, keep it as a hole
}
