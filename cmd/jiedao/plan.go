package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/plan"
)

// cmdPlan proposes reassignments, merges and splits for a street, a
// district or the whole city. It writes nothing to the database.
func cmdPlan(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	profile := fs.String("profile", analysis.DefaultProfile, "beijing-2020, national-1989 or a profile JSON file")
	var opt plan.Options
	fs.StringVar(&opt.Street, "street", "", "plan one street, by its `CODE`")
	fs.StringVar(&opt.District, "district", "", "plan the streets of a district, by its `CODE`")
	fs.BoolVar(&opt.All, "all", false, "plan every street")
	fs.Int64Var(&opt.Seed, "seed", 1, "seed for provisional codes of split parts (same seed, same plan)")
	fs.StringVar(&opt.Method, "method", plan.SplitAuto, "how to split oversized communities: blocks (along roads, rivers, railways; needs import-barriers), cuts (straight cuts between building points) or auto (blocks where barriers are loaded, else cuts)")
	fs.StringVar(&opt.Rebalance, "rebalance", "", "street: re-partition each street with a community out of range from its blocks, keeping households in their community where possible, instead of merges and splits")
	atFlag := fs.String("at", "", "plan from the boundaries valid on this day, `YYYY-MM-DD` (default today)")
	format := fs.String("format", "text", "text, json or geojson (the resulting units)")
	out := fs.String("o", "", "output `FILE` (default stdout)")
	return func(ctx context.Context, _ string, stdout, _ io.Writer) error {
		if err := checkPlanFlags(opt, *format); err != nil {
			return err
		}
		p, err := analysis.LoadProfile(*profile)
		if err != nil {
			return usageError{err}
		}
		if opt.At, err = dateFlag(*atFlag); err != nil {
			return err
		}
		s, err := openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer s.Close()
		pl, err := plan.Propose(ctx, s, p, opt)
		if err != nil {
			return err
		}
		return writeOut(*out, stdout, func(w io.Writer) error {
			switch *format {
			case "json":
				enc := json.NewEncoder(w)
				enc.SetIndent("", " ")
				return enc.Encode(pl)
			case "geojson":
				return plan.WriteGeoJSON(w, pl)
			}
			return writePlanText(w, pl)
		})
	}
}

// checkPlanFlags refuses a plan of no scope or of several, and an unknown
// format, before the database is opened.
func checkPlanFlags(opt plan.Options, format string) error {
	n := 0
	for _, set := range []bool{opt.Street != "", opt.District != "", opt.All} {
		if set {
			n++
		}
	}
	if n != 1 {
		return usageError{errors.New("choose one of --street CODE, --district CODE or --all")}
	}
	if !slices.Contains(plan.SplitChoices, opt.Method) {
		return usageError{fmt.Errorf("unknown --method %q (want %s)", opt.Method, strings.Join(plan.SplitChoices, ", "))}
	}
	if opt.Rebalance != "" && opt.Rebalance != plan.RebalanceStreet {
		return usageError{fmt.Errorf("unknown --rebalance %q (want street)", opt.Rebalance)}
	}
	switch format {
	case "text", "json", "geojson":
		return nil
	}
	return usageError{fmt.Errorf("unknown format %q (want text, json or geojson)", format)}
}

func writePlanText(w io.Writer, pl *plan.Plan) error {
	fmt.Fprintf(w, "Plan for %s on %s under %s (seed %d, method %s)\n", pl.Scope, pl.At, pl.Profile, pl.Seed, pl.Method)
	if pl.MethodNote != "" {
		fmt.Fprintf(w, "Note: %s\n", pl.MethodNote)
	}
	fmt.Fprintf(w, "Order: %s\n\n", pl.Order)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\top\tfrom\tto\thouseholds moved\tarea m²\tnote")
	for _, op := range pl.Ops {
		note := op.Note
		if op.Method != "" {
			note = op.Method + "; " + note
		}
		if op.Zone != "" {
			note = op.Zone + ": " + note
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%.0f\t%s\n", op.Seq, op.Kind, strings.Join(op.From, " "), strings.Join(op.To, " "),
			op.HouseholdsMoved, op.AreaM2, note)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nResulting units (%d changed, %d households moved)\n", pl.UnitsChanged, pl.HouseholdsMoved)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "code\tstreet\top\thouseholds\tpopulation\tdeviation\tPolsby-Popper\thull ratio\tstatus")
	num := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	for _, u := range pl.Units {
		dev := "-"
		if u.Deviation != nil {
			dev = fmt.Sprintf("%+.0f%%", *u.Deviation*100)
		}
		code := u.Code
		if u.Provisional {
			code += " (provisional)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t%s\n", code, u.Street, u.Op, num(u.Households), num(u.Population), dev,
			u.PolsbyPopper, u.HullRatio, u.Status)
	}
	tw.Flush()
	zones := func(m map[string]int) string {
		var parts []string
		for _, k := range []string{"crosses_parent", "overlap", "gap", "noncontiguous", "orphan"} {
			if m[k] > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
			}
		}
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, ", ")
	}
	fmt.Fprintf(w, "\nBefore: %d undersized, %d oversized; zones: %s\n", pl.Before.Undersized, pl.Before.Oversized, zones(pl.Before.Zones))
	fmt.Fprintf(w, "After:  %d undersized, %d oversized; zones: %s\n", pl.Remaining.Undersized, pl.Remaining.Oversized, zones(pl.Remaining.Zones))
	if pl.BoundaryOnBarriers != nil {
		fmt.Fprintf(w, "New boundaries on barriers: %.1f%% of their length\n", *pl.BoundaryOnBarriers*100)
	}
	if len(pl.Infeasible) > 0 {
		fmt.Fprintln(w, "\nNot feasible:")
		for _, is := range pl.Infeasible {
			fmt.Fprintf(w, "  %s (%s): %s\n", is.Code, is.Status, is.Reason)
		}
	}
	return nil
}
