package geo

// RingContains is the point-in-polygon test: whether the point (x, y) is
// inside the rings whose segments c holds, by the even-odd rule (ray
// casting), and whether it is on one of the segments. A point on a segment
// is covered: onEdge implies inside (PostGIS ST_Covers). It allocates
// nothing.
//
// c is flat coordinates, x and y first in each vertex (any z, m … after
// them are ignored). Segment i runs from (c[i·step], c[i·step+1]) to
// (c[i·step+stride], c[i·step+stride+1]), for every i with both ends in c:
//   - a closed ring (last vertex = first) of vertices stride floats apart
//     (2 for x, y; 3 with z; 4 with z and m) is step = stride;
//   - separate segments as ax, ay, bx, by is stride 2, step 4: the
//     segments of several rings (holes, the parts of a multipolygon:
//     parity over all of them is the even-odd rule), or only those whose
//     y range reaches within tol of y (a strip of a spatial index), since
//     no other segment can cross the ray or be within tol.
//
// The ray runs from the point towards +x; a segment crosses it when one end
// is above y and the other is not, and the crossing is right of x
// (computed from the segment's first end).
//
// tol says what is on a segment:
//   - tol > 0: within tol of it (a distance in c's units);
//   - tol = 0: exactly on it: collinear with its ends (the cross product is
//     zero) and within its bounding box;
//   - tol < 0: nothing (onEdge is false; a point on a segment is inside or
//     not as the ray falls).
//
// stride must be at least 2 and step at least 1.
func RingContains(c []float64, stride, step int, x, y, tol float64) (inside, onEdge bool) {
	if stride < 2 || step < 1 {
		panic("geo: RingContains needs stride ≥ 2 and step ≥ 1")
	}
	for i := 0; i+stride+1 < len(c); i += step {
		ax, ay, bx, by := c[i], c[i+1], c[i+stride], c[i+stride+1]
		if (ay > y) != (by > y) && x < ax+(y-ay)*(bx-ax)/(by-ay) {
			inside = !inside
		}
		// Near the segment's box? Then measure the distance to it.
		if tol < 0 || y < min(ay, by)-tol || y > max(ay, by)+tol ||
			x < min(ax, bx)-tol || x > max(ax, bx)+tol {
			continue
		}
		if onSegment(ax, ay, bx, by, x, y, tol) {
			return true, true
		}
	}
	return inside, false
}

// onSegment reports whether (x, y), in the segment's box widened by tol ≥
// 0, is on the segment from (ax, ay) to (bx, by): exactly (tol = 0), or
// within tol of it.
func onSegment(ax, ay, bx, by, x, y, tol float64) bool {
	if tol == 0 {
		return (x-ax)*(by-ay) == (y-ay)*(bx-ax)
	}
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	var d2 float64
	if l2 == 0 {
		d2 = (x-ax)*(x-ax) + (y-ay)*(y-ay)
	} else {
		t := max(0, min(1, ((x-ax)*dx+(y-ay)*dy)/l2))
		qx, qy := ax+t*dx-x, ay+t*dy-y
		d2 = qx*qx + qy*qy
	}
	return d2 <= tol*tol
}
