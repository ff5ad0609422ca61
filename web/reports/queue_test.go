package reports

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries/report"
	"github.com/jiedao/jiedao/web/param"
)

// TestPDFQueueFull: with every place of the queue taken, a PDF is refused
// at once with 503 and Retry-After, before any work; HTML is not queued.
func TestPDFQueueFull(t *testing.T) {
	if _, err := report.Chromium(); err != nil {
		t.Skip(err)
	}
	h := New(nil, nil, &param.Profiles{})
	for range MaxPDFQueue {
		h.pdfs <- struct{}{}
	}
	e := echo.New()
	h.Routes(e)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/reports/scenarios/1.pdf", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("full queue: %d, Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
}
