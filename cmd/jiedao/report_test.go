package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// TestCLIReport plans a street of the small demo city, keeps the plan as
// a scenario and writes its report and the district's status report
// through the CLI; then the ways report refuses.
func TestCLIReport(t *testing.T) {
	db := pgtest.NewDatabase(t)
	dir := t.TempDir()
	must := func(args ...string) string {
		t.Helper()
		code, out, errs := jiedao(t, db, args...)
		if code != 0 {
			t.Fatalf("jiedao %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	must("demo", "--seed", "1", "--scale", "small", "--out", filepath.Join(dir, "demo"))
	planFile := filepath.Join(dir, "plan.geojson")
	must("plan", "--district", "990101", "--seed", "1", "--format", "geojson", "-o", planFile)
	must("scenario", "create", "split-990101", "--from-plan", planFile)

	html := filepath.Join(dir, "scenario.html")
	must("report", "--scenario", "split-990101", "-o", html)
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!DOCTYPE html>", "社区规模调整方案（草案）", "split-990101", `class="mapbox after"`, "990101"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("scenario report lacks %q", want)
		}
	}
	// By id too, to stdout.
	if out := must("report", "--scenario", "1", "--format", "html"); !strings.Contains(out, "split-990101") {
		t.Errorf("report by id: %.200s", out)
	}
	status := must("report", "--status", "--district", "990101")
	if !strings.Contains(status, "社区规模现状评估") || !strings.Contains(status, `class="chart"`) {
		t.Errorf("status report: %.300s", status)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report"}, "--scenario NAME|ID or --status"},
		{[]string{"report", "--status", "--scenario", "x"}, "--scenario NAME|ID or --status"},
		{[]string{"report", "--scenario", "nope"}, "not found"},
		{[]string{"report", "--status", "--district", "999999"}, "--district"},
		{[]string{"report", "--scenario", "split-990101", "--street", "110101001"}, "--street"},
		{[]string{"report", "--status", "--format", "docx"}, "--format"},
		{[]string{"report", "--status", "--at", "2025-13-01"}, "2025-13-01"},
	} {
		code, _, errs := jiedao(t, db, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("jiedao %s: exit %d, stderr %q, want it to say %q", strings.Join(c.args, " "), code, errs, c.want)
		}
	}

	if _, err := exec.LookPath("chromium"); err != nil {
		if os.Getenv("JIEDAO_REQUIRE_TOOLS") != "" {
			t.Fatal("chromium is missing: install the Debian package chromium")
		}
		t.Skip("chromium not installed: skipping the PDF")
	}
	pdf := filepath.Join(dir, "status.pdf")
	must("report", "--status", "--street", "990101001", "-o", pdf)
	if b, err := os.ReadFile(pdf); err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("status.pdf is not a PDF: %v %.20q", err, b)
	}
}
