package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cli runs jiedao with args (no --db added) and returns the exit code,
// stdout and stderr.
func cli(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// listed says whether a command list shows name as an entry of its own
// (not just a word in some summary).
func listed(list, name string) bool {
	return regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + `  `).MatchString(list)
}

// TestCommandHelp: every way of asking for a command's help prints, on
// stdout with exit 0, its usage line, every flag it parses and an example.
func TestCommandHelp(t *testing.T) {
	for _, c := range commands {
		words := strings.Fields(c.name)
		for _, args := range [][]string{
			append(words[:len(words):len(words)], "--help"),
			append(words[:len(words):len(words)], "-h"),
			append([]string{"help"}, words...),
		} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				code, out, errs := cli(args...)
				if code != 0 || errs != "" {
					t.Fatalf("exit %d, want 0; stderr %q", code, errs)
				}
				want := []string{"Usage:", "jiedao " + c.name + " " + c.usage, "Example:", c.example}
				c.flags().VisitAll(func(f *flag.Flag) { want = append(want, flagName(f.Name)+" ") })
				for _, w := range want {
					if !strings.Contains(out, w) {
						t.Errorf("help lacks %q:\n%s", w, out)
					}
				}
			})
		}
	}
}

// TestCommandList: the top-level help lists every command of the table,
// plan and scenario list among them, and each group its subcommands.
func TestCommandList(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out, errs := cli(args...)
		if code != 0 || errs != "" {
			t.Fatalf("jiedao %s: exit %d, want 0; stderr %q", args[0], code, errs)
		}
		for _, c := range commands {
			if !listed(out, c.name) {
				t.Errorf("jiedao %s does not list %q:\n%s", args[0], c.name, out)
			}
		}
		for _, name := range []string{"plan", "scenario list", "help [COMMAND]"} {
			if !listed(out, name) {
				t.Errorf("jiedao %s does not list %q", args[0], name)
			}
		}
	}
	for _, group := range []string{"scenario", "keys"} {
		for _, args := range [][]string{{group, "--help"}, {"help", group}} {
			code, out, _ := cli(args...)
			if code != 0 {
				t.Errorf("jiedao %s: exit %d, want 0", strings.Join(args, " "), code)
			}
			for _, c := range commands {
				if strings.HasPrefix(c.name, group+" ") != listed(out, c.name) {
					t.Errorf("jiedao %s: %q listed %v\n%s", strings.Join(args, " "), c.name, listed(out, c.name), out)
				}
			}
		}
	}
}

// TestUsageErrors: a wrong call exits 2 with the error and the usage on
// stderr and nothing on stdout, before any database is opened.
func TestUsageErrors(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	for _, tc := range []struct {
		args []string
		want string // in stderr, besides "Usage:"
	}{
		{nil, "jiedao COMMAND"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"scenario"}, "want a subcommand"},
		{[]string{"scenario", "bogus"}, `unknown command "scenario bogus"`},
		{[]string{"keys"}, "keys create"},
		{[]string{"help", "bogus"}, `unknown command "bogus"`},
		{[]string{"migrate", "--bogus"}, "flag provided but not defined"},
		{[]string{"migrate"}, "no database"},
		{[]string{"import"}, "want exactly one FILE"},
		{[]string{"import", "a.geojson"}, "missing --level"},
		{[]string{"import", "a.geojson", "b.geojson", "--level", "street"}, "want exactly one FILE"},
		{[]string{"import", "a.geojson", "--level", "nowhere"}, "unknown level"},
		{[]string{"import", "a.geojson", "--level", "street", "--max-features", "many"}, "invalid value"},
		{[]string{"import-counts", "a.csv", "--valid-from", "yesterday"}, "--valid-from"},
		{[]string{"import-points"}, "want exactly one FILE"},
		{[]string{"import-areas", "a.gpkg", "--crs", "nowhere"}, "Usage:"},
		{[]string{"analyze", "extra"}, "takes none"},
		{[]string{"analyze", "--format", "xml"}, "unknown format"},
		{[]string{"plan"}, "choose one of"},
		{[]string{"plan", "--all", "--street", "110101001"}, "choose one of"},
		{[]string{"demo", "--seed", "abc"}, "invalid value"},
		{[]string{"demo", "--scale", "huge"}, "unknown scale"},
		{[]string{"export"}, "unknown layer"},
		{[]string{"export", "--layer", "streets", "--format", "gpkg"}, "needs -o FILE"},
		{[]string{"serve", "--demo-if-empty=maybe"}, "invalid boolean"},
		{[]string{"scenario", "create"}, "want exactly one NAME"},
		{[]string{"scenario", "create", "x"}, "--from-plan"},
		{[]string{"scenario", "list", "--profile", "x"}, "flag provided but not defined"},
		{[]string{"scenario", "adopt", "x"}, "--approval"},
		{[]string{"keys", "create", "--role", "god", "--name", "x"}, "unknown role"},
		{[]string{"keys", "create", "--role", "viewer"}, "missing --name"},
		{[]string{"keys", "revoke"}, "want exactly one NAME"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := cli(tc.args...)
			if code != 2 || out != "" {
				t.Fatalf("exit %d, want 2; stdout %q; stderr:\n%s", code, out, errs)
			}
			for _, w := range []string{"Usage:", tc.want} {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}

// TestHelpHidesDatabaseURL: help describes --db's default, never shows the
// URL (and its password) of the machine it runs on.
func TestHelpHidesDatabaseURL(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://u:secret@db/x")
	if _, out, _ := cli("migrate", "--help"); strings.Contains(out, "secret") {
		t.Fatalf("help shows $DATABASE_URL:\n%s", out)
	}
}

// TestCommandTable: the table is what help and dispatch read, so it must be
// whole: unique names, every field set, examples that run the command.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands {
		if seen[c.name] {
			t.Errorf("%q twice", c.name)
		}
		seen[c.name] = true
		if c.summary == "" || c.example == "" || c.setup == nil {
			t.Errorf("%q lacks a summary, example or setup", c.name)
		}
		if !strings.HasPrefix(c.example, "jiedao "+c.name) || (c.arg != "" && !strings.HasSuffix(c.usage, c.arg)) {
			t.Errorf("%q: example %q or usage %q does not match the command", c.name, c.example, c.usage)
		}
	}
	for _, name := range []string{"migrate", "import", "import-counts", "import-points", "import-areas", "analyze", "plan", "demo",
		"export", "serve", "scenario create", "scenario list", "scenario analyze", "scenario diff", "scenario adopt",
		"keys create", "keys list", "keys revoke"} {
		if !seen[name] {
			t.Errorf("command %q is missing from the table", name)
		}
	}
}

// TestREADMEListsCommands keeps the README's CLI section in step with the
// table.
func TestREADMEListsCommands(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skipf("README: %v", err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## CLI\n")
	if !ok {
		t.Fatal("README has no ## CLI section")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	for _, c := range commands {
		if !strings.Contains(sec, "jiedao "+c.name+" ") && !strings.Contains(sec, "jiedao "+c.name+"\n") {
			t.Errorf("README's CLI section does not show jiedao %s", c.name)
		}
	}
	if !strings.Contains(sec, "jiedao CMD --help") {
		t.Error("README's CLI section does not mention jiedao CMD --help")
	}
}

// TestBinaryExitCodes runs the built binary: the exit codes are the
// process's, not only run's.
func TestBinaryExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "jiedao")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args     []string
		code     int
		inStdout bool // the usage goes to stdout, else to stderr
	}{
		{[]string{"import", "--help"}, 0, true},
		{[]string{"scenario", "list", "-h"}, 0, true},
		{[]string{"help"}, 0, true},
		{nil, 2, false},
		{[]string{"bogus"}, 2, false},
	} {
		var out, errb bytes.Buffer
		cmd := exec.Command(bin, tc.args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		usage := errb.String()
		if tc.inStdout {
			usage = out.String()
		}
		if code != tc.code || !strings.Contains(usage, "Usage:") {
			t.Errorf("jiedao %s: exit %d, want %d; stdout %q; stderr %q", strings.Join(tc.args, " "), code, tc.code, out.String(), errb.String())
		}
	}
}
