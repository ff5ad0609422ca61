// Package reports serves the printable documents of package report over
// HTTP: a scenario's adjustment proposal and the status assessment, as
// HTML or PDF. HTTP only: the documents are built in boundaries/report.
package reports

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/report"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/web/param"
)

// MaxPDFQueue bounds the PDF requests a process takes at once, printing
// or waiting for one of the report package's print slots; more get 503.
const MaxPDFQueue = 4

// retryAfter is what a refused PDF request is told to wait (seconds): about
// one print.
const retryAfter = 10

// Handler serves /reports.
type Handler struct {
	st       *store.Store
	runs     *analysis.Runs
	profiles *param.Profiles
	pdfs     chan struct{}
}

// New returns the reports' handler over the application's run finder and
// profile cache.
func New(st *store.Store, runs *analysis.Runs, profiles *param.Profiles) *Handler {
	return &Handler{st: st, runs: runs, profiles: profiles, pdfs: make(chan struct{}, MaxPDFQueue)}
}

// Routes registers the report routes.
func (h *Handler) Routes(e *echo.Echo) {
	e.GET("/reports/scenarios/:file", h.scenario)
	e.GET("/reports/status.html", h.status)
	e.GET("/reports/status.pdf", h.status)
}

var scenarioFile = regexp.MustCompile(`^([1-9][0-9]{0,17})\.(html|pdf)$`)

// scenario serves GET /reports/scenarios/{id}.html|.pdf[?street=&at=&profile=].
func (h *Handler) scenario(c echo.Context) error {
	m := scenarioFile.FindStringSubmatch(c.Param("file"))
	if m == nil {
		return echo.NewHTTPError(http.StatusNotFound, "no such report "+c.Param("file")+" (want /reports/scenarios/{id}.html or .pdf)")
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	opt := report.Options{Street: c.QueryParam("street")}
	var err error
	if c.QueryParam("profile") != "" { // else the scenario's own
		if opt.Profile, err = h.profiles.Profile(c); err != nil {
			return err
		}
	}
	if c.QueryParam("at") != "" { // else today, or the day before adoption
		if opt.At, err = param.At(c, "at"); err != nil {
			return err
		}
	}
	return h.serve(c, m[2], fmt.Sprintf("scenario-%d", id), func(ctx context.Context) (*report.Document, error) {
		return report.Scenario(ctx, h.st, h.runs, id, opt)
	})
}

// status serves GET /reports/status.html|.pdf[?district=|?street=&at=&profile=].
func (h *Handler) status(c echo.Context) error {
	p, at, err := h.profiles.ProfileAt(c)
	if err != nil {
		return err
	}
	opt := report.Options{Profile: p, At: at, District: c.QueryParam("district"), Street: c.QueryParam("street")}
	if opt.District != "" && opt.Street != "" {
		return param.BadRequest("street", "give district or street, not both")
	}
	format := report.FormatHTML
	if c.Path() == "/reports/status.pdf" {
		format = report.FormatPDF
	}
	return h.serve(c, format, "status", func(ctx context.Context) (*report.Document, error) {
		return report.Status(ctx, h.st, h.runs, opt)
	})
}

// serve builds the document and writes it; a PDF first takes a place in
// the queue (503 with Retry-After when it is full), since each starts a
// browser.
func (h *Handler) serve(c echo.Context, format, name string, build func(context.Context) (*report.Document, error)) error {
	ctx := c.Request().Context()
	if format == report.FormatPDF {
		if _, err := report.Chromium(); err != nil {
			return param.Error(http.StatusServiceUnavailable, param.CodeUnavailable, err.Error())
		}
		select {
		case h.pdfs <- struct{}{}:
			defer func() { <-h.pdfs }()
		default:
			c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfter))
			return param.Error(http.StatusServiceUnavailable, param.CodeBusy,
				fmt.Sprintf("%d PDF reports are being printed or waiting; retry after %d s (or ask for .html)", MaxPDFQueue, retryAfter))
		}
	}
	start := time.Now()
	doc, err := build(ctx)
	if err != nil {
		return param.APIError(err)
	}
	b, err := doc.Render(ctx, format)
	if err != nil {
		return param.APIError(err)
	}
	h2 := c.Response().Header()
	h2.Set("Cache-Control", "no-cache")
	h2.Set("Server-Timing", fmt.Sprintf("report;dur=%.0f", float64(time.Since(start).Milliseconds())))
	if format == report.FormatPDF {
		h2.Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s.pdf"`, name))
		return c.Blob(http.StatusOK, "application/pdf", b)
	}
	// The page is self-contained: it loads nothing, runs nothing.
	h2.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	return c.Blob(http.StatusOK, echo.MIMETextHTMLCharsetUTF8, b)
}
