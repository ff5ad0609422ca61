package units_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/units"
)

func TestParseFeatureRefuses(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"type":"Feature","properties":{"name":"a\u0000b"},"geometry":null}`, "property name: contains a NUL"},
		{`{"type":"Feature","properties":{"households":"NaN"},"geometry":null}`, "property households"},
		{`{"type":"Feature","properties":{"households":-1},"geometry":null}`, "property households"},
		{`{"type":"Feature","properties":{"name":7},"geometry":null}`, "property name: want a string"},
		{`{"type":"Feature","properties":{"colour":"red"},"geometry":null}`, `unknown property "colour"`},
		{`{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[1,2]`, "not a GeoJSON Feature"},
		{`{"type":"FeatureCollection"}`, "not a GeoJSON Feature"},
		{`{"type":"Feature","properties":{"valid_from":"2024-13-01"},"geometry":null}`, "property valid_from"},
	} {
		_, err := units.ParseFeature([]byte(c.body))
		var ve *boundaries.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(ve.Msg, c.want) {
			t.Errorf("%s: %v, want a validation error with %q", c.body, err, c.want)
		}
	}
}

// FuzzParseFeature: no body crashes the PUT/POST Feature parser; anything
// it refuses is a validation error (422), never another kind.
func FuzzParseFeature(f *testing.F) {
	for _, s := range []string{
		`{"type":"Feature","properties":{"code":"110101001","level":"street","name":"甲","households":1,"approval":"x","valid_from":"2024-01-01"},"geometry":{"type":"Polygon","coordinates":[[[116.4,39.9],[116.5,39.9],[116.5,40],[116.4,39.9]]]}}`,
		`{"type":"Feature","properties":{"name":"a\u0000b"},"geometry":null}`,
		`{"type":"Feature","properties":{"households":1e400},"geometry":null}`,
		`{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[{"type":"GeometryCollection","geometries":[]}]}}`,
		strings.Repeat(`[`, 10000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := units.ParseFeature(b); err != nil {
			var ve *boundaries.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%q: %v is not a validation error", b, err)
			}
		}
	})
}
