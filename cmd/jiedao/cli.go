package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// command is one thing jiedao does. The commands table is the only list of
// them: dispatch, `jiedao help` and `jiedao CMD --help` all read it, so no
// command can be run without being documented, nor documented without
// existing.
type command struct {
	name    string // "import", or "scenario list" for a subcommand
	summary string // one line for the command list
	usage   string // what follows "jiedao NAME" on the usage line
	arg     string // the one positional argument ("FILE", "NAME"); "" when none
	example string
	// setup registers the command's flags and returns what runs once they
	// are parsed, so help can list the flags without running anything.
	setup func(fs *flag.FlagSet) action
}

// action runs a command with its positional argument ("" when it takes
// none).
type action func(ctx context.Context, arg string, stdout, stderr io.Writer) error

var commands = []command{
	{name: "migrate", summary: "create or update the database schema (run it as the database owner)",
		example: "jiedao migrate --db postgres://owner@localhost/jiedao", setup: cmdMigrate},
	{name: "import", summary: "load district, street or community boundaries (GeoJSON, Shapefile, GeoPackage)",
		usage: "--level street|community|district [flags] FILE", arg: "FILE",
		example: "jiedao import --level street --valid-from 2024-01-01 --approval 京政函〔2024〕1号 streets.shp", setup: cmdImport},
	{name: "import-counts", summary: "join households and population onto units by code from a CSV table",
		usage: "[flags] FILE.csv", arg: "FILE.csv",
		example: "jiedao import-counts --valid-from 2024-01-01 counts.csv", setup: cmdImportCounts},
	{name: "import-points", summary: "load building points with households and population (counted by spatial join)",
		usage: "[flags] FILE", arg: "FILE",
		example: "jiedao import-points --crs gcj02 buildings.geojson", setup: cmdImportPoints},
	{name: "import-areas", summary: "load polygons with counts, shared out to units without counts by area",
		usage: "[flags] FILE", arg: "FILE",
		example: "jiedao import-areas --population-field pop census-grid.gpkg", setup: cmdImportAreas},
	{name: "import-barriers", summary: "load roads, rivers, railways and walls (the lines units are cut into blocks by)",
		usage: "[flags] FILE", arg: "FILE",
		example: "jiedao import-barriers --crs gcj02 --class-field highway roads.geojson", setup: cmdImportBarriers},
	{name: "import-tickets", summary: "dispatch and store hotline tickets from a CSV (id,time,lon,lat,category)",
		usage: "[flags] FILE.csv", arg: "FILE.csv",
		example: "jiedao import-tickets --crs gcj02 --reassignments ticket_reassignments.csv tickets.csv", setup: cmdImportTickets},
	{name: "dispatch-stats", summary: "ticket counts, ambiguity shares and the top disputed boundaries of a period",
		usage:   "[--since D] [--until D] [--by street|community] [flags]",
		example: "jiedao dispatch-stats --since 2025-01-01 --until 2026-01-01 --by community", setup: cmdDispatchStats},
	{name: "analyze", summary: "judge every unit against a policy profile (each run is stored)",
		usage: "[flags]", example: "jiedao analyze --profile national-1989 --format csv -o units.csv", setup: cmdAnalyze},
	{name: "plan", summary: "propose reassignments, merges and splits; writes nothing to the database",
		usage:   "--street CODE | --district CODE | --all [flags]",
		example: "jiedao plan --all --seed 1 --format geojson -o plan.geojson", setup: cmdPlan},
	{name: "grids generate", summary: "propose grids (网格) for communities, numbered west→east, north→south; writes nothing to the database",
		usage:   "--community CODE | --street CODE | --all [--households N] [--method blocks|cuts|auto] [--format text|json|geojson] [-o FILE]",
		example: "jiedao grids generate --street 110101005 --format geojson -o grids.geojson", setup: cmdGridsGenerate},
	{name: "grids renumber", summary: "renumber a community's grids by the numbering rule (a plan, or adopted at once with --approval)",
		usage:   "--community CODE [--approval TEXT --valid-from YYYY-MM-DD] [flags]",
		example: "jiedao grids renumber --community 110101005006 --approval 东政函〔2025〕8号 --valid-from 2025-07-01", setup: cmdGridsRenumber},
	{name: "demo", summary: "generate a synthetic city and load it",
		usage: "[flags]", example: "jiedao demo --scale beijing --seed 7", setup: cmdDemo},
	{name: "export", summary: "write a layer as GeoJSON, CSV or GeoPackage",
		usage:   "--layer districts|streets|communities|grids|zones|barriers [flags]",
		example: "jiedao export --layer communities --format gpkg -o communities.gpkg", setup: cmdExport},
	{name: "serve", summary: "serve the HTTP API, tiles, OGC API and the map",
		usage: "[flags]", example: "jiedao serve --addr 0.0.0.0:8080 --demo-if-empty", setup: cmdServe},
	{name: "scenario create", summary: "store a plan's GeoJSON as a named scenario",
		usage: "--from-plan FILE.geojson [flags] NAME", arg: "NAME",
		example: "jiedao scenario create north-2025 --from-plan plan.geojson", setup: cmdScenarioCreate},
	{name: "scenario list", summary: "list the stored scenarios, newest first",
		usage: "[flags]", example: "jiedao scenario list --json", setup: cmdScenarioList},
	{name: "scenario analyze", summary: "a scenario's analysis before and after it",
		usage: "[flags] NAME", arg: "NAME",
		example: "jiedao scenario analyze north-2025 --profile national-1989", setup: cmdScenarioAnalyze},
	{name: "scenario diff", summary: "what a scenario changes, unit by unit",
		usage: "[flags] NAME", arg: "NAME", example: "jiedao scenario diff north-2025 --json", setup: cmdScenarioDiff},
	{name: "scenario adopt", summary: "make a scenario's units the live boundaries from a day",
		usage: "--approval TEXT --valid-from YYYY-MM-DD [flags] NAME", arg: "NAME",
		example: "jiedao scenario adopt north-2025 --approval 京政函〔2025〕3号 --valid-from 2025-07-01", setup: cmdScenarioAdopt},
	{name: "report", summary: "write a scenario's adjustment proposal or the status assessment as print-ready HTML or PDF",
		usage:   "--scenario NAME|ID [--street CODE] | --status [--district CODE|--street CODE] [flags]",
		example: "jiedao report --scenario north-2025 --format pdf -o north-2025.pdf", setup: cmdReport},
	{name: "keys create", summary: "create an API key; it is printed once, only its SHA-256 is stored",
		usage:   "--role viewer|editor|admin --name TEXT",
		example: "jiedao keys create --role editor --name mapping-team", setup: cmdKeysCreate},
	{name: "keys list", summary: "list the API keys and when they were revoked",
		usage: "[flags]", example: "jiedao keys list", setup: cmdKeysList},
	{name: "keys revoke", summary: "revoke an API key by name",
		usage: "[flags] NAME", arg: "NAME", example: "jiedao keys revoke mapping-team", setup: cmdKeysRevoke},
}

// lookup finds the command args start with, trying "scenario list" as well
// as "import". When args[0] only names a group of subcommands ("scenario")
// it returns the group instead. rest is what follows the matched words.
func lookup(args []string) (c *command, group string, rest []string) {
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == commands[i].name {
			return &commands[i], "", args[len(words):]
		}
	}
	for _, c := range commands {
		if strings.HasPrefix(c.name, args[0]+" ") {
			return nil, args[0], args[1:]
		}
	}
	return nil, "", nil
}

// flags is a fresh flag set of the command, for its help.
func (c *command) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("jiedao "+c.name, flag.ContinueOnError)
	c.setup(fs)
	return fs
}

// checkArgs checks the positional arguments and returns the one argument.
func (c *command) checkArgs(pos []string) (string, error) {
	switch {
	case c.arg == "" && len(pos) > 0:
		return "", usageError{fmt.Errorf("unexpected argument %q: %s takes none", pos[0], c.name)}
	case c.arg == "":
		return "", nil
	case len(pos) != 1:
		return "", usageError{fmt.Errorf("want exactly one %s, got %d arguments", c.arg, len(pos))}
	}
	return pos[0], nil
}

// writeUsage prints the command list, or a group's subcommands.
func writeUsage(w io.Writer, group string) {
	fmt.Fprint(w, "jiedao — street and community boundaries in PostGIS\n\nUsage:\n")
	if group == "" {
		fmt.Fprint(w, "  jiedao COMMAND [flags] [ARG]\n\nCommands:\n")
	} else {
		fmt.Fprintf(w, "  jiedao %s SUBCOMMAND [flags] [ARG]\n\nCommands:\n", group)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		if group == "" || strings.HasPrefix(c.name, group+" ") {
			fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
		}
	}
	if group == "" {
		fmt.Fprintf(tw, "  help [COMMAND]\tthis list, or a command's flags, defaults and example\n")
	}
	tw.Flush()
	fmt.Fprint(w, "\nEvery command takes --db URL (default $DATABASE_URL). Flags may come before or after the argument.\n"+
		"Run `jiedao COMMAND --help` (or `jiedao help COMMAND`) for its flags, their defaults and an example.\n")
}

// writeHelp prints a command's usage line, every flag with its default,
// and an example.
func writeHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage:\n  jiedao %s %s\n\n%s.\n\nFlags:\n", c.name, c.usage, strings.ToUpper(c.summary[:1])+c.summary[1:])
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		placeholder, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(tw, "  %s %s\t%s%s\n", flagName(f.Name), placeholder, usage, defaultText(f, usage))
	})
	tw.Flush()
	fmt.Fprintf(w, "\nExample:\n  %s\n", c.example)
}

// flagName spells a flag as the README does: -o, --level.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// defaultText says a flag's default unless its usage already does or the
// flag is required. Defaults taken from the environment say so in their
// usage rather than show the value of the machine running help.
func defaultText(f *flag.Flag, usage string) string {
	switch {
	case strings.Contains(usage, "(default") || strings.Contains(usage, "(required"):
		return ""
	case f.DefValue == "":
		return " (default none)"
	}
	return fmt.Sprintf(" (default %s)", f.DefValue)
}
