package mapui

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

	"github.com/jiedao/jiedao/web/param"
)

// The map page's files are compressed once per process and served as
// stored bytes; web's compress middleware passes them through.

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
	if param.ETagMatch(c.Request().Header.Get("If-None-Match"), f.etag) {
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
