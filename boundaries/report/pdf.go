package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// PDFs are printed by headless Chromium from the HTML: what the planner
// sees in the browser is what goes on paper. Each print starts a browser
// (~1 s, ~200 MB), so at most pdfSlots run at once in a process.

const pdfSlots = 2

var pdfSem = make(chan struct{}, pdfSlots)

// PDFTimeout bounds one print.
var PDFTimeout = 90 * time.Second

// ErrNoChromium is returned when no Chromium binary is on PATH.
var ErrNoChromium = errors.New("PDF needs headless Chromium: install the Debian package chromium (apt-get install chromium), or write HTML (--format html) and print it from a browser")

// browsers are the names Chromium goes by.
var browsers = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Chromium is the path of the browser that prints PDFs.
func Chromium() (string, error) {
	for _, b := range browsers {
		if p, err := exec.LookPath(b); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// PDF prints a report's HTML to PDF, waiting for one of the print slots
// (or ctx).
func PDF(ctx context.Context, html []byte) ([]byte, error) {
	bin, err := Chromium()
	if err != nil {
		return nil, err
	}
	select {
	case pdfSem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("pdf: waiting for a print slot: %w", ctx.Err())
	}
	defer func() { <-pdfSem }()
	dir, err := os.MkdirTemp("", "jiedao-report-")
	if err != nil {
		return nil, fmt.Errorf("pdf: %w", err)
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "report.html"), filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(in, html, 0o600); err != nil {
		return nil, fmt.Errorf("pdf: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, PDFTimeout)
	defer cancel()
	start := time.Now()
	// The flags of the map's browser tests; a profile of its own, so two
	// prints do not share (and lock) one.
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--no-pdf-header-footer", "--print-to-pdf="+out, "file://"+in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pdf: %s: %w: %s", filepath.Base(bin), err, tail(stderr.String(), 400))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("pdf: %s wrote no PDF: %w: %s", filepath.Base(bin), err, tail(stderr.String(), 400))
	}
	slog.Info("report pdf", "bytes", len(b), "html_bytes", len(html), "seconds", time.Since(start).Seconds())
	return b, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
