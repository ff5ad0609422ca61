package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/grids"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// Grids are proposed like plans: generate and renumber write a plan
// document; scenario create and adopt (or renumber --approval) make them
// live.

func cmdGridsGenerate(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	profile := fs.String("profile", analysis.DefaultProfile, "beijing-2020, national-1989 or a profile JSON file (its grid section sets the range)")
	var opt grids.Options
	fs.StringVar(&opt.Community, "community", "", "cut one community, by its `CODE` (regenerated when it has grids)")
	fs.StringVar(&opt.Street, "street", "", "cut the communities of a street that have no grids, by its `CODE`")
	fs.BoolVar(&opt.All, "all", false, "cut every community that has no grids")
	fs.IntVar(&opt.Households, "households", 0, "target households per grid `N` (default the middle of the profile's grid range: 400 for 300–500)")
	fs.StringVar(&opt.Method, "method", plan.SplitAuto, "blocks (along roads and rivers; needs import-barriers), cuts (straight cuts between building points) or auto (blocks where barriers are loaded, else cuts)")
	fs.Int64Var(&opt.Seed, "seed", 1, "seed of the partition search (same seed, same grids)")
	atFlag := fs.String("at", "", "cut the communities valid on this day, `YYYY-MM-DD` (default today)")
	format := fs.String("format", "text", "text, json or geojson (the plan document for scenario create --from-plan)")
	out := fs.String("o", "", "output `FILE` (default stdout)")
	return func(ctx context.Context, _ string, stdout, _ io.Writer) error {
		if err := checkGridFlags(opt, *format); err != nil {
			return err
		}
		p, err := analysis.LoadProfile(*profile)
		if err != nil {
			return usageError{err}
		}
		if opt.At, err = dateFlag(*atFlag); err != nil {
			return err
		}
		return withStore(ctx, *db, func(s *store.Store) error {
			pl, err := grids.Propose(ctx, s, p, opt)
			if err != nil {
				return err
			}
			return writeGridPlan(*out, *format, stdout, pl)
		})
	}
}

func cmdGridsRenumber(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	profile := fs.String("profile", analysis.DefaultProfile, "profile the grids are judged under: beijing-2020, national-1989 or a JSON file")
	community := fs.String("community", "", "the community whose grids are renumbered, by its `CODE` (required)")
	atFlag := fs.String("at", "", "renumber the grids valid on this day, `YYYY-MM-DD` (default today)")
	approval := fs.String("approval", "", "write the new codes at once: the approval document (批复文号) of the new versions (with --valid-from)")
	validFrom := fs.String("valid-from", "", "first day of the new codes, `YYYY-MM-DD` (with --approval)")
	name := fs.String("scenario", "", "name of the scenario --approval adopts (default renumber-CODE-DAY)")
	format := fs.String("format", "text", "text, json or geojson (without --approval: the plan document for scenario create --from-plan)")
	out := fs.String("o", "", "output `FILE` (default stdout)")
	return func(ctx context.Context, _ string, stdout, _ io.Writer) error {
		if *community == "" {
			return usageError{errors.New("renumber needs --community CODE")}
		}
		if (*approval == "") != (*validFrom == "") {
			return usageError{errors.New("--approval TEXT and --valid-from YYYY-MM-DD go together")}
		}
		if err := checkGridFlags(grids.Options{Community: *community, Method: plan.SplitAuto}, *format); err != nil {
			return err
		}
		p, err := analysis.LoadProfile(*profile)
		if err != nil {
			return usageError{err}
		}
		at, err := dateFlag(*atFlag)
		if err != nil {
			return err
		}
		vf, err := dateFlag(*validFrom)
		if err != nil {
			return err
		}
		return withStore(ctx, *db, func(s *store.Store) error {
			pl, err := grids.Renumber(ctx, s, p, *community, at)
			if err != nil {
				return err
			}
			if *approval == "" || len(pl.Units) == 0 {
				return writeGridPlan(*out, *format, stdout, pl)
			}
			if *name == "" {
				*name = "renumber-" + *community + "-" + *validFrom
			}
			return adoptRenumber(ctx, s, *name, pl, *approval, vf, stdout)
		})
	}
}

// adoptRenumber keeps a renumbering as a scenario and adopts it: the
// normal versioned write path, with its approval, audit and history.
func adoptRenumber(ctx context.Context, s *store.Store, name string, pl *plan.Plan, approval string, vf time.Time, stdout io.Writer) error {
	var b bytes.Buffer
	if err := plan.WriteGeoJSON(&b, pl); err != nil {
		return err
	}
	sc, err := scenario.CreateFromPlan(ctx, s, name, pl.Profile, pl.Summary(0), b.Bytes())
	if err != nil {
		return err
	}
	res, err := scenario.Adopt(ctx, s, sc.ID, approval, vf, units.Actor{KeyName: "cli"})
	if err != nil {
		return fmt.Errorf("renumber kept as scenario %s, not adopted: %w", name, err)
	}
	fmt.Fprintf(stdout, "renumbered %s (scenario %s) from %s: %d new codes\n", pl.Scope, name, vf.Format("2006-01-02"), len(res.Grids.Created))
	for _, u := range pl.Units {
		fmt.Fprintf(stdout, "  %s → %s\n", strings.Join(u.Replaces, " "), u.Code)
	}
	return nil
}

// checkGridFlags refuses no scope or several, an unknown method or format,
// before the database is opened.
func checkGridFlags(opt grids.Options, format string) error {
	n := 0
	for _, set := range []bool{opt.Community != "", opt.Street != "", opt.All} {
		if set {
			n++
		}
	}
	if n != 1 {
		return usageError{errors.New("choose one of --community CODE, --street CODE or --all")}
	}
	if !slices.Contains(plan.SplitChoices, opt.Method) {
		return usageError{fmt.Errorf("unknown --method %q (want %s)", opt.Method, strings.Join(plan.SplitChoices, ", "))}
	}
	if opt.Households < 0 {
		return usageError{fmt.Errorf("--households %d: want a number above 0", opt.Households)}
	}
	switch format {
	case "text", "json", "geojson":
		return nil
	}
	return usageError{fmt.Errorf("unknown format %q (want text, json or geojson)", format)}
}

// writeGridPlan writes a grid plan as text, JSON or the GeoJSON document.
func writeGridPlan(out, format string, stdout io.Writer, pl *plan.Plan) error {
	return writeOut(out, stdout, func(w io.Writer) error {
		switch format {
		case "json":
			return printJSON(w, pl)
		case "geojson":
			return plan.WriteGeoJSON(w, pl)
		}
		return writeGridsText(w, pl)
	})
}

// writeGridsText prints a grid plan: its grids, their households and
// status, and why a grid is out of range.
func writeGridsText(w io.Writer, pl *plan.Plan) error {
	fmt.Fprintf(w, "Grids for %s on %s under %s (method %s)\n", pl.Scope, pl.At, pl.Profile, pl.Method)
	if pl.MethodNote != "" {
		fmt.Fprintf(w, "Note: %s\n", pl.MethodNote)
	}
	fmt.Fprintf(w, "Order: %s\n\n", pl.Order)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "code\tcommunity\treplaces\thouseholds\tpopulation\tarea km²\tPolsby-Popper\tstatus\treason")
	num := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	for _, u := range pl.Units {
		code := u.Code
		if u.Provisional {
			code += " (provisional)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.4f\t%.3f\t%s\t%s\n", code, u.ParentCode, orNone(strings.Join(u.Replaces, " ")),
			num(u.Households), num(u.Population), u.AreaKM2, u.PolsbyPopper, u.Status, strings.Join(u.Reasons, "; "))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d grids in %d communities; %d under and %d over the range (each with its reason)\n",
		len(pl.Units), len(pl.Ops), pl.Remaining.Undersized, pl.Remaining.Oversized)
	if len(pl.Removed) > 0 {
		codes := make([]string, len(pl.Removed))
		for i, r := range pl.Removed {
			codes[i] = r.Code
		}
		fmt.Fprintf(w, "Replaces the live grids: %s\n", strings.Join(codes, " "))
	}
	if pl.BoundaryOnBarriers != nil {
		fmt.Fprintf(w, "New boundaries on barriers: %.1f%% of their length\n", *pl.BoundaryOnBarriers*100)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
