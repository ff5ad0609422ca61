package report

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/jiedao/jiedao/boundaries"
)

//go:embed report.html.tmpl
var pageTemplate string

//go:embed report.css
var pageCSS string

// page is the report template: html/template escapes every name and
// code; the maps and charts are SVG this package wrote, its text escaped.
var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"css": func() template.CSS { return template.CSS(pageCSS) },
	"num": func(n *int64) string {
		if n == nil {
			return "—"
		}
		return thousands(*n)
	},
	"thousands": thousands,
	"round":     func(f float64) int64 { return int64(math.Round(f)) },
	"km2":       func(f float64) string { return fmt.Sprintf("%.3f", f) },
	"dens": func(f *float64) string {
		if f == nil {
			return "—"
		}
		return thousands(int64(math.Round(*f)))
	},
	"staff": func(lo, hi *int64) string {
		if lo == nil || hi == nil {
			return "—"
		}
		return fmt.Sprintf("%d–%d", *lo, *hi)
	},
	"status": func(s boundaries.Status) string {
		if t, ok := statusText[s]; ok {
			return t
		}
		return string(s)
	},
	"stclass": statusClass,
	"short":   func(s boundaries.Status) string { return shortStatus[s] },
	"join":    func(xs []string) string { return strings.Join(xs, "; ") },
	"inc":     func(i int) int { return i + 1 },
}).Parse(pageTemplate))

// WriteHTML writes the document as one self-contained HTML file.
func (d *Document) WriteHTML(w io.Writer) error {
	if err := page.Execute(w, d); err != nil {
		return fmt.Errorf("report %q: %w", d.Title, err)
	}
	return nil
}

// Formats a report is written in.
const (
	FormatHTML = "html"
	FormatPDF  = "pdf"
)

// Render writes the document as HTML, or prints it to PDF.
func (d *Document) Render(ctx context.Context, format string) ([]byte, error) {
	var b bytes.Buffer
	if err := d.WriteHTML(&b); err != nil {
		return nil, err
	}
	switch format {
	case FormatHTML, "":
		return b.Bytes(), nil
	case FormatPDF:
		return PDF(ctx, b.Bytes())
	}
	return nil, &boundaries.QueryError{Param: "format", Err: fmt.Errorf("%q: want html or pdf", format)}
}
