package ogc

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/web/param"
)

// Whole-layer downloads: GET /download/{layer}.geojson|.gpkg|.csv.

var downloadTypes = map[string]string{
	"geojson": "application/geo+json",
	"gpkg":    "application/geopackage+sqlite3",
	"csv":     "text/csv; charset=utf-8",
}

func (o *Handler) routesDownloads(e *echo.Echo) {
	// Errors here use the OGC style too: downloads share the API's filters.
	g := e.Group("/download", compress(), renderErrors)
	g.GET("/:file", o.download)
}

func (o *Handler) download(c echo.Context) error {
	file := c.Param("file")
	ext := strings.TrimPrefix(path.Ext(file), ".")
	name := strings.TrimSuffix(file, "."+ext)
	ctype, ok := downloadTypes[ext]
	l, known := layers.ByName(name)
	if !ok || !known {
		return notFound(fmt.Sprintf("no download %q (want {districts,streets,communities,grids,zones,barriers}.{geojson,gpkg,csv})", file))
	}
	if err := checkParams(c, append([]string{"geometry"}, viewParams...), l); err != nil {
		return err
	}
	opt := layers.ExportOptions{Layer: l.Name, Format: ext}
	var err error
	if opt.Profile, err = o.profiles.Profile(c); err != nil {
		return err
	}
	if opt.At, err = asOf(c); err != nil {
		return err
	}
	if opt.Interval, err = interval(c); err != nil {
		return err
	}
	if opt.Scenario, err = param.Scenario(c); err != nil {
		return err
	}
	switch g := c.QueryParam("geometry"); {
	case g == "wkt" && ext == "csv":
		opt.WKT = true
	case g != "":
		return invalid("geometry", "only geometry=wkt, for CSV")
	}
	for k, v := range c.QueryParams() {
		if _, ok := l.Field(k); ok {
			if len(v) != 1 {
				return invalid(k, "give it once")
			}
			if opt.Equal == nil {
				opt.Equal = map[string]string{}
			}
			opt.Equal[k] = v[0]
		}
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, ctype)
	fname := l.Name + "-" + opt.At.Format("2006-01-02")
	if iv := opt.Interval; iv != nil {
		fname = l.Name + "-" + dayOrOpen(iv.From) + "_" + dayOrOpen(iv.To)
	}
	if opt.Scenario != 0 {
		fname += fmt.Sprintf("-scenario-%d", opt.Scenario)
	}
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s.%s"`, fname, ext))
	ctx := c.Request().Context()
	if ext != "gpkg" {
		// Export writes through a buffer: a failure before the first 64 KiB
		// (bad filter, analysis error) still gets a proper error response.
		n, err := o.layers.Export(ctx, c.Response(), opt)
		if err != nil {
			return err
		}
		slog.Debug("download", "layer", l.Name, "format", ext, "features", n)
		return nil
	}
	// SQLite needs a file: build the GeoPackage in a temp file, then stream it.
	dir, err := os.MkdirTemp("", "jiedao-gpkg-")
	if err != nil {
		return fmt.Errorf("download gpkg: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := dir + "/" + l.Name + ".gpkg"
	if _, err := o.layers.ExportGPKG(ctx, tmp, opt); err != nil {
		return err
	}
	f, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("download gpkg: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !strings.Contains(c.Request().Header.Get(echo.HeaderAcceptEncoding), "gzip") {
		h.Set(echo.HeaderContentLength, fmt.Sprint(st.Size()))
	}
	c.Response().WriteHeader(http.StatusOK)
	if _, err := io.Copy(c.Response(), f); err != nil {
		return fmt.Errorf("download gpkg: send: %w", err)
	}
	return nil
}

// dayOrOpen names an interval's end in a file name.
func dayOrOpen(d time.Time) string {
	if d.IsZero() {
		return "open"
	}
	return d.Format("2006-01-02")
}
