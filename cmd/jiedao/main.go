// Command jiedao keeps street (街道) and community (社区) boundaries in
// PostGIS and measures them against policy profiles. This file is wiring
// and flags only; the work is in the boundaries and web packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `jiedao — street and community boundaries in PostGIS

Usage:
  jiedao migrate
  jiedao import --level street|community|district [--crs wgs84|cgcs2000|gcj02|bd09|EPSG:<n>]
                [--code-field F] [--name-field F] [--parent-field F] [--households-field F]
                [--population-field F] [--kind-field F] [--valid-from YYYY-MM-DD] [--approval TEXT]
                [--provisional-codes] [--allow-orphans] [--encoding GBK] [--dry-run]
                [--max-features N] [--max-vertices N] [--json] FILE
  jiedao import-counts [--code-field F] [--households-field F] [--population-field F] [--valid-from D] FILE.csv
  jiedao import-points [--crs …] [--households-field F] [--population-field F] [--append] FILE
  jiedao import-areas [--crs …] [--households-field F] [--population-field F] [--append] FILE
  jiedao analyze [--profile beijing-2020|national-1989|FILE] [--at YYYY-MM-DD] [--format text|json|csv|geojson] [-o FILE]
  jiedao demo [--seed N] [--scale small|beijing|national] [--out DIR] [--no-load]
  jiedao export --layer districts|streets|communities|zones [--profile P] [--format geojson|csv|gpkg] [--at YYYY-MM-DD] [--wkt] [-o FILE]
  jiedao serve [--addr HOST:PORT] [--demo-if-empty]
  jiedao scenario create NAME --from-plan FILE.geojson | analyze NAME | diff NAME | adopt NAME --approval TEXT --valid-from D
  jiedao keys create --role viewer|editor|admin --name TEXT | jiedao keys list | jiedao keys revoke NAME

Every command takes --db URL (default $DATABASE_URL).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code; tests call
// it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"migrate":       cmdMigrate,
		"import":        cmdImport,
		"import-counts": cmdImportCounts,
		"import-points": cmdImportPoints,
		"import-areas":  cmdImportAreas,
		"analyze":       cmdAnalyze,
		"demo":          cmdDemo,
		"export":        cmdExport,
		"serve":         cmdServe,
		"keys":          cmdKeys,
		"plan":          cmdPlan,
		"scenario":      cmdScenario,
	}
	f, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "jiedao: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := f(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "jiedao %s: %v\n", args[0], err)
			return 2
		}
		fmt.Fprintf(stderr, "jiedao %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

type usageError struct{ error }

// parse parses flags that may come before or after positional arguments
// (`jiedao import FILE --level street` and `jiedao import --level street FILE`).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// dbFlag registers --db on a flag set.
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", os.Getenv("DATABASE_URL"), "PostGIS connection URL (default $DATABASE_URL)")
}

func needDB(url string) error {
	if strings.TrimSpace(url) == "" {
		return usageError{errors.New("no database: set DATABASE_URL or pass --db (make run starts a private PostGIS)")}
	}
	return nil
}
