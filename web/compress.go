package web

// Compression. Two kinds of response get it, only when the client's
// Accept-Encoding allows, and always with Vary: Accept-Encoding:
//
//   - the map page's files (HTML, its script and style, vendored MapLibre):
//     compressed once per process, gzip and brotli (precompress), and
//     served as stored bytes (mappage.go);
//   - every other response of compressMinBytes or more (the JSON API,
//     TileJSON, the map's helpers): compressed as it is written, by gzhttp
//     (compress), gzip: every HTTP client and proxy knows it (zstd is off).
//
// A response whose handler set Content-Encoding is passed through as it is:
// vector tiles (web/tiles keeps them gzipped; it also decides when to send
// one raw), /ogc and /download (which
// gzip themselves, streaming), /metrics (promhttp), the static files. So
// are already compressed types (zip, images; gzhttp's default filter).

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
	"github.com/labstack/echo/v4"
)

// compressMinBytes is the smallest body worth compressing: below about a
// kilobyte the format's overhead and the CPU outweigh the bytes saved.
const compressMinBytes = 1024

// compress compresses dynamic responses through gzhttp, which buffers the
// first compressMinBytes to decide and stays streaming after that (a Flush
// flushes the compressor). ETags are left as they are: the API's name a
// unit version, which If-Match compares, and a suffix would break that;
// Vary keeps caches from mixing the encodings.
func compress() echo.MiddlewareFunc {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(compressMinBytes), gzhttp.EnableZstd(false), gzhttp.ContentTypeFilter(func(ct string) bool {
		// Tiles choose their own encoding: a cold one goes out raw, fast,
		// under the identity ETag, and is gzipped from the next hit on.
		return gzhttp.DefaultContentTypeFilter(ct) && !strings.Contains(ct, "vnd.mapbox-vector-tile")
	}))
	if err != nil {
		panic(fmt.Sprintf("gzhttp: %v", err)) // only on invalid options, fixed above
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			res := c.Response()
			orig := res.Writer
			defer func() { res.Writer = orig }()
			var err error
			wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// echo's Response keeps its status and size; only the writer
				// beneath it changes, as echo's own Gzip middleware does.
				res.Writer = w
				c.SetRequest(r)
				if err = next(c); err != nil {
					// The error's body goes out while the compressor is open.
					c.Error(err)
					err = nil
				}
			})).ServeHTTP(orig, c.Request())
			return err
		}
	}
}
