package importer

import (
	"testing"

	"github.com/twpayne/go-geom"

	"github.com/jiedao/jiedao/geo"
)

func TestShiftVerdict(t *testing.T) {
	for _, c := range []struct {
		fits shiftFits
		want geo.Shift
	}{
		{shiftFits{12, 0.34, 0.999, 0.6}, geo.ShiftGCJ02},  // Beixinqiao-like
		{shiftFits{17, 0.95, 0.999, 0.9}, geo.ShiftGCJ02},  // big units: 5% outside → 0.1%
		{shiftFits{4, 0.30, 0.60, 0.995}, geo.ShiftBD09},   // BD-09: undoing GCJ-02 only half helps
		{shiftFits{4, 0.999, 0.55, 0.40}, geo.NoShift},     // right as given
		{shiftFits{17, 0.827, 0.985, 0.7}, geo.ShiftGCJ02}, // Dongcheng-like: two sources, 98.5% when right
		{shiftFits{4, 0.70, 0.93, 0.6}, geo.NoShift},       // better, but no good fit
		{shiftFits{4, 0.995, 1.0, 0.9}, geo.NoShift},       // gain under a point
		{shiftFits{4, 0.975, 0.992, 0.9}, geo.NoShift},     // outside 2.5% → 0.8%: not fourfold
		{shiftFits{0, 0, 0, 0}, geo.NoShift},               // nothing measured
		{shiftFits{3, 0, 0, 0}, geo.NoShift},               // outside everything either way
	} {
		if got := c.fits.verdict(); got != c.want {
			t.Errorf("%+v: %v, want %v", c.fits, got, c.want)
		}
	}
}

// The translation standing in for undoing the shift matches the exact
// transform at the centre, and is within metres at the corners of a 2 km
// square.
func TestShiftOffsets(t *testing.T) {
	p := geom.NewPolygonFlat(geom.XY, []float64{116.40, 39.90, 116.42, 39.90, 116.42, 39.92, 116.40, 39.92, 116.40, 39.90}, []int{10})
	off := shiftOffsets(p)
	for i, corner := range [][2]float64{{116.40, 39.90}, {116.42, 39.92}} {
		gx, gy := geo.FromGCJ02(corner[0], corner[1])
		tx, ty := corner[0]+off[0].(float64), corner[1]+off[1].(float64)
		if d := geo.Distance(gx, gy, tx, ty); d > 5 {
			t.Errorf("corner %d: translation %.2f m from the exact GCJ-02 inverse, want ≤ 5 m", i, d)
		}
		bx, by := geo.FromBD09(corner[0], corner[1])
		tx, ty = corner[0]+off[2].(float64), corner[1]+off[3].(float64)
		// BD-09 has a term of period 0.12° (13 km), so it bends more.
		if d := geo.Distance(bx, by, tx, ty); d > 15 {
			t.Errorf("corner %d: translation %.2f m from the exact BD-09 inverse, want ≤ 15 m", i, d)
		}
	}
	if off := shiftOffsets(geom.NewPolygon(geom.XY)); off[0] != nil {
		t.Errorf("empty polygon: offsets %v, want none", off)
	}
}
