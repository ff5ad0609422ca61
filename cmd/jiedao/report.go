package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/report"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/store"
)

// reportFlags are jiedao report's flags.
type reportFlags struct {
	db, scenario, street, district, at, profile, format, out *string
	status                                                   *bool
}

// cmdReport writes a scenario's adjustment proposal or the status
// assessment as print-ready HTML or PDF.
func cmdReport(fs *flag.FlagSet) action {
	f := reportFlags{db: dbFlag(fs),
		scenario: fs.String("scenario", "", "the adjustment proposal (调整方案) of a scenario, by `NAME` or id"),
		status:   fs.Bool("status", false, "the status assessment (现状评估) of the live boundaries"),
		street:   fs.String("street", "", "only this street, by its `CODE`"),
		district: fs.String("district", "", "--status: the streets of a district, by its `CODE` (default all streets)"),
		at:       fs.String("at", "", "boundaries valid on this day, `YYYY-MM-DD` (default today; an adopted scenario: the day before it took effect)"),
		profile:  fs.String("profile", "", "beijing-2020, national-1989 or a JSON file (default: the scenario's, else beijing-2020)"),
		format:   fs.String("format", "", "html or pdf (PDF needs the Debian package chromium) (default: from -o's extension, else html)"),
		out:      fs.String("o", "", "output `FILE` (default stdout)"),
	}
	return func(ctx context.Context, _ string, stdout, _ io.Writer) error {
		return runReport(ctx, f, stdout)
	}
}

func runReport(ctx context.Context, f reportFlags, stdout io.Writer) error {
	if (*f.scenario == "") == !*f.status {
		return usageError{errors.New("report needs --scenario NAME|ID or --status (one of them)")}
	}
	if *f.scenario != "" && *f.district != "" {
		return usageError{errors.New("--district goes with --status; a scenario report covers the streets it changes (--street picks one)")}
	}
	format := *f.format
	if format == "" {
		format = report.FormatHTML
		if strings.EqualFold(filepath.Ext(*f.out), ".pdf") {
			format = report.FormatPDF
		}
	}
	if format != report.FormatHTML && format != report.FormatPDF {
		return usageError{fmt.Errorf("--format %q: want html or pdf", format)}
	}
	opt := report.Options{Street: *f.street, District: *f.district}
	var err error
	if opt.At, err = dateFlag(*f.at); err != nil {
		return err
	}
	if *f.profile != "" {
		if opt.Profile, err = analysis.LoadProfile(*f.profile); err != nil {
			return usageError{err}
		}
	}
	if format == report.FormatPDF {
		if _, err := report.Chromium(); err != nil {
			return err // before the analysis, which may take a while
		}
	}
	return withStore(ctx, *f.db, func(s *store.Store) error {
		runs := analysis.NewRuns(s)
		var doc *report.Document
		if *f.status {
			doc, err = report.Status(ctx, s, runs, opt)
		} else {
			var id int64
			if id, err = scenarioID(ctx, s, *f.scenario); err == nil {
				doc, err = report.Scenario(ctx, s, runs, id, opt)
			}
		}
		if err != nil {
			return reportError(err)
		}
		b, err := doc.Render(ctx, format)
		if err != nil {
			return err
		}
		return writeOut(*f.out, stdout, func(w io.Writer) error {
			_, err := w.Write(b)
			return err
		})
	})
}

// scenarioID finds a scenario by name, else by id.
func scenarioID(ctx context.Context, s *store.Store, nameOrID string) (int64, error) {
	id, err := scenario.ID(ctx, s, nameOrID)
	if errors.Is(err, boundaries.ErrNotFound) {
		if n, perr := strconv.ParseInt(nameOrID, 10, 64); perr == nil && n > 0 {
			if _, gerr := scenario.Get(ctx, s, n); gerr == nil {
				return n, nil
			}
		}
	}
	return id, err
}

// reportError names the flag a bad parameter came from.
func reportError(err error) error {
	var qe *boundaries.QueryError
	if errors.As(err, &qe) {
		return usageError{fmt.Errorf("--%s: %w", qe.Param, qe.Err)}
	}
	return err
}
