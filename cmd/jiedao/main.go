// Command jiedao keeps street (街道) and community (社区) boundaries in
// PostGIS and measures them against policy profiles. This file is wiring
// and flags only; the commands are listed in cli.go and the work is in the
// boundaries and web packages.
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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code: 0, 1 when
// the command failed, 2 when it was called wrongly. Tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if len(args) == 0 {
		writeUsage(stderr, "")
		return 2
	}
	if args[0] == "help" || isHelpFlag(args[0]) {
		return help(args[1:], stdout, stderr)
	}
	c, group, rest := lookup(args)
	switch {
	case c != nil:
		return runCommand(ctx, c, rest, stdout, stderr)
	case group != "" && len(rest) > 0 && isHelpFlag(rest[0]):
		writeUsage(stdout, group)
		return 0
	case group != "" && len(rest) == 0:
		fmt.Fprintf(stderr, "jiedao %s: want a subcommand\n\n", group)
		writeUsage(stderr, group)
		return 2
	}
	name := args[0]
	if group != "" {
		name += " " + rest[0]
	}
	fmt.Fprintf(stderr, "jiedao: unknown command %q\n\n", name)
	writeUsage(stderr, group)
	return 2
}

// help answers `jiedao help [COMMAND]`: the command list, a group's
// subcommands or one command's help, on stdout.
func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeUsage(stdout, "")
		return 0
	}
	c, group, rest := lookup(args)
	switch {
	case c != nil && len(rest) == 0:
		writeHelp(stdout, c, c.flags())
		return 0
	case c == nil && group != "" && len(rest) == 0:
		writeUsage(stdout, group)
		return 0
	}
	fmt.Fprintf(stderr, "jiedao help: unknown command %q\n\n", strings.Join(args, " "))
	writeUsage(stderr, "")
	return 2
}

// runCommand parses a command's flags and runs it. A usage error prints
// the command's help to stderr so the caller sees what was wanted.
func runCommand(ctx context.Context, c *command, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("jiedao "+c.name, flag.ContinueOnError)
	act := c.setup(fs)
	pos, err := parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		writeHelp(stdout, c, fs)
		return 0
	}
	var arg string
	if err == nil {
		arg, err = c.checkArgs(pos)
	}
	if err == nil {
		err = act(ctx, arg, stdout, stderr)
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "jiedao %s: %v\n", c.name, err)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr)
		writeHelp(stderr, c, fs)
		return 2
	}
	return 1
}

func isHelpFlag(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// usageError is a command called wrongly (exit 2), not one that failed.
type usageError struct{ error }

// parse parses flags that may come before or after positional arguments
// (`jiedao import FILE --level street` and `jiedao import --level street FILE`).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard) // run prints the errors and the help itself
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

// dbFlag registers --db on a flag set. Its default stays empty and
// openStore falls back to $DATABASE_URL, so help never prints a URL with
// its password.
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", "", "PostGIS connection `URL` (default $DATABASE_URL)")
}

// needDB resolves --db against $DATABASE_URL.
func needDB(url string) (string, error) {
	if strings.TrimSpace(url) == "" {
		url = os.Getenv("DATABASE_URL")
	}
	if strings.TrimSpace(url) == "" {
		return "", usageError{errors.New("no database: set DATABASE_URL or pass --db (make run starts a private PostGIS)")}
	}
	return url, nil
}
