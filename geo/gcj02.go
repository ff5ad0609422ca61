package geo

import (
	"math"

	"github.com/tidwall/geodesic"
)

// GCJ-02 ("Mars coordinates", 火星坐标) is the obfuscated datum that Chinese
// law requires of web maps in mainland China (AMap/Gaode, Tencent, Google
// China); BD-09 is Baidu's further offset on top of GCJ-02. The forward
// formulas below are the widely published ones (the same as the npm packages
// gcoord and coordtransform): WGS84 coordinates are nudged by two polynomial
// series scaled on the Krasovsky ellipsoid. They are not a datum transformation
// in the geodetic sense, so PostGIS cannot do them; they must be undone in Go
// before the coordinates are handed over as EPSG:4326.
//
// Outside a rough bounding box of China (lon 72.004–137.8347,
// lat 0.8293–55.8271) ToGCJ02, FromGCJ02, ToBD09 and FromBD09 are the
// identity, as in the common implementations: GCJ-02 is not applied abroad.
// The box is crude (it covers parts of neighbouring countries) but it is what
// every map vendor's SDK and the reference implementations use, so matching it
// matters more than geographic accuracy.

const (
	// Krasovsky 1940 ellipsoid, used by the GCJ-02 formula.
	krasovskyA  = 6378245.0
	krasovskyEE = 0.00669342162296594323

	// bdXPi is the angular factor of Baidu's BD-09 offset.
	bdXPi = math.Pi * 3000.0 / 180.0

	// inverseTol and inverseMaxIter bound the fixed-point inversions: 1e-10°
	// is ~0.01 mm, far below any map accuracy, and convergence is linear
	// with a tiny factor (the offset varies by ~1e-5 per degree), so a few
	// iterations normally suffice; the cap only guards odd inputs.
	inverseTol     = 1e-10
	inverseMaxIter = 30
)

// inChina is the rough bounding box test used by the reference
// implementations to decide whether the GCJ-02 offset applies.
func inChina(lon, lat float64) bool {
	return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271
}

func transformLat(x, y float64) float64 {
	ret := -100.0 + 2.0*x + 3.0*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x))
	ret += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	ret += (20.0*math.Sin(y*math.Pi) + 40.0*math.Sin(y/3.0*math.Pi)) * 2.0 / 3.0
	ret += (160.0*math.Sin(y/12.0*math.Pi) + 320.0*math.Sin(y*math.Pi/30.0)) * 2.0 / 3.0
	return ret
}

func transformLon(x, y float64) float64 {
	ret := 300.0 + x + 2.0*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x))
	ret += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	ret += (20.0*math.Sin(x*math.Pi) + 40.0*math.Sin(x/3.0*math.Pi)) * 2.0 / 3.0
	ret += (150.0*math.Sin(x/12.0*math.Pi) + 300.0*math.Sin(x/30.0*math.Pi)) * 2.0 / 3.0
	return ret
}

// gcjDelta is the GCJ-02 offset (degrees) at a WGS84 point, without the
// bounding box test, so that the inverse iteration sees a continuous function.
func gcjDelta(lon, lat float64) (dLon, dLat float64) {
	dLat = transformLat(lon-105.0, lat-35.0)
	dLon = transformLon(lon-105.0, lat-35.0)
	radLat := lat / 180.0 * math.Pi
	magic := math.Sin(radLat)
	magic = 1 - krasovskyEE*magic*magic
	sqrtMagic := math.Sqrt(magic)
	dLat = (dLat * 180.0) / ((krasovskyA * (1 - krasovskyEE)) / (magic * sqrtMagic) * math.Pi)
	dLon = (dLon * 180.0) / (krasovskyA / sqrtMagic * math.Cos(radLat) * math.Pi)
	return dLon, dLat
}

// ToGCJ02 converts WGS84 lon/lat (degrees) to GCJ-02. Identity outside the
// China bounding box.
func ToGCJ02(lon, lat float64) (float64, float64) {
	if !inChina(lon, lat) {
		return lon, lat
	}
	dLon, dLat := gcjDelta(lon, lat)
	return lon + dLon, lat + dLat
}

// FromGCJ02 converts GCJ-02 lon/lat to WGS84. The published "inverse" that
// just subtracts the offset at the GCJ-02 point is off by up to a couple of
// metres; here the offset is instead solved for by fixed-point iteration
// (w ← w − (ToGCJ02(w) − p)) until the step is below 1e-10°, so that
// ToGCJ02(FromGCJ02(p)) == p to ~1e-10°. Identity outside the China bounding
// box (tested on the GCJ-02 input).
func FromGCJ02(lon, lat float64) (float64, float64) {
	if !inChina(lon, lat) {
		return lon, lat
	}
	wLon, wLat := lon, lat
	for range inverseMaxIter {
		dLon, dLat := gcjDelta(wLon, wLat)
		// Residual of the forward transform at the current guess.
		rLon := wLon + dLon - lon
		rLat := wLat + dLat - lat
		wLon -= rLon
		wLat -= rLat
		if math.Abs(rLon) < inverseTol && math.Abs(rLat) < inverseTol {
			break
		}
	}
	return wLon, wLat
}

// GCJ02ToBD09 converts GCJ-02 to BD-09 with Baidu's published formula. It has
// no bounding box test of its own: it is a pure offset between two shifted
// systems, applied wherever it is asked for (as in gcoord).
func GCJ02ToBD09(lon, lat float64) (float64, float64) {
	z := math.Sqrt(lon*lon+lat*lat) + 0.00002*math.Sin(lat*bdXPi)
	theta := math.Atan2(lat, lon) + 0.000003*math.Cos(lon*bdXPi)
	return z*math.Cos(theta) + 0.0065, z*math.Sin(theta) + 0.006
}

// BD09ToGCJ02 converts BD-09 to GCJ-02. The published closed-form inverse is
// only approximate (errors up to ~2e-6°, about 0.2 m, over China), so it is used as
// the starting guess and then refined by fixed-point iteration against
// GCJ02ToBD09, making the two exact inverses of each other to ~1e-10°.
func BD09ToGCJ02(lon, lat float64) (float64, float64) {
	x := lon - 0.0065
	y := lat - 0.006
	z := math.Sqrt(x*x+y*y) - 0.00002*math.Sin(y*bdXPi)
	theta := math.Atan2(y, x) - 0.000003*math.Cos(x*bdXPi)
	gLon, gLat := z*math.Cos(theta), z*math.Sin(theta)
	for range inverseMaxIter {
		bLon, bLat := GCJ02ToBD09(gLon, gLat)
		rLon, rLat := bLon-lon, bLat-lat
		gLon -= rLon
		gLat -= rLat
		if math.Abs(rLon) < inverseTol && math.Abs(rLat) < inverseTol {
			break
		}
	}
	return gLon, gLat
}

// ToBD09 converts WGS84 to BD-09 (via GCJ-02). Identity outside the China
// bounding box: unlike gcoord, which still applies the BD-09 part abroad,
// this package treats both shifts as China-only so that WGS84 data outside
// China passes through untouched.
func ToBD09(lon, lat float64) (float64, float64) {
	if !inChina(lon, lat) {
		return lon, lat
	}
	return GCJ02ToBD09(ToGCJ02(lon, lat))
}

// FromBD09 converts BD-09 to WGS84 (via GCJ-02). Identity outside the China
// bounding box (tested on the BD-09 input).
func FromBD09(lon, lat float64) (float64, float64) {
	if !inChina(lon, lat) {
		return lon, lat
	}
	return FromGCJ02(BD09ToGCJ02(lon, lat))
}

// Distance is the geodesic distance in metres between two WGS84 lon/lat
// points (Karney's algorithm via tidwall/geodesic, accurate to nanometres),
// used to state transform errors in metres rather than degrees.
func Distance(lon1, lat1, lon2, lat2 float64) float64 {
	var s12 float64
	geodesic.WGS84.Inverse(lat1, lon1, lat2, lon2, &s12, nil, nil)
	return s12
}
