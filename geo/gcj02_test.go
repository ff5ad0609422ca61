package geo

import (
	"math"
	"testing"
)

// Reference values computed with the npm package gcoord 1.0.7
// (gcoord.transform(p, gcoord.WGS84, gcoord.GCJ02 / gcoord.BD09) and
// gcoord.transform(p, gcoord.GCJ02, gcoord.BD09)); coordtransform 2.1.2's
// wgs84togcj02 gave bit-identical GCJ-02 values. Printed with
// toPrecision(17).
var gcoordRefs = []struct {
	name           string
	lon, lat       float64 // WGS84 input
	gcjLon, gcjLat float64 // WGS84 -> GCJ-02
	bdLon, bdLat   float64 // WGS84 -> BD-09
	g2bLon, g2bLat float64 // input read as GCJ-02 -> BD-09
}{
	{"Beijing Tiananmen", 116.397128, 39.916527,
		116.40337249402477, 39.917930749245947,
		116.40973933698186, 39.924269294015090,
		116.40349519827029, 39.922867311092325},
	{"Shanghai People's Square", 121.473701, 31.230416,
		121.47822405739267, 31.228473742246980,
		121.48478247238995, 31.234326581388320,
		121.48023840790201, 31.236350800982365},
	{"Guangzhou", 113.264385, 23.129112,
		113.26971458288735, 23.126435336538538,
		113.27613576798366, 23.132723116471208,
		113.27081796617938, 23.135340412528762},
	{"Chengdu", 104.065735, 30.659462,
		104.06824246392040, 30.657041178599883,
		104.07473697258524, 30.663070740577471,
		104.07221517048558, 30.665531299445039},
	{"Urumqi", 87.617733, 43.792818,
		87.620582260418985, 43.794042573150413,
		87.627014577754650, 43.800164259592279,
		87.624147729219132, 43.798972175055994},
	{"Harbin", 126.642464, 45.756967,
		126.64843401023796, 45.758918130663396,
		126.65506367010121, 45.764611821628591,
		126.64906493177232, 45.762742632287257},
}

const refTol = 1e-6 // degrees

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestToGCJ02Reference(t *testing.T) {
	for _, tc := range gcoordRefs {
		t.Run(tc.name, func(t *testing.T) {
			lon, lat := ToGCJ02(tc.lon, tc.lat)
			if !near(lon, tc.gcjLon, refTol) || !near(lat, tc.gcjLat, refTol) {
				t.Errorf("ToGCJ02 = (%.12f, %.12f), want (%.12f, %.12f)", lon, lat, tc.gcjLon, tc.gcjLat)
			}
			lon, lat = ToBD09(tc.lon, tc.lat)
			if !near(lon, tc.bdLon, refTol) || !near(lat, tc.bdLat, refTol) {
				t.Errorf("ToBD09 = (%.12f, %.12f), want (%.12f, %.12f)", lon, lat, tc.bdLon, tc.bdLat)
			}
			lon, lat = GCJ02ToBD09(tc.lon, tc.lat)
			if !near(lon, tc.g2bLon, refTol) || !near(lat, tc.g2bLat, refTol) {
				t.Errorf("GCJ02ToBD09 = (%.12f, %.12f), want (%.12f, %.12f)", lon, lat, tc.g2bLon, tc.g2bLat)
			}
		})
	}
}

// The inverses must land back on the WGS84 input of the reference pairs.
func TestFromGCJ02Reference(t *testing.T) {
	for _, tc := range gcoordRefs {
		t.Run(tc.name, func(t *testing.T) {
			lon, lat := FromGCJ02(tc.gcjLon, tc.gcjLat)
			if d := Distance(lon, lat, tc.lon, tc.lat); d > 0.01 {
				t.Errorf("FromGCJ02 = (%.12f, %.12f), %.4f m from (%v, %v)", lon, lat, d, tc.lon, tc.lat)
			}
			lon, lat = FromBD09(tc.bdLon, tc.bdLat)
			if d := Distance(lon, lat, tc.lon, tc.lat); d > 0.01 {
				t.Errorf("FromBD09 = (%.12f, %.12f), %.4f m from (%v, %v)", lon, lat, d, tc.lon, tc.lat)
			}
			lon, lat = BD09ToGCJ02(tc.g2bLon, tc.g2bLat)
			if !near(lon, tc.lon, 1e-9) || !near(lat, tc.lat, 1e-9) {
				t.Errorf("BD09ToGCJ02 = (%.12f, %.12f), want (%v, %v)", lon, lat, tc.lon, tc.lat)
			}
		})
	}
}

// Sanity check of the well-known size of the offset in Beijing: roughly
// +0.0062° lon, +0.0014° lat, i.e. 500–600 m.
func TestGCJ02OffsetMagnitudeBeijing(t *testing.T) {
	lon, lat := ToGCJ02(116.397128, 39.916527)
	dLon, dLat := lon-116.397128, lat-39.916527
	if !near(dLon, 0.0062, 0.0003) || !near(dLat, 0.0014, 0.0003) {
		t.Errorf("offset = (%.5f, %.5f)°, want about (0.0062, 0.0014)", dLon, dLat)
	}
	if d := Distance(116.397128, 39.916527, lon, lat); d < 500 || d > 600 {
		t.Errorf("offset = %.1f m, want 500–600 m", d)
	}
}

// Round trips over a grid covering China (the bounding box, kept a little
// inside its edges where the inverse could step across the box boundary).
func TestRoundTripGridChina(t *testing.T) {
	cases := []struct {
		name string
		to   func(lon, lat float64) (float64, float64)
		from func(lon, lat float64) (float64, float64)
	}{
		{"GCJ02", ToGCJ02, FromGCJ02},
		{"BD09", ToBD09, FromBD09},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var worstM, worstDeg float64
			n := 0
			for lon := 73.0; lon <= 135.0; lon += 0.5 {
				for lat := 1.5; lat <= 55.0; lat += 0.5 {
					// WGS84 -> shifted -> WGS84, error in metres.
					sLon, sLat := tc.to(lon, lat)
					wLon, wLat := tc.from(sLon, sLat)
					if d := Distance(lon, lat, wLon, wLat); d > worstM {
						worstM = d
					}
					// shifted -> WGS84 -> shifted, error in degrees.
					wLon, wLat = tc.from(lon, lat)
					sLon, sLat = tc.to(wLon, wLat)
					worstDeg = max(worstDeg, math.Abs(sLon-lon), math.Abs(sLat-lat))
					n++
				}
			}
			if worstM >= 0.01 {
				t.Errorf("worst WGS84 round trip error %.6f m over %d points, want < 0.01 m", worstM, n)
			}
			if worstDeg > 1e-7 {
				t.Errorf("worst shifted round trip error %.3g° over %d points, want <= 1e-7°", worstDeg, n)
			}
		})
	}
}

func TestIdentityOutsideChina(t *testing.T) {
	points := []struct {
		name     string
		lon, lat float64
	}{
		{"Paris", 2.3522, 48.8566},
		{"New York", -74.006, 40.7128},
		{"Sydney", 151.2093, -33.8688},
		{"just west of box", 72.003, 35},
		{"just north of box", 120, 55.8272},
		{"just south of box", 110, 0.8292},
		{"just east of box", 137.8348, 40},
	}
	funcs := []struct {
		name string
		f    func(lon, lat float64) (float64, float64)
	}{
		{"ToGCJ02", ToGCJ02}, {"FromGCJ02", FromGCJ02},
		{"ToBD09", ToBD09}, {"FromBD09", FromBD09},
	}
	for _, p := range points {
		for _, fn := range funcs {
			lon, lat := fn.f(p.lon, p.lat)
			if lon != p.lon || lat != p.lat {
				t.Errorf("%s(%s) = (%v, %v), want identity", fn.name, p.name, lon, lat)
			}
		}
	}
}

func TestDistance(t *testing.T) {
	cases := []struct {
		name                   string
		lon1, lat1, lon2, lat2 float64
		want, tol              float64
	}{
		// Example from the tidwall/geodesic README.
		{"README example", -112.4223, 33.4911, -113.1123, 32.1189, 165330.214571, 1e-6},
		// One degree of longitude on the equator is a/360 of the circumference.
		{"1° on equator", 0, 0, 1, 0, 2 * math.Pi * 6378137 / 360, 1e-6},
		{"same point", 116.4, 39.9, 116.4, 39.9, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Distance(tc.lon1, tc.lat1, tc.lon2, tc.lat2)
			if !near(got, tc.want, tc.tol) {
				t.Errorf("Distance = %.6f, want %.6f", got, tc.want)
			}
		})
	}
}

// BD09ToGCJ02 must invert GCJ02ToBD09 far more tightly than the published
// closed form does.
func TestBD09ExactInverse(t *testing.T) {
	for lon := 75.0; lon <= 135.0; lon += 2.5 {
		for lat := 5.0; lat <= 55.0; lat += 2.5 {
			bLon, bLat := GCJ02ToBD09(lon, lat)
			gLon, gLat := BD09ToGCJ02(bLon, bLat)
			if !near(gLon, lon, 1e-9) || !near(gLat, lat, 1e-9) {
				t.Fatalf("BD09ToGCJ02(GCJ02ToBD09(%v, %v)) = (%v, %v)", lon, lat, gLon, gLat)
			}
		}
	}
}
