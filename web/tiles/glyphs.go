package tiles

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// GlyphFont is the text-font of the style's symbol layers. No font file
// stands behind it: see getGlyphs.
const GlyphFont = "Noto Sans Regular"

// GlyphFontBold names the district labels' font: MapLibre draws local CJK
// glyphs bold when the font stack's name says "Bold".
const GlyphFontBold = "Noto Sans Bold"

// getGlyphs serves GET /tiles/glyphs/{fontstack}/{start}-{end}.pbf, the
// glyphs URL MapLibre needs before it draws any symbol text. The page sets
// localIdeographFontFamily, so MapLibre draws CJK characters (all of a
// Chinese name but digits and Latin letters) with the browser's local
// fonts and never asks for their ranges. The other ranges get a valid but
// empty glyph set: the map works offline with no glyph server, and the
// price is that digits and Latin letters in names are not drawn.
func (h *Handler) getGlyphs(c echo.Context) error {
	start, end, ok := glyphRange(c.Param("range"))
	if !ok {
		return echo.NewHTTPError(http.StatusBadRequest, "glyph range must be {start}-{start+255}.pbf, start a multiple of 256")
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Blob(http.StatusOK, "application/x-protobuf", emptyGlyphs(c.Param("fontstack"), fmt.Sprintf("%d-%d", start, end)))
}

// glyphRange parses "0-255.pbf"; MapLibre asks only for aligned ranges
// of 256 code points below U+10000.
func glyphRange(s string) (start, end int, ok bool) {
	a, b, found := strings.Cut(strings.TrimSuffix(s, ".pbf"), "-")
	if !found || !strings.HasSuffix(s, ".pbf") {
		return 0, 0, false
	}
	start, err1 := strconv.Atoi(a)
	end, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || start < 0 || start%256 != 0 || end != start+255 || end > 65535 {
		return 0, 0, false
	}
	return start, end, true
}

// emptyGlyphs encodes the glyphs protobuf message of the Mapbox glyph
// format (glyphs.proto: glyphs{1: fontstack{1: name, 2: range}}) with no
// glyph in it. It is written by hand because it is two strings: no
// protobuf library is needed for it.
func emptyGlyphs(name, rng string) []byte {
	field := func(num int, b []byte) []byte {
		out := append([]byte{byte(num<<3 | 2)}, varint(len(b))...)
		return append(out, b...)
	}
	stack := append(field(1, []byte(name)), field(2, []byte(rng))...)
	return field(1, stack)
}

func varint(n int) []byte {
	var out []byte
	for n >= 0x80 {
		out = append(out, byte(n&0x7f|0x80))
		n >>= 7
	}
	return append(out, byte(n))
}
