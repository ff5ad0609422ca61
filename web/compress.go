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
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
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

// encoded is one file in every encoding it is served in.
type encoded struct {
	ctype       string
	raw, gz, br []byte
	// etag is weak: the encodings are the same content (RFC 9110 8.8.1), so
	// a revalidation with any of them answers 304.
	etag string
}

// precompress stores b raw, gzipped and brotli'd, each at a high level:
// this runs once per process, so the time (about 0.1 s for MapLibre) is
// spent once and every client gets the smallest bytes. Brotli level 11
// would save another 10% but takes about 2 s per megabyte.
func precompress(ctype string, b []byte, hash string) (*encoded, error) {
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	var br bytes.Buffer
	bw := brotli.NewWriterLevel(&br, 9)
	if _, err := bw.Write(b); err != nil {
		return nil, fmt.Errorf("brotli: %w", err)
	}
	if err := bw.Close(); err != nil {
		return nil, fmt.Errorf("brotli: %w", err)
	}
	return &encoded{ctype: ctype, raw: b, gz: gz.Bytes(), br: br.Bytes(), etag: `W/"` + hash + `"`}, nil
}

// serve answers with the encoding the request prefers (brotli, then gzip,
// then none), or 304 when If-None-Match names the file's ETag.
func (f *encoded) serve(c echo.Context, cacheControl string) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, f.ctype)
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", f.etag)
	h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
	if etagMatch(c.Request().Header.Get("If-None-Match"), f.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	body := f.raw
	ae := c.Request().Header.Get(echo.HeaderAcceptEncoding)
	switch {
	case accepts(ae, "br"):
		body = f.br
		h.Set(echo.HeaderContentEncoding, "br")
	case accepts(ae, "gzip"):
		body = f.gz
		h.Set(echo.HeaderContentEncoding, "gzip")
	default:
		// Stored bytes only: compress must not compress these per request.
		h.Set(gzhttp.HeaderNoCompression, "1")
	}
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	return c.Blob(http.StatusOK, f.ctype, body)
}

// accepts reports whether an Accept-Encoding value allows coding (present
// with a q-value above 0; "*" counts).
func accepts(acceptEncoding, coding string) bool {
	star := false
	for _, part := range strings.Split(acceptEncoding, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		switch name = strings.TrimSpace(name); {
		case strings.EqualFold(name, coding):
			return q > 0
		case name == "*":
			star = q > 0
		}
	}
	return star
}

// etagMatch is If-None-Match's weak comparison (RFC 9110 13.1.2): "*" or
// any listed tag equal to etag once W/ is set aside.
func etagMatch(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}
