package geo

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/twpayne/go-geom"
)

// Counter-clockwise (RFC 7946 exterior) and clockwise (hole) rings.
var (
	ccwSquare = []geom.Coord{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}}
	cwSquare  = []geom.Coord{{0, 0}, {0, 10}, {10, 10}, {10, 0}, {0, 0}}
	cwHole    = []geom.Coord{{2, 2}, {2, 4}, {4, 4}, {4, 2}, {2, 2}}
	ccwHole   = []geom.Coord{{2, 2}, {4, 2}, {4, 4}, {2, 4}, {2, 2}}
)

func poly(rings ...[]geom.Coord) *geom.Polygon {
	return geom.NewPolygon(geom.XY).MustSetCoords(rings)
}

func multi(polys ...[][]geom.Coord) *geom.MultiPolygon {
	return geom.NewMultiPolygon(geom.XY).MustSetCoords(polys)
}

func TestValidate(t *testing.T) {
	var nilPoly *geom.Polygon
	reject := func(reasons ...string) []Problem {
		var ps []Problem
		for _, r := range reasons {
			ps = append(ps, Problem{Reject: true, Reason: r})
		}
		return ps
	}
	repaired := []Problem{{Reject: false, Reason: "ring orientation repaired"}}

	cases := []struct {
		name string
		g    geom.T
		want []Problem
	}{
		{"nil", nil, reject("empty geometry")},
		{"typed nil", nilPoly, reject("empty geometry")},
		{"empty polygon", geom.NewPolygon(geom.XY), reject("empty geometry")},
		{"empty multipolygon", geom.NewMultiPolygon(geom.XY), reject("empty geometry")},
		{"empty collection", geom.NewGeometryCollection(), reject("empty geometry")},
		{"point", geom.NewPoint(geom.XY).MustSetCoords(geom.Coord{1, 2}), reject("geometry type Point is not a polygon")},
		{"linestring", geom.NewLineString(geom.XY).MustSetCoords(ccwSquare), reject("geometry type LineString is not a polygon")},
		{"multipoint", geom.NewMultiPoint(geom.XY).MustSetCoords([]geom.Coord{{1, 2}}), reject("geometry type MultiPoint is not a polygon")},
		{"collection of a polygon", geom.NewGeometryCollection().MustPush(poly(ccwSquare)), reject("geometry type GeometryCollection is not a polygon")},
		{"valid polygon", poly(ccwSquare), nil},
		{"valid polygon with hole", poly(ccwSquare, cwHole), nil},
		{"valid multipolygon", multi([][]geom.Coord{ccwSquare}, [][]geom.Coord{ccwSquare, cwHole}), nil},
		{"NaN", poly([]geom.Coord{{0, 0}, {10, 0}, {math.NaN(), 10}, {0, 0}}), reject("non-finite coordinate")},
		{"+Inf", poly([]geom.Coord{{0, 0}, {10, 0}, {10, math.Inf(1)}, {0, 0}}), reject("non-finite coordinate")},
		{"-Inf once only", poly([]geom.Coord{{0, 0}, {math.Inf(-1), 0}, {10, math.Inf(-1)}, {0, 0}}), reject("non-finite coordinate")},
		{"NaN Z", geom.NewPolygon(geom.XYZ).MustSetCoords([][]geom.Coord{{{0, 0, 1}, {1, 0, math.NaN()}, {1, 1, 1}, {0, 0, 1}}}), reject("non-finite coordinate")},
		{"triangle without closing point", poly([]geom.Coord{{0, 0}, {1, 0}, {0, 1}}), reject("ring 1 of polygon 1 has 3 points, at least 4 needed")},
		{"two-point ring", poly([]geom.Coord{{0, 0}, {0, 0}}), reject("ring 1 of polygon 1 has 2 points, at least 4 needed")},
		{"not closed", poly([]geom.Coord{{0, 0}, {10, 0}, {10, 10}, {0, 10}}), reject("ring 1 of polygon 1 is not closed")},
		{"hole not closed in second polygon", multi(
			[][]geom.Coord{ccwSquare},
			[][]geom.Coord{ccwSquare, {{2, 2}, {2, 4}, {4, 4}, {4, 2}}},
		), reject("ring 2 of polygon 2 is not closed")},
		{"several rejects", multi(
			[][]geom.Coord{{{0, 0}, {1, 0}, {0, 0}}},
			[][]geom.Coord{ccwSquare, {{2, 2}, {2, 4}, {4, 4}, {4, 2}}},
		), reject("ring 1 of polygon 1 has 3 points, at least 4 needed", "ring 2 of polygon 2 is not closed")},
		{"empty member polygon", multi([][]geom.Coord{}, [][]geom.Coord{ccwSquare}), reject("polygon 1 is empty")},
		{"Z differs but XY closed", geom.NewPolygon(geom.XYZ).MustSetCoords([][]geom.Coord{{{0, 0, 1}, {1, 0, 1}, {1, 1, 1}, {0, 0, 2}}}), nil},
		{"malformed ends", geom.NewPolygonFlat(geom.XY, []float64{0, 0, 1, 0, 1, 1, 0, 0}, []int{100}), reject("ring 1 of polygon 1 has malformed ends")},
		{"clockwise exterior", poly(cwSquare), repaired},
		{"counter-clockwise hole", poly(ccwSquare, ccwHole), repaired},
		{"both wrong, reported once", multi([][]geom.Coord{cwSquare, ccwHole}, [][]geom.Coord{cwSquare}), repaired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Validate(tc.g)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Validate = %#v, want %#v", got, tc.want)
			}
		})
	}
}

// After a repair every exterior is counter-clockwise and every hole
// clockwise, and validating again finds nothing.
func TestValidateRepairsOrientation(t *testing.T) {
	cases := []struct {
		name string
		g    geom.T
	}{
		{"clockwise exterior", poly(cwSquare)},
		{"counter-clockwise hole", poly(ccwSquare, ccwHole)},
		{"multipolygon", multi([][]geom.Coord{cwSquare, ccwHole}, [][]geom.Coord{cwSquare, cwHole})},
		{"XYZM keeps ordinates together", geom.NewPolygon(geom.XYZM).MustSetCoords([][]geom.Coord{
			{{0, 0, 1, 10}, {0, 10, 2, 20}, {10, 10, 3, 30}, {10, 0, 4, 40}, {0, 0, 1, 10}},
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := append([]float64(nil), tc.g.FlatCoords()...)
			if ps := Validate(tc.g); len(ps) != 1 || ps[0].Reject {
				t.Fatalf("first Validate = %#v, want one repair", ps)
			}
			if ps := Validate(tc.g); ps != nil {
				t.Errorf("second Validate = %#v, want nothing", ps)
			}
			var endss [][]int
			switch g := tc.g.(type) {
			case *geom.Polygon:
				endss = [][]int{g.Ends()}
			case *geom.MultiPolygon:
				endss = g.Endss()
			}
			flat, stride := tc.g.FlatCoords(), tc.g.Stride()
			off := 0
			for _, ends := range endss {
				for ri, end := range ends {
					a := signedArea(flat[off:end], stride)
					if (ri == 0) != (a > 0) {
						t.Errorf("ring %d at %d has signed area %v", ri, off, a)
					}
					off = end
				}
			}
			// The same points remain, as whole tuples.
			if !sameTuples(before, flat, stride) {
				t.Errorf("coordinates changed beyond reordering: %v -> %v", before, flat)
			}
		})
	}
}

// sameTuples reports whether a and b hold the same multiset of coordinate
// tuples of the given stride.
func sameTuples(a, b []float64, stride int) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for i := 0; i < len(a); i += stride {
		count[fmt.Sprint(a[i:i+stride])]++
		count[fmt.Sprint(b[i:i+stride])]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestCheckLonLatRange(t *testing.T) {
	cases := []struct {
		name    string
		g       geom.T
		wantErr string
	}{
		{"nil", nil, ""},
		{"inside", poly([]geom.Coord{{116.3, 39.9}, {116.4, 39.9}, {116.4, 40}, {116.3, 39.9}}), ""},
		{"edges", poly([]geom.Coord{{-180, -90}, {180, -90}, {180, 90}, {-180, -90}}), ""},
		{"lon too big", poly([]geom.Coord{{116, 39}, {181, 39}, {116, 40}, {116, 39}}), "coordinate 2 (181, 39)"},
		{"projected metres", poly([]geom.Coord{{500000, 4400000}, {500100, 4400000}, {500100, 4400100}, {500000, 4400000}}), "coordinate 1 (500000, 4.4e+06)"},
		{"lat too small", multi([][]geom.Coord{ccwSquare}, [][]geom.Coord{{{0, 0}, {1, -91}, {1, 1}, {0, 0}}}), "coordinate 7 (1, -91)"},
		{"NaN", poly([]geom.Coord{{0, 0}, {math.NaN(), 0}, {1, 1}, {0, 0}}), "coordinate 2 (NaN, 0)"},
		{"Z ignored", geom.NewPoint(geom.XYZ).MustSetCoords(geom.Coord{1, 2, 9999}), ""},
		{"collection", geom.NewGeometryCollection().MustPush(poly(ccwSquare), geom.NewPoint(geom.XY).MustSetCoords(geom.Coord{0, 100})), "coordinate 6 (0, 100)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckLonLatRange(tc.g)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("CheckLonLatRange: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("CheckLonLatRange = nil, want error with %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("CheckLonLatRange = %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestTransform(t *testing.T) {
	shift := func(lon, lat float64) (float64, float64) { return lon + 1, lat * 2 }
	cases := []struct {
		name string
		g    geom.T
		want []float64 // flat coords after, nil for geometries without them
	}{
		{"nil", nil, nil},
		{"polygon XY", poly([]geom.Coord{{0, 0}, {1, 0}, {1, 1}, {0, 0}}), []float64{1, 0, 2, 0, 2, 2, 1, 0}},
		{"polygon XYZ keeps Z", geom.NewPolygon(geom.XYZ).MustSetCoords([][]geom.Coord{{{0, 1, 5}, {1, 1, 6}, {1, 2, 7}, {0, 1, 5}}}),
			[]float64{1, 2, 5, 2, 2, 6, 2, 4, 7, 1, 2, 5}},
		{"multipolygon XYM keeps M", geom.NewMultiPolygon(geom.XYM).MustSetCoords([][][]geom.Coord{{{{0, 1, 5}, {1, 1, 6}, {1, 2, 7}, {0, 1, 5}}}}),
			[]float64{1, 2, 5, 2, 2, 6, 2, 4, 7, 1, 2, 5}},
		{"point", geom.NewPoint(geom.XY).MustSetCoords(geom.Coord{3, 4}), []float64{4, 8}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			Transform(tc.g, shift)
			if tc.g == nil {
				return
			}
			if got := tc.g.FlatCoords(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("after Transform: %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("collection", func(t *testing.T) {
		p := geom.NewPoint(geom.XY).MustSetCoords(geom.Coord{3, 4})
		sq := poly([]geom.Coord{{0, 0}, {1, 0}, {1, 1}, {0, 0}})
		Transform(geom.NewGeometryCollection().MustPush(p, sq), shift)
		if got := p.FlatCoords(); !reflect.DeepEqual(got, []float64{4, 8}) {
			t.Errorf("point member: %v", got)
		}
		if got := sq.FlatCoords(); !reflect.DeepEqual(got, []float64{1, 0, 2, 0, 2, 2, 1, 0}) {
			t.Errorf("polygon member: %v", got)
		}
	})

	t.Run("unshift GCJ-02 polygon", func(t *testing.T) {
		// The use in the importer: undo GCJ-02 over a whole polygon.
		wgs := []geom.Coord{{116.39, 39.90}, {116.40, 39.90}, {116.40, 39.91}, {116.39, 39.90}}
		shifted := make([]geom.Coord, len(wgs))
		for i, c := range wgs {
			x, y := ToGCJ02(c[0], c[1])
			shifted[i] = geom.Coord{x, y}
		}
		g := poly(shifted)
		c, _ := ParseCRS("gcj02")
		Transform(g, c.Unshift)
		for i, got := range g.Coords()[0] {
			if d := Distance(got[0], got[1], wgs[i][0], wgs[i][1]); d > 0.01 {
				t.Errorf("point %d: %v is %.4f m from %v", i, got, d, wgs[i])
			}
		}
	})
}
