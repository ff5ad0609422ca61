package layerfile

import (
	"encoding/hex"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckWKB(t *testing.T) {
	for _, c := range []struct {
		name, hex string
		typ       uint32
		err       string
	}{
		{"point", "0101000000000000000000f03f0000000000000040", 1, ""},
		{"point z (ISO)", "01e9030000000000000000f03f00000000000000400000000000000840", 1, ""},
		{"empty multipolygon", "010600000000000000", 6, ""},
		{"polygon, one ring of 4 points", "0103000000010000000400000000000000000000000000000000000000000000000000f03f0000000000000000000000000000f03f000000000000f03f00000000000000000000000000000000", 3, ""},
		{"0xFFFFFFFF rings (the hostile GeoPackage)", "0103000000ffffffff", 0, "rings do not fit"},
		{"0xFFFFFFFF points", "010200000000ffffff", 0, "points do not fit"},
		{"0xFFFFFFFF parts", "0106000000ffffffff", 0, "parts do not fit"},
		{"truncated point", "01010000000000", 0, "truncated"},
		{"bad byte order", "0201000000", 0, "byte order"},
		{"unknown type", "0109000000", 0, "unsupported"},
		{"trailing bytes", "010600000000000000ff", 0, "trailing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			typ, err := checkWKB(mustHex(t, c.hex))
			if c.err == "" {
				if err != nil || typ != c.typ {
					t.Fatalf("type %d, %v; want %d", typ, err, c.typ)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err %v, want %q", err, c.err)
			}
		})
	}
	// Nesting deeper than the bound is refused, not followed.
	nested := strings.Repeat("010700000001000000", maxWKBDepth+2) + "010700000000000000"
	if _, err := checkWKB(mustHex(t, nested)); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Fatalf("deep nesting: %v", err)
	}
}

// The blob of the hostile GeoPackage row: a GeoPackage header
// followed by a polygon that claims 0xFFFFFFFF rings.
func TestGPKGGeometryHostileCount(t *testing.T) {
	if _, err := parseGPKGGeometry(mustHex(t, "47500001e61000000103000000ffffffff")); err == nil || !strings.Contains(err.Error(), "do not fit") {
		t.Fatalf("err %v, want a count that does not fit", err)
	}
}

// FuzzGPKGGeometry: no blob crashes or over-allocates the geometry reader.
func FuzzGPKGGeometry(f *testing.F) {
	for _, s := range []string{
		"47500001e61000000103000000ffffffff",
		"47500003e6100000" + strings.Repeat("00", 32) + "010600000000000000",
		"0101000000000000000000f03f0000000000000040",
		"0103000000010000000400000000000000000000000000000000000000000000000000f03f0000000000000000000000000000f03f000000000000f03f00000000000000000000000000000000",
		"0106000000ffffffff",
	} {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseGPKGGeometry(b) //nolint:errcheck // only crashes matter
	})
}
