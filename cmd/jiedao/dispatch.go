package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/dispatch"
	locator "github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// cmdImportTickets dispatches and stores a CSV of tickets (all or nothing),
// then applies a reassignment file when one is given.
func cmdImportTickets(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	crs := fs.String("crs", "wgs84", "CRS of lon/lat: wgs84, cgcs2000, gcj02 or bd09")
	atFlag := fs.String("at", "", "dispatch against the boundaries valid on this day, `YYYY-MM-DD` (default today)")
	nearM := fs.Float64("near-m", dispatch.DefaultNearM, "near_boundary distance in metres")
	reassign := fs.String("reassignments", "", "a CSV `FILE` ticket,to,reason applied after the import (as the demo writes)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return func(ctx context.Context, file string, stdout, stderr io.Writer) error {
		c, err := dispatch.ParseCRS(*crs)
		if err != nil {
			return usageError{err}
		}
		at, err := dateFlag(*atFlag)
		if err != nil {
			return err
		}
		return withStore(ctx, *db, func(s *store.Store) error {
			bar := newProgress(stderr, "import "+filepath.Base(file))
			rep, err := dispatch.ImportFile(ctx, s, locator.New(s), file, dispatch.ImportOptions{CRS: c, At: at,
				Options: dispatch.Options{NearM: *nearM}, Progress: bar.Set})
			bar.Done()
			if err != nil {
				return err
			}
			n := 0
			if *reassign != "" {
				if n, err = dispatch.ImportReassignments(ctx, s, units.Actor{KeyName: "cli"}, *reassign); err != nil {
					return err
				}
			}
			if *asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"import": rep, "reassigned": n})
			}
			fmt.Fprintf(stdout, "import %s: %d rows, %d stored, %d already stored (%.2fs)\n", rep.File, rep.Rows, rep.Stored, rep.AlreadyStored, rep.Seconds)
			fmt.Fprintf(stdout, "  ambiguity: %s\n", shares(rep.Ambiguity, rep.Rows))
			if *reassign != "" {
				fmt.Fprintf(stdout, "  %d reassignments applied from %s\n", n, *reassign)
			}
			return nil
		})
	}
}

// shares prints counts by ambiguity in rule order, with their shares.
func shares(m map[dispatch.Ambiguity]int, total int) string {
	var parts []string
	for _, a := range dispatch.Ambiguities {
		if n := m[a]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d (%.1f%%)", a, n, 100*float64(n)/float64(max(total, 1))))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// cmdDispatchStats prints ticket counts, ambiguity shares and the top
// disputed boundaries of a period.
func cmdDispatchStats(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	since := fs.String("since", "", "first day `D` (YYYY-MM-DD, or RFC 3339; default the first ticket's)")
	until := fs.String("until", "", "end `D`, exclusive (default the day after the last ticket's)")
	by := fs.String("by", "street", "street or community")
	top := fs.Int("top", 10, "disputed places to list")
	limit := fs.Int("units", 20, "units to list, most tickets first (0: all)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return func(ctx context.Context, _ string, stdout, stderr io.Writer) error {
		p, err := dispatch.ParsePeriod(*since, *until)
		if err != nil {
			return usageError{err}
		}
		level, err := boundaries.ParseLevel(*by)
		if err != nil {
			return usageError{err}
		}
		return withStore(ctx, *db, func(s *store.Store) error {
			rep, err := dispatch.Stats(ctx, s, p, level, *top)
			if err != nil {
				return err
			}
			if *asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printStats(stdout, rep, *limit)
			return nil
		})
	}
}

func printStats(w io.Writer, rep *dispatch.StatsReport, limit int) {
	if rep.Tickets == 0 {
		fmt.Fprintln(w, "no tickets in the period")
		return
	}
	fmt.Fprintf(w, "tickets %s – %s: %d, reassigned %d (%.1f%%)\n", rep.Since.Format("2006-01-02"), rep.Until.Format("2006-01-02"),
		rep.Tickets, rep.Reassigned, 100*float64(rep.Reassigned)/float64(rep.Tickets))
	fmt.Fprintf(w, "ambiguity: %s\n\n", shares(rep.Ambiguity, rep.Tickets))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tname\ttickets\treassigned\tambiguous\n", rep.By)
	for i, u := range rep.Units {
		if limit > 0 && i == limit {
			fmt.Fprintf(tw, "… %d more\t\t\t\t\n", len(rep.Units)-limit)
			break
		}
		code := u.Code
		if code == "" {
			code = "(none)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f%%\n", code, u.Name, u.Tickets, u.Reassigned,
			100*float64(u.Tickets-u.Ambiguity[dispatch.Clear])/float64(u.Tickets))
	}
	tw.Flush()
	if len(rep.Disputed) == 0 {
		return
	}
	fmt.Fprintln(w, "\ntop disputed places:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "tickets\tkind\tunits\tstreets\tat")
	for _, s := range rep.Disputed {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.5f,%.5f\n", s.Tickets, s.Kind, strings.Join(s.Codes, " "), strings.Join(s.Streets, " "), s.Lon, s.Lat)
	}
	tw.Flush()
}
