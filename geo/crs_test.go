package geo

import (
	"math"
	"strings"
	"testing"
)

func TestParseCRS(t *testing.T) {
	wgs84 := CRS{Name: "wgs84", SRID: 4326}
	cases := []struct {
		in      string
		want    CRS
		wantErr bool
	}{
		{in: "wgs84", want: wgs84},
		{in: "WGS84", want: wgs84},
		{in: " wgs-84 ", want: wgs84},
		{in: "CRS84", want: wgs84},
		{in: "OGC:CRS84", want: wgs84},
		{in: "ogc:crs84", want: wgs84},
		{in: "EPSG:4326", want: wgs84},
		{in: "cgcs2000", want: CRS{Name: "cgcs2000", SRID: 4490}},
		{in: "epsg:4490", want: CRS{Name: "cgcs2000", SRID: 4490}},
		{in: "gcj02", want: CRS{Name: "gcj02", SRID: 4326, Shift: ShiftGCJ02}},
		{in: "GCJ-02", want: CRS{Name: "gcj02", SRID: 4326, Shift: ShiftGCJ02}},
		{in: "bd09", want: CRS{Name: "bd09", SRID: 4326, Shift: ShiftBD09}},
		{in: "BD09", want: CRS{Name: "bd09", SRID: 4326, Shift: ShiftBD09}},
		{in: "EPSG:4547", want: CRS{Name: "EPSG:4547", SRID: 4547}},
		{in: "epsg:3857", want: CRS{Name: "EPSG:3857", SRID: 3857}},
		{in: "", wantErr: true},
		{in: "mars", wantErr: true},
		{in: "EPSG:", wantErr: true},
		{in: "EPSG:abc", wantErr: true},
		{in: "EPSG:0", wantErr: true},
		{in: "EPSG:-4326", wantErr: true},
		{in: "EPSG:1000000", wantErr: true},
		{in: "4326", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCRS(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseCRS(%q) = %+v, want error", tc.in, got)
				}
				// The message must name the value and list what is accepted.
				msg := err.Error()
				for _, want := range []string{`"` + tc.in + `"`, "wgs84", "cgcs2000", "gcj02", "bd09", "EPSG:<code>"} {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q does not mention %q", msg, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCRS(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseCRS(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// .prj strings produced by PROJ 9.1.1's projinfo (-o WKT1_ESRI, WKT1_GDAL,
// WKT2_2019), i.e. what ArcGIS, QGIS/GDAL and newer tools write.
const (
	prjESRI4326  = `GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]`
	prjESRI4490  = `GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]`
	prjESRI4547  = `PROJCS["CGCS2000_3_Degree_GK_CM_114E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]`
	prjESRI4526  = `PROJCS["CGCS2000_3_Degree_GK_Zone_38",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",38500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]`
	prjESRI3857  = `PROJCS["WGS_1984_Web_Mercator_Auxiliary_Sphere",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Mercator_Auxiliary_Sphere"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",0.0],PARAMETER["Standard_Parallel_1",0.0],PARAMETER["Auxiliary_Sphere_Type",0.0],UNIT["Meter",1.0]]`
	prjESRI32650 = `PROJCS["WGS_1984_UTM_Zone_50N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",117.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]`
	prjESRI4502  = `PROJCS["CGCS2000_GK_CM_75E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",75.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]`
	prjESRI4491  = `PROJCS["CGCS2000_GK_Zone_13",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",13500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",75.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]`
	prjESRIXian  = `PROJCS["Xian_1980_3_Degree_GK_CM_114E",GEOGCS["GCS_Xian_1980",DATUM["D_Xian_1980",SPHEROID["Xian_1980",6378140.0,298.257]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]`

	prjGDAL4326  = `GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]]`
	prjGDAL4490  = `GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101,AUTHORITY["EPSG","1024"]],AUTHORITY["EPSG","1043"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4490"]]`
	prjGDAL4547  = `PROJCS["CGCS2000 / 3-degree Gauss-Kruger CM 114E",GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101,AUTHORITY["EPSG","1024"]],AUTHORITY["EPSG","1043"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4490"]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",114],PARAMETER["scale_factor",1],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AUTHORITY["EPSG","4547"]]`
	prjGDAL3857  = `PROJCS["WGS 84 / Pseudo-Mercator",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]],PROJECTION["Mercator_1SP"],PARAMETER["central_meridian",0],PARAMETER["scale_factor",1],PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH],EXTENSION["PROJ4","+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs"],AUTHORITY["EPSG","3857"]]`
	prjWKT2_4547 = `PROJCRS["CGCS2000 / 3-degree Gauss-Kruger CM 114E",BASEGEOGCRS["China Geodetic Coordinate System 2000",DATUM["China 2000",ELLIPSOID["CGCS2000",6378137,298.257222101,LENGTHUNIT["metre",1]]],PRIMEM["Greenwich",0,ANGLEUNIT["degree",0.0174532925199433]],ID["EPSG",4490]],CONVERSION["3-degree Gauss-Kruger CM 114E",METHOD["Transverse Mercator",ID["EPSG",9807]],PARAMETER["Latitude of natural origin",0,ANGLEUNIT["degree",0.0174532925199433],ID["EPSG",8801]],PARAMETER["Longitude of natural origin",114,ANGLEUNIT["degree",0.0174532925199433],ID["EPSG",8802]],PARAMETER["Scale factor at natural origin",1,SCALEUNIT["unity",1],ID["EPSG",8805]],PARAMETER["False easting",500000,LENGTHUNIT["metre",1],ID["EPSG",8806]],PARAMETER["False northing",0,LENGTHUNIT["metre",1],ID["EPSG",8807]]],CS[Cartesian,2],AXIS["northing (X)",north,ORDER[1],LENGTHUNIT["metre",1]],AXIS["easting (Y)",east,ORDER[2],LENGTHUNIT["metre",1]],USAGE[SCOPE["Cadastre, engineering survey, topographic mapping (large scale)."],AREA["China - onshore between 112°30'E and 115°30'E."],BBOX[21.52,112.5,45.45,115.5]],ID["EPSG",4547]]`
)

func TestCRSFromPRJ(t *testing.T) {
	cases := []struct {
		name     string
		wkt      string
		wantSRID int
		wantErr  string // substring of the error, "" for success
	}{
		{"ESRI WGS84", prjESRI4326, 4326, ""},
		{"ESRI CGCS2000", prjESRI4490, 4490, ""},
		{"ESRI CGCS2000 3° CM 114E", prjESRI4547, 4547, ""},
		{"ESRI CGCS2000 3° zone 38", prjESRI4526, 4526, ""},
		{"ESRI CGCS2000 6° CM 75E", prjESRI4502, 4502, ""},
		{"ESRI CGCS2000 6° zone 13", prjESRI4491, 4491, ""},
		{"ESRI Web Mercator", prjESRI3857, 3857, ""},
		{"ESRI UTM 50N", prjESRI32650, 32650, ""},
		{"GDAL WGS84", prjGDAL4326, 4326, ""},
		{"GDAL CGCS2000", prjGDAL4490, 4490, ""},
		{"GDAL CGCS2000 3° CM 114E", prjGDAL4547, 4547, ""},
		{"GDAL Pseudo-Mercator", prjGDAL3857, 3857, ""},
		{"WKT2 CGCS2000 3° CM 114E", prjWKT2_4547, 4547, ""},
		// ESRI-style names covering the ends of the consecutive EPSG ranges.
		{"CM 75E", esriGK3("CGCS2000_3_Degree_GK_CM_75E"), 4534, ""},
		{"CM 117E", esriGK3("CGCS2000_3_Degree_GK_CM_117E"), 4548, ""},
		{"CM 135E", esriGK3("CGCS2000_3_Degree_GK_CM_135E"), 4554, ""},
		{"zone 25", esriGK3("CGCS2000_3_Degree_GK_Zone_25"), 4513, ""},
		{"zone 45", esriGK3("CGCS2000_3_Degree_GK_Zone_45"), 4533, ""},
		{"6° CM 135E", esriGK3("CGCS2000_GK_CM_135E"), 4512, ""},
		{"6° zone 23", esriGK3("CGCS2000_GK_Zone_23"), 4501, ""},
		{"UTM 50S", strings.Replace(prjESRI32650, "50N", "50S", 1), 32750, ""},
		// Whitespace and line breaks as some writers pretty-print.
		{"pretty printed", "GEOGCS[\"GCS_WGS_1984\",\n  DATUM[\"D_WGS_1984\",\n    SPHEROID[\"WGS_1984\",6378137.0,298.257223563]],\n  PRIMEM[\"Greenwich\",0.0],\n  UNIT[\"Degree\",0.0174532925199433]]\n", 4326, ""},
		{"BOM", "\ufeff" + prjESRI4490, 4490, ""},
		{"round brackets", `GEOGCS("GCS_WGS_1984",DATUM("D_WGS_1984",SPHEROID("WGS_1984",6378137.0,298.257223563)),PRIMEM("Greenwich",0.0),UNIT("Degree",0.0174532925199433))`, 4326, ""},
		// Unknown geographic name, known datum.
		{"datum fallback", `GEOGCS["My lon/lat",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]`, 4326, ""},
		// The root authority wins over the name and over nested authorities.
		{"root authority wins", `PROJCS["Some local name",GEOGCS["WGS 84",AUTHORITY["EPSG","4326"]],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AUTHORITY["EPSG","32650"]]`, 32650, ""},
		{"non-EPSG authority ignored", `GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],AUTHORITY["ESRI","104199"]]`, 4326, ""},
		// A projected CRS must not be mistaken for its base geographic CRS.
		{"unknown projected on CGCS2000", strings.Replace(prjESRI4547, "CGCS2000_3_Degree_GK_CM_114E", "CGCS2000_Custom_TM", 1), 0, "--crs"},
		{"GDAL projected without root authority", strings.Replace(strings.Replace(prjGDAL4547, `,AUTHORITY["EPSG","4547"]]`, "]", 1), "CGCS2000 / 3-degree", "Local", 1), 0, "--crs"},
		{"WKT2 geographic", `GEOGCRS["WGS 84",DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",6378137,298.257223563]],CS[ellipsoidal,2],AXIS["latitude",north],AXIS["longitude",east],ANGLEUNIT["degree",0.0174532925199433]]`, 4326, ""},
		{"WKT2 geocentric named WGS 84", `GEODCRS["WGS 84",DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",6378137,298.257223563]],CS[Cartesian,3],AXIS["(X)",geocentricX],AXIS["(Y)",geocentricY],AXIS["(Z)",geocentricZ],LENGTHUNIT["metre",1]]`, 0, "--crs"},
		{"Xian 1980", prjESRIXian, 0, "--crs"},
		{"CM not a 3° meridian", esriGK3("CGCS2000_3_Degree_GK_CM_113E"), 0, "--crs"},
		{"zone out of range", esriGK3("CGCS2000_3_Degree_GK_Zone_46"), 0, "--crs"},
		{"empty", "", 0, "--crs"},
		{"garbage", "not a prj", 0, "--crs"},
		{"unterminated", `GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984"`, 0, "--crs"},
		{"unterminated string", `GEOGCS["GCS_WGS_1984`, 0, "--crs"},
		{"trailing text", prjESRI4326 + "]", 0, "--crs"},
		{"too deep", strings.Repeat("A[", 100) + strings.Repeat("]", 100), 0, "--crs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CRSFromPRJ(tc.wkt)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("CRSFromPRJ = %+v, want error", got)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CRSFromPRJ: %v", err)
			}
			if got.SRID != tc.wantSRID || got.Shift != NoShift {
				t.Errorf("CRSFromPRJ = %+v, want SRID %d, no shift", got, tc.wantSRID)
			}
			if got != crsForSRID(tc.wantSRID) {
				t.Errorf("CRSFromPRJ = %+v, want canonical %+v", got, crsForSRID(tc.wantSRID))
			}
		})
	}
}

// esriGK3 makes an ESRI CGCS2000 Gauss-Krüger .prj with the given name (the
// parameters are those of CM 114E; only the name is looked at).
func esriGK3(name string) string {
	return strings.Replace(prjESRI4547, "CGCS2000_3_Degree_GK_CM_114E", name, 1)
}

func TestUnshift(t *testing.T) {
	const lon, lat = 116.397128, 39.916527
	gLon, gLat := ToGCJ02(lon, lat)
	bLon, bLat := ToBD09(lon, lat)
	cases := []struct {
		crs      string
		in       [2]float64
		wantWGS  [2]float64
		identity bool
	}{
		{crs: "wgs84", in: [2]float64{lon, lat}, identity: true},
		{crs: "cgcs2000", in: [2]float64{lon, lat}, identity: true},
		{crs: "EPSG:4547", in: [2]float64{500000, 4400000}, identity: true},
		{crs: "gcj02", in: [2]float64{gLon, gLat}, wantWGS: [2]float64{lon, lat}},
		{crs: "bd09", in: [2]float64{bLon, bLat}, wantWGS: [2]float64{lon, lat}},
	}
	for _, tc := range cases {
		t.Run(tc.crs, func(t *testing.T) {
			c, err := ParseCRS(tc.crs)
			if err != nil {
				t.Fatal(err)
			}
			x, y := c.Unshift(tc.in[0], tc.in[1])
			if tc.identity {
				if x != tc.in[0] || y != tc.in[1] {
					t.Errorf("Unshift = (%v, %v), want identity", x, y)
				}
				return
			}
			if d := Distance(x, y, tc.wantWGS[0], tc.wantWGS[1]); d > 0.01 || math.IsNaN(d) {
				t.Errorf("Unshift = (%v, %v), %.4f m from %v", x, y, d, tc.wantWGS)
			}
		})
	}
}

func TestShiftString(t *testing.T) {
	cases := map[Shift]string{NoShift: "none", ShiftGCJ02: "gcj02", ShiftBD09: "bd09", Shift(9): "Shift(9)"}
	for s, want := range cases {
		if got := s.String(); got != want {
			t.Errorf("Shift(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}
