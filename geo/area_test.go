package geo

import (
	"math"
	"testing"

	"github.com/twpayne/go-geom"
)

// cell is the lon/lat rectangle [x0, x0+dx] × [y0, y0+dy] as a ring, counter-
// clockwise unless cw.
func cell(x0, y0, dx, dy float64, cw bool) []geom.Coord {
	r := []geom.Coord{{x0, y0}, {x0 + dx, y0}, {x0 + dx, y0 + dy}, {x0, y0 + dy}, {x0, y0}}
	if cw {
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
	}
	return r
}

// ellipsoidStripArea is the area between the equator and latitude phi over
// dLon degrees on the WGS84 ellipsoid, from the closed-form authalic
// expression (Snyder, Map Projections: A Working Manual, eq. 3-12). It bounds
// the cell by parallels, whereas Area's edges are geodesics; for a 1° cell at
// the equator the difference is ~2e-5 of the area.
func ellipsoidStripArea(phiDeg, dLonDeg float64) float64 {
	const a, f = 6378137.0, 1 / 298.257223563
	e2 := f * (2 - f)
	e := math.Sqrt(e2)
	b2 := a * a * (1 - e2)
	s := math.Sin(phiDeg * math.Pi / 180)
	q := s/(1-e2*s*s) + 1/(2*e)*math.Log((1+e*s)/(1-e*s))
	return dLonDeg * math.Pi / 180 * b2 / 2 * q
}

func TestArea(t *testing.T) {
	// tidwall/geodesic's own value for the 1° equatorial cell; GeographicLib
	// 2.1.2's Planimeter (Debian geographiclib-tools, `Planimeter -p 6`)
	// gives 12308778361.5 m² for the same four corners.
	const equatorCell = 12308778361.469
	hole := cell(0.25, 0.25, 0.5, 0.5, true)
	holeArea := Area(geom.NewPolygon(geom.XY).MustSetCoords([][]geom.Coord{hole}))

	cases := []struct {
		name   string
		g      geom.T
		want   float64
		relTol float64
	}{
		{"nil", nil, 0, 0},
		{"point", geom.NewPoint(geom.XY).MustSetCoords(geom.Coord{1, 2}), 0, 0},
		{"empty polygon", geom.NewPolygon(geom.XY), 0, 0},
		{"1° cell at the equator", poly(cell(0, 0, 1, 1, false)), equatorCell, 1e-12},
		{"same, clockwise", poly(cell(0, 0, 1, 1, true)), equatorCell, 1e-12},
		{"same, without closing point", poly([]geom.Coord{{0, 0}, {1, 0}, {1, 1}, {0, 1}}), equatorCell, 1e-12},
		{"same, XYZ", geom.NewPolygon(geom.XYZ).MustSetCoords([][]geom.Coord{{{0, 0, 5}, {1, 0, 5}, {1, 1, 5}, {0, 1, 5}, {0, 0, 5}}}), equatorCell, 1e-12},
		// Independent cross-checks of the same cell.
		{"1° cell vs ellipsoid strip formula", poly(cell(0, 0, 1, 1, false)), ellipsoidStripArea(1, 1), 1e-4},
		{"1° cell vs sphere R=6371008.8 (loose)", poly(cell(0, 0, 1, 1, false)),
			6371008.8 * 6371008.8 * (math.Pi / 180) * math.Sin(math.Pi/180), 0.01},
		// Small cell at Beijing's latitude vs the flat approximation
		// 0.01° × 111.32 km/° squared × cos(mid-latitude).
		{"0.01° square at lat 39.9", poly(cell(116.39, 39.9, 0.01, 0.01, false)),
			0.01 * 111320 * 0.01 * 111320 * math.Cos(39.905*math.Pi/180), 0.005},
		// Planimeter -p 6 on the same corners: 949464.6 m².
		{"0.01° square at lat 39.9 vs GeographicLib", poly(cell(116.39, 39.9, 0.01, 0.01, false)), 949464.6, 1e-7},
		{"0.01° square at lat 39.9 vs strip formula", poly(cell(116.39, 39.9, 0.01, 0.01, false)),
			ellipsoidStripArea(39.91, 0.01) - ellipsoidStripArea(39.9, 0.01), 1e-5},
		{"hole subtracted", poly(cell(0, 0, 1, 1, false), hole), equatorCell - holeArea, 1e-12},
		{"hole orientation irrelevant", poly(cell(0, 0, 1, 1, true), cell(0.25, 0.25, 0.5, 0.5, false)), equatorCell - holeArea, 1e-12},
		{"multipolygon sums", multi(
			[][]geom.Coord{cell(0, 0, 1, 1, false)},
			[][]geom.Coord{cell(0, -1, 1, 1, false), cell(0.25, -0.75, 0.5, 0.5, true)},
		), 2*equatorCell - holeArea, 1e-9},
		{"hole larger than exterior counts 0", poly(cell(0.25, 0.25, 0.5, 0.5, false), cell(0, 0, 1, 1, true)), 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Area(tc.g)
			if tc.want == 0 {
				if got != 0 {
					t.Errorf("Area = %v, want 0", got)
				}
				return
			}
			if rel := math.Abs(got-tc.want) / tc.want; rel > tc.relTol {
				t.Errorf("Area = %.3f, want %.3f (relative error %.2g > %.2g)", got, tc.want, rel, tc.relTol)
			}
		})
	}
}
