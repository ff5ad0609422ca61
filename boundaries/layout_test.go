package boundaries_test

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The package graph of the design (ARCHITECTURE.md), as data: for each
// package of the module (short names: "boundaries/plan" is "plan"), the
// module packages its non-test code may import. Every package may also use
// store, geo and the shared vocabulary (boundaries); the format helpers
// (layerfile, cql2, demo) are listed where they are used.
var allowed = map[string][]string{
	"cmd/jiedao":                  {"web", "layers", "scenario", "plan", "importer", "lookup", "analysis", "units", "demo", "data", "report", "dispatch", "grids"},
	"web":                         {"layers", "scenario", "plan", "importer", "lookup", "analysis", "units", "web/tiles", "web/ogc", "web/param", "web/mapui", "web/reports", "web/dispatch"},
	"web/tiles":                   {"layers", "analysis", "web/param"},
	"web/ogc":                     {"layers", "analysis", "web/param"},
	"web/param":                   {"analysis"},
	"web/mapui":                   {"layers", "scenario", "units", "analysis", "web/param", "web/tiles"},
	"web/dispatch":                {"dispatch", "lookup", "units", "web/param"},
	"web/reports":                 {"report", "analysis", "web/param"},
	"boundaries/report":           {"scenario", "analysis"},
	"boundaries/layers":           {"scenario", "analysis", "units", "cql2", "layerfile", "dispatch"},
	"boundaries/scenario":         {"analysis", "units", "grids"},
	"boundaries/grids":            {"plan", "blocks", "analysis", "units"},
	"boundaries/plan":             {"analysis", "partition", "blocks", "units", "dispatch"},
	"boundaries/importer":         {"units", "layerfile", "demo"},
	"boundaries/lookup":           {"units"},
	"boundaries/dispatch":         {"lookup", "units"},
	"boundaries/blocks":           {},
	"boundaries/analysis":         {"units", "data"},
	"boundaries/units":            {},
	"boundaries/store":            {"data"},
	"boundaries/partition":        {},
	"boundaries/layerfile":        {},
	"boundaries/cql2":             {},
	"boundaries/demo":             {},
	"boundaries":                  {},
	"geo":                         {},
	"data":                        {},
	"boundaries/pgtest/pgcluster": {},                                                                                                             // test support: a primary and a standby
	"boundaries/pgtest":           {"store", "units", "importer", "analysis", "layers", "plan", "scenario", "demo", "data", "dispatch", "lookup"}, // test support
}

// everyone may import these (but not themselves, and geo imports nothing
// of the module).
var shared = []string{"store", "geo", "boundaries"}

// pure packages import no database or HTTP package, even indirectly.
var pure = []string{"geo", "boundaries/partition", "boundaries"}

const module = "github.com/jiedao/jiedao/"

// short names a module package: "boundaries/plan" → "plan", "geo" → "geo".
func short(p string) string {
	p = strings.TrimPrefix(p, module)
	if b, ok := strings.CutPrefix(p, "boundaries/"); ok {
		return b
	}
	return p
}

func goList(t *testing.T, format string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", format, "./...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// importRule says why pkg may not import imp ("" when it may).
func importRule(pkg, imp string) string {
	rel := strings.TrimPrefix(pkg, module)
	ok, known := allowed[rel]
	if !known {
		return "package " + rel + " has no row in the allowed graph (add it to layout_test.go and ARCHITECTURE.md)"
	}
	s := short(imp)
	if slices.Contains(pure, rel) && s == "store" {
		return rel + " is pure: it may not import store"
	}
	if strings.HasPrefix(imp, module) && s != short(pkg) {
		if slices.Contains(ok, s) || (slices.Contains(shared, s) && rel != "geo" && rel != "boundaries" && !(rel == "boundaries/store" && s == "store")) {
			return ""
		}
		return rel + " → " + s + " is not an arrow of the design"
	}
	if (rel == "web" || strings.HasPrefix(rel, "web/")) && strings.HasPrefix(imp, "github.com/jackc/") {
		return "web imports " + imp + ": HTTP only, no database driver"
	}
	return ""
}

func TestImportGraph(t *testing.T) {
	for _, line := range goList(t, `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`) {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			if why := importRule(f[0], imp); why != "" {
				t.Error(why)
			}
		}
	}
	for _, line := range goList(t, `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`) {
		f := strings.Fields(line)
		if !slices.Contains(pure, strings.TrimPrefix(f[0], module)) {
			continue
		}
		for _, dep := range f[1:] {
			if strings.HasPrefix(dep, "github.com/jackc/") || strings.HasPrefix(dep, "net/http") || strings.Contains(dep, "labstack/echo") ||
				strings.HasPrefix(dep, "database/sql") || strings.Contains(dep, "sqlite") {
				t.Errorf("%s is pure but depends on %s", strings.TrimPrefix(f[0], module), dep)
			}
		}
	}
}

// TestImportRuleCatchesForbiddenArrows shows the rule fails on arrows the
// design forbids.
func TestImportRuleCatchesForbiddenArrows(t *testing.T) {
	for _, c := range [][2]string{
		{"boundaries/analysis", "boundaries/scenario"}, // the analysis takes its units as input
		{"boundaries/units", "boundaries/analysis"},    // units know nothing of judgements
		{"boundaries/scenario", "boundaries/plan"},     // a scenario reads the plan's document, not its package
		{"boundaries/lookup", "boundaries/analysis"},
		{"geo", "boundaries/store"},
		{"boundaries/partition", "boundaries/store"},
		{"web", "github.com/jackc/pgx/v5"},
		{"web/tiles", "github.com/jackc/pgx/v5/pgxpool"},
		{"web/param", "web/ogc"},
		{"boundaries/newjob", "boundaries/units"}, // a new package needs its row
	} {
		if importRule(module+c[0], strings.Replace(module+c[1], module+"github.com", "github.com", 1)) == "" {
			t.Errorf("%s → %s passes the rule, want refused", c[0], c[1])
		}
	}
	if why := importRule(module+"boundaries/layers", module+"boundaries/scenario"); why != "" {
		t.Errorf("layers → scenario refused: %s", why)
	}
}

// goFiles lists the non-test Go files below dir.
func goFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != dir {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var sqlText = regexp.MustCompile(`(?i)\b(SELECT\s.+\sFROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|CREATE\s+(TEMP\s+)?TABLE)\b`)

// TestNoSQLInWebOrCmd: SQL lives in the feature packages and store.
func TestNoSQLInWebOrCmd(t *testing.T) {
	for _, dir := range []string{"../web", "../cmd"} {
		for _, p := range goFiles(t, dir) {
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && sqlText.MatchString(lit.Value) {
					t.Errorf("%s: SQL text %.60s", p, lit.Value)
				}
				return true
			})
		}
	}
}

// ceilings are packages allowed over the size rule (~3,000 lines), at most
// this many non-test lines, until they are split. The demo generator grew
// grids and tickets over its lattice city; its parts share the city's
// internal layout, so it is one package for now.
// The planner took hotline disputes as a reason (plan/disputes.go) at
// 2,979 lines; its zone repairs (reassign.go, disputes.go) are the part to
// split out next.
var ceilings = map[string]int{"../boundaries/demo": 4000, "../boundaries/plan": 3300}

// TestSizes: no package over ~3,000 non-test lines, no function over ~100
// lines, except the CQL2 lexer and expression compiler (switch tables).
func TestSizes(t *testing.T) {
	lines := map[string]int{}
	fset := token.NewFileSet()
	for _, p := range goFiles(t, "..") {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines[filepath.Dir(p)] += bytes.Count(b, []byte("\n"))
		f, err := parser.ParseFile(fset, p, b, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
			if n > 100 && !(strings.HasSuffix(filepath.Dir(p), "cql2") && (fd.Name.Name == "lex" || fd.Name.Name == "expr")) {
				t.Errorf("%s: func %s is %d lines (want ≤ 100: name its steps)", p, fd.Name.Name, n)
			}
		}
	}
	for dir, n := range lines {
		limit := 3000
		if c, ok := ceilings[dir]; ok {
			limit = c
		}
		if n > limit {
			t.Errorf("package %s has %d non-test lines, over %d", dir, n, limit)
		}
	}
}
