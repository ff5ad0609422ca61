package tiles

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries/layers"
)

// FuzzTileCoords: no route parameters crash the z/x/y parsing of
// /tiles/{layer}/{z}/{x}/{y}.mvt; it accepts exactly the decimal z/x/y of
// a tile of the grid (0 <= z <= MaxTileZoom, 0 <= x, y < 2^z) with a .mvt
// or .pbf file, returning those numbers, and refuses anything else with a
// 400 or a 404.
func FuzzTileCoords(f *testing.F) {
	for _, s := range [][3]string{
		{"0", "0", "0.mvt"},
		{"12", "3372", "1552.mvt"},
		{"12", "3372", "1552.pbf"},
		{"22", "4194303", "4194303.mvt"},
		{"22", "4194304", "0.mvt"},
		{"23", "0", "0.mvt"},
		{"63", "0", "0.mvt"},
		{"64", "0", "0.mvt"},
		{"-1", "0", "0.mvt"},
		{"1", "2", "0.mvt"},
		{"1", "-1", "0.mvt"},
		{"1", "1", "-1.mvt"},
		{"1", "0", "2.pbf"},
		{"+1", "+0", "+1.mvt"},
		{"01", "00", "01.mvt"},
		{"-0", "-0", "-0.mvt"},
		{"9223372036854775807", "0", "0.mvt"},
		{"1", "9223372036854775807", "9223372036854775807.mvt"},
		{"1", "-9223372036854775808", "0.mvt"},
		{"99999999999999999999", "0", "0.mvt"},
		{"1", "1", "1"},
		{"1", "1", "1.png"},
		{"1", "1", ".mvt"},
		{"1", "1", "1.mvt.mvt"},
		{"1", "1", "1.pbf.mvt"},
		{"1", "1", "1.MVT"},
		{"", "", ""},
		{" 1", "1 ", "1 .mvt"},
		{"0x1", "1e1", "1.0.mvt"},
		{"1_0", "٣", "１.mvt"},
		{"1\x00", "0", "0\x00.mvt"},
		{"1", "1", "../../1.mvt"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, zs, xs, file string) {
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/tiles/communities/0/0/0.mvt", nil), httptest.NewRecorder())
		c.SetParamNames("layer", "z", "x", "file")
		c.SetParamValues("communities", zs, xs, file)
		z, x, y, err := parseTileCoords(c)

		// What should be accepted, worked out independently.
		ys, ok := strings.CutSuffix(file, ".mvt")
		if !ok {
			ys, ok = strings.CutSuffix(file, ".pbf")
		}
		wz, errZ := strconv.ParseInt(zs, 10, 64)
		wx, errX := strconv.ParseInt(xs, 10, 64)
		wy, errY := strconv.ParseInt(ys, 10, 64)
		valid := ok && errZ == nil && errX == nil && errY == nil &&
			wz >= 0 && wz <= layers.MaxTileZoom &&
			wx >= 0 && wx < 1<<wz && wy >= 0 && wy < 1<<wz

		if err != nil {
			var he *echo.HTTPError
			if !errors.As(err, &he) || (he.Code != http.StatusBadRequest && he.Code != http.StatusNotFound) {
				t.Fatalf("%q/%q/%q: error %v (%T) is not a 400 or a 404", zs, xs, file, err, err)
			}
			if valid {
				t.Fatalf("%q/%q/%q: tile %d/%d/%d refused: %v", zs, xs, file, wz, wx, wy, err)
			}
			return
		}
		if z < 0 || z > layers.MaxTileZoom || x < 0 || x >= 1<<z || y < 0 || y >= 1<<z {
			t.Fatalf("%q/%q/%q: accepted %d/%d/%d, outside the grid", zs, xs, file, z, x, y)
		}
		if !valid || int64(z) != wz || int64(x) != wx || int64(y) != wy {
			t.Fatalf("%q/%q/%q: accepted as %d/%d/%d", zs, xs, file, z, x, y)
		}
	})
}
