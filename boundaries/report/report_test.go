package report_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/report"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

const (
	beixinqiao = "110101005"
	minan      = "110101005006"
)

// fixedNow stamps reports so their bytes do not depend on the clock.
func fixedNow() time.Time { return time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC) }

// minanScenario imports the real Beixinqiao street, places building points
// in every community in proportion to its households (as the plan tests
// do), plans the street and keeps the plan as a scenario: 民安 (3,523
// households) is split in two.
func minanScenario(t testing.TB) (*store.Store, *plan.Plan, *scenario.Scenario) {
	t.Helper()
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	pgtest.ImportBeixinqiao(t, s)
	pgtest.BuildingPoints(t, s)
	pl := pgtest.Plan(t, s, plan.Options{Street: beixinqiao, Seed: 1})
	sc, err := scenario.Create(ctx, s, "民安拆分", pl.Profile, pl.Summary(0), pgtest.ScenarioUnits(t, pl), pgtest.ScenarioRemoved(t, pl))
	if err != nil {
		t.Fatal(err)
	}
	return s, pl, sc
}

// minanParts are the codes and households of 民安's parts in a plan.
func minanParts(t testing.TB, pl *plan.Plan) map[string]int64 {
	t.Helper()
	parts := map[string]int64{}
	for _, u := range pl.Units {
		if u.Code == minan || u.Provisional {
			parts[u.Code] = *u.Households
		}
	}
	if len(parts) != 2 {
		t.Fatalf("民安 became %v, want 2 parts", parts)
	}
	return parts
}

func TestScenarioReportBeixinqiao(t *testing.T) {
	ctx := context.Background()
	s, pl, sc := minanScenario(t)
	parts := minanParts(t, pl)
	runs := pgtest.Runs(s)
	doc, err := report.Scenario(ctx, s, runs, sc.ID, report.Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := doc.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	keep(t, "scenario-beixinqiao.html", b.Bytes())
	root := parse(t, b.Bytes())
	text := textOf(root)
	for _, want := range []string{"北新桥街道社区规模调整方案（草案）", "民安社区", minan, "110101005", "3,523",
		"京社领办发〔2020〕7号", "种子 seed", "未加载网格"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// The draft's approval and valid_from are left blank.
	for _, f := range []string{"批复文号 approval", "生效日期 valid_from"} {
		td := find(root, func(n *html.Node) bool { return attr(n, "data-field") == f })
		if len(td) != 1 || attr(td[0], "class") != "blank" || strings.TrimSpace(textOf(td[0])) != "" {
			t.Errorf("draft %s: want one blank cell, got %d", f, len(td))
		}
	}
	// The street's table: 民安 before → after, and its new part.
	for code, households := range parts {
		tr := find(root, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-code") == code })
		if len(tr) != 1 {
			t.Fatalf("%s: %d rows", code, len(tr))
		}
		hh := find(tr[0], func(n *html.Node) bool { return strings.Contains(attr(n, "class"), "hh") })
		if got := strings.ReplaceAll(textOf(hh[0]), ",", ""); got != strconv.FormatInt(households, 10) {
			t.Errorf("%s households %q, want %d", code, got, households)
		}
		if ch := attr(tr[0], "data-change"); (code == minan) != (ch == "changed") || (code != minan) != (ch == "new") {
			t.Errorf("%s change %q", code, ch)
		}
		if code == minan && !strings.Contains(textOf(tr[0]), "3,523 户 偏大 oversized →") {
			t.Errorf("民安 before → after: %q", textOf(tr[0]))
		}
	}
	// The after map draws 民安 as two polygons, outlined as changed; the
	// before map one.
	after := find(root, func(n *html.Node) bool { return strings.Contains(attr(n, "class"), "mapbox after") })
	before := find(root, func(n *html.Node) bool { return strings.Contains(attr(n, "class"), "mapbox before") })
	if len(after) != 1 || len(before) != 1 {
		t.Fatalf("%d after maps, %d before maps, want 1 each", len(after), len(before))
	}
	changed := func(m *html.Node) []string {
		var codes []string
		for _, p := range find(m, func(n *html.Node) bool { return n.Data == "path" && strings.Contains(attr(n, "class"), "changed") }) {
			if attr(p, "data-code") != "" {
				codes = append(codes, attr(p, "data-code"))
			}
		}
		return codes
	}
	if got := changed(after[0]); len(got) != 2 || parts[got[0]] == 0 || parts[got[1]] == 0 {
		t.Errorf("after map's changed polygons %v, want 民安's two parts %v", got, parts)
	}
	if got := changed(before[0]); len(got) != 1 || got[0] != minan {
		t.Errorf("before map's changed polygons %v, want 民安 only", got)
	}
	if n := len(find(after[0], func(n *html.Node) bool {
		return n.Data == "path" && strings.HasPrefix(attr(n, "class"), "unit") && attr(n, "data-code") != ""
	})); n != 13 {
		t.Errorf("after map has %d community polygons, want 13 (12 + 民安's new part)", n)
	}
	checkMapFurniture(t, after[0])
	if t.Failed() {
		return
	}
	checkPDF(t, ctx, b.Bytes(), "scenario-beixinqiao", 6, 7, 3, append([]string{"民安社区", "北新桥街道"}, householdStrings(parts)...))
}

// checkMapFurniture: a scale bar, a north arrow, a legend and labels.
func checkMapFurniture(t *testing.T, m *html.Node) {
	t.Helper()
	for _, class := range []string{"scalebar", "north", "legend"} {
		if len(find(m, func(n *html.Node) bool { return n.Data == "g" && attr(n, "class") == class })) != 1 {
			t.Errorf("map has no %s", class)
		}
	}
	if labels := find(m, func(n *html.Node) bool { return n.Data == "text" && attr(n, "class") == "label" }); len(labels) < 10 {
		t.Errorf("map has %d labels, want one per community (≥ 10)", len(labels))
	}
}

func householdStrings(parts map[string]int64) []string {
	var out []string
	for _, h := range parts {
		out = append(out, report.Thousands(h))
	}
	return out
}

// TestAdoptedScenarioReport: once adopted, the report carries the approval
// and valid_from, and still compares with the boundaries before.
func TestAdoptedScenarioReport(t *testing.T) {
	ctx := context.Background()
	s, pl, sc := minanScenario(t)
	vf := boundaries.Today().AddDate(0, 0, 1)
	if _, err := scenario.Adopt(ctx, s, sc.ID, "东政函〔2025〕12号", vf, units.Actor{KeyName: "test"}); err != nil {
		t.Fatal(err)
	}
	doc, err := report.Scenario(ctx, s, pgtest.Runs(s), sc.ID, report.Options{Now: fixedNow, Street: beixinqiao})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := doc.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	keep(t, "scenario-adopted.html", b.Bytes())
	root := parse(t, b.Bytes())
	field := func(f string) string {
		td := find(root, func(n *html.Node) bool { return attr(n, "data-field") == f })
		if len(td) != 1 {
			t.Fatalf("%d cells %s", len(td), f)
		}
		return textOf(td[0])
	}
	if got := field("批复文号 approval"); got != "东政函〔2025〕12号" {
		t.Errorf("approval %q", got)
	}
	if got := field("生效日期 valid_from"); got != vf.Format("2006-01-02") {
		t.Errorf("valid_from %q, want %s", got, vf.Format("2006-01-02"))
	}
	text := textOf(root)
	if strings.Contains(text, "（草案）") || !strings.Contains(text, "已批复") {
		t.Errorf("an adopted scenario's report is not a draft")
	}
	for code := range minanParts(t, pl) {
		if len(find(root, func(n *html.Node) bool {
			return n.Data == "tr" && attr(n, "data-code") == code && attr(n, "data-change") != ""
		})) != 1 {
			t.Errorf("adopted report lost the change of %s", code)
		}
	}
	if _, err := report.Scenario(ctx, s, pgtest.Runs(s), sc.ID, report.Options{Street: "110101001"}); !isParam(err, "street") {
		t.Errorf("a street the scenario does not change: %v, want a QueryError on street", err)
	}
}

func TestStatusReportSmallDemo(t *testing.T) {
	ctx := context.Background()
	s := pgtest.SmallDemo(t)
	var district string
	var streets int
	if err := s.Primary().QueryRow(ctx, `SELECT parent_code, count(*) FROM units WHERE level = 'street' AND valid_to IS NULL
		GROUP BY parent_code ORDER BY count(*) DESC, parent_code LIMIT 1`).Scan(&district, &streets); err != nil {
		t.Fatal(err)
	}
	a := pgtest.Analyze(t, s, "beijing-2020")
	doc, err := report.Status(ctx, s, pgtest.Runs(s), report.Options{District: district, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := doc.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	keep(t, "status-small.html", b.Bytes())
	root := parse(t, b.Bytes())
	rows := find(root, func(n *html.Node) bool {
		return n.Data == "tr" && attr(n, "data-code") != "" && ancestorClass(n, "streets")
	})
	if len(rows) != streets {
		t.Errorf("streets table has %d rows, want %d", len(rows), streets)
	}
	// Every flagged community of the district is listed with its reasons.
	text := textOf(root)
	flagged := 0
	for _, u := range a.Units {
		if u.Level == boundaries.Community && u.Status.Flagged() && u.ParentCode != nil && strings.HasPrefix(*u.ParentCode, district) {
			flagged++
			if !strings.Contains(text, u.Code) || !strings.Contains(text, u.Name) || !strings.Contains(text, strings.Join(u.Reasons, "; ")) {
				t.Errorf("flagged %s %s (%v) not in the report", u.Code, u.Name, u.Reasons)
			}
		}
	}
	if flagged == 0 {
		t.Fatal("the small demo's largest district has no flagged community: nothing to test")
	}
	if n := len(find(root, func(n *html.Node) bool { return n.Data == "svg" && attr(n, "class") == "chart" })); n != 2 {
		t.Errorf("%d charts, want the histogram and the densities", n)
	}
	if len(find(root, func(n *html.Node) bool { return n.Data == "line" && attr(n, "class") == "threshold" })) != 2 {
		t.Errorf("the histogram lacks its two thresholds")
	}
	if _, err := report.Status(ctx, s, pgtest.Runs(s), report.Options{District: "999999"}); !isParam(err, "district") {
		t.Errorf("unknown district: %v", err)
	}
	if _, err := report.Status(ctx, s, pgtest.Runs(s), report.Options{District: district, Street: "x"}); !isParam(err, "street") {
		t.Errorf("district and street: %v", err)
	}
	checkPDF(t, ctx, b.Bytes(), "status-small", 4+streets, 7+streets, 5, []string{"社区规模现状评估", doc.Problems[0].Name})
}

// TestStatusReportBeixinqiao is the street's assessment: 民安 flagged.
func TestStatusReportBeixinqiao(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	pgtest.ImportBeixinqiao(t, s)
	doc, err := report.Status(ctx, s, pgtest.Runs(s), report.Options{Street: beixinqiao, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := doc.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	keep(t, "status-beixinqiao.html", b.Bytes())
	root := parse(t, b.Bytes())
	if len(doc.Problems) != 1 || doc.Problems[0].Code != minan || !strings.Contains(doc.Problems[0].Reason, "households 3523 > 3000") {
		t.Errorf("problems %+v, want 民安 oversized", doc.Problems)
	}
	flags := find(root, func(n *html.Node) bool {
		return n.Data == "path" && strings.Contains(attr(n, "class"), "flag") && attr(n, "data-code") != ""
	})
	if len(flags) != 1 || attr(flags[0], "data-code") != minan {
		t.Errorf("status map flags %d polygons, want 民安", len(flags))
	}
	checkPDF(t, ctx, b.Bytes(), "status-beixinqiao", 5, 7, 4, []string{"民安社区", "3,523"})
}

// TestHostileNames: names are text, never markup, in the tables and the
// SVG labels alike.
func TestHostileNames(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	const evil = `<script>alert(1)</script>"><img src=x onerror=alert(2)>`
	street := pgtest.FC(pgtest.Feature(fmt.Sprintf(`{"code":"110101001","name":%q}`, evil+"街道"), pgtest.PolyOf(pgtest.Rect(0, 0, 2, 1))))
	comm := pgtest.FC(
		pgtest.Feature(fmt.Sprintf(`{"code":"110101001001","name":%q,"hh":200}`, evil), pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1))),
		pgtest.Comm("110101001002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 5000))
	importFC(t, s, boundaries.Street, street, "")
	importFC(t, s, boundaries.Community, comm, "hh")
	doc, err := report.Status(ctx, s, pgtest.Runs(s), report.Options{Street: "110101001"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := doc.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.Bytes(), []byte("<script")) || bytes.Contains(b.Bytes(), []byte("<img")) {
		t.Fatalf("a name got into the markup:\n%s", grep(b.String(), "alert"))
	}
	root := parse(t, b.Bytes())
	labels := find(root, func(n *html.Node) bool { return n.Data == "text" && attr(n, "data-code") == "110101001001" })
	if len(labels) != 1 || !strings.Contains(textOf(labels[0]), evil) {
		t.Errorf("the SVG label does not read the name as text")
	}
	if !strings.Contains(textOf(root), evil+"街道") {
		t.Errorf("the street's name is not in the text")
	}
}

func importFC(t *testing.T, s *store.Store, level boundaries.Level, body, hhField string) {
	t.Helper()
	p := pgtest.WriteFile(t, string(level)+".geojson", body)
	if _, err := importFile(s, p, level, hhField); err != nil {
		t.Fatal(err)
	}
}

// checkPDF prints the HTML when Chromium is installed and checks the page
// count, the text, and that poppler renders page 1 and the map page.
func checkPDF(t *testing.T, ctx context.Context, doc []byte, name string, minPages, maxPages, mapPage int, want []string) {
	t.Helper()
	if !needTools(t, "pdftotext", "pdfinfo", "pdftoppm") {
		return
	}
	pdf, err := report.PDF(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, name+".pdf")
	if err := os.WriteFile(p, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	keep(t, name+".pdf", pdf)
	info := run(t, "pdfinfo", p)
	m := regexp.MustCompile(`Pages:\s+(\d+)`).FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("pdfinfo: %s", info)
	}
	pages, _ := strconv.Atoi(m[1])
	if pages < minPages || pages > maxPages {
		t.Errorf("%s: %d pages, want %d–%d", name, pages, minPages, maxPages)
	}
	text := run(t, "pdftotext", "-layout", p, "-")
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s: the PDF's text lacks %q", name, w)
		}
	}
	// The first street's maps are on mapPage, under their captions.
	if got := run(t, "pdftotext", "-f", strconv.Itoa(mapPage), "-l", strconv.Itoa(mapPage), p, "-"); !strings.Contains(got, "图 1") {
		t.Errorf("%s: page %d has no map caption: %.200q", name, mapPage, got)
	}
	for _, pg := range []int{1, mapPage} {
		out := filepath.Join(dir, fmt.Sprintf("%s-p%d", name, pg))
		run(t, "pdftoppm", "-f", strconv.Itoa(pg), "-l", strconv.Itoa(pg), "-r", "50", "-png", "-singlefile", p, out)
		png, err := os.ReadFile(out + ".png")
		if err != nil || len(png) < 5000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("%s page %d: no PNG (%d bytes): %v", name, pg, len(png), err)
		}
		keep(t, fmt.Sprintf("%s-p%d.png", name, pg), png)
	}
}

// needTools fails when a tool is missing and JIEDAO_REQUIRE_TOOLS is set,
// else skips the PDF checks.
func needTools(t *testing.T, tools ...string) bool {
	t.Helper()
	if _, err := report.Chromium(); err != nil {
		if os.Getenv("JIEDAO_REQUIRE_TOOLS") != "" || os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Logf("skipping the PDF: %v", err)
		return false
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("JIEDAO_REQUIRE_TOOLS") != "" || os.Getenv("CI") != "" {
				t.Fatalf("%s is missing: install the Debian package poppler-utils", tool)
			}
			t.Logf("skipping the PDF: %s not found (poppler-utils)", tool)
			return false
		}
	}
	return true
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
	return string(out)
}

// keep copies an artefact to $JIEDAO_REPORT_OUT when set, to look at.
func keep(t *testing.T, name string, b []byte) {
	if dir := os.Getenv("JIEDAO_REPORT_OUT"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Log(err)
		}
	}
}

func isParam(err error, param string) bool {
	qe, ok := err.(*boundaries.QueryError)
	return ok && qe.Param == param
}

func grep(s, w string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, w) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

var _ = analysis.DefaultProfile
