package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// Scenarios keep plans under a name until one is adopted; only adopt
// writes units.

func cmdScenarioCreate(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	from := fs.String("from-plan", "", "the GeoJSON `FILE` of jiedao plan --format geojson (required)")
	profile := fs.String("profile", analysis.DefaultProfile, "profile the scenario is judged under: beijing-2020, national-1989 or a JSON file")
	asJSON := fs.Bool("json", false, "print the scenario as JSON")
	return func(ctx context.Context, name string, stdout, _ io.Writer) error {
		return scenarioCreate(ctx, *db, name, *from, *profile, *asJSON, stdout)
	}
}

func cmdScenarioList(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "print the list as JSON")
	return func(ctx context.Context, _ string, stdout, _ io.Writer) error {
		return scenarioList(ctx, *db, *asJSON, stdout)
	}
}

func cmdScenarioAnalyze(fs *flag.FlagSet) action { return scenarioReportCmd(fs, "analyze") }

func cmdScenarioDiff(fs *flag.FlagSet) action { return scenarioReportCmd(fs, "diff") }

// scenarioReportCmd is scenario analyze or diff: same flags, another
// report.
func scenarioReportCmd(fs *flag.FlagSet, sub string) action {
	db := dbFlag(fs)
	profile := fs.String("profile", "", "profile to judge under: beijing-2020, national-1989 or a JSON file (default: the scenario's)")
	at := fs.String("at", "", "compare with the boundaries valid on this day, `YYYY-MM-DD` (default today)")
	asJSON := fs.Bool("json", false, "print JSON")
	return func(ctx context.Context, name string, stdout, _ io.Writer) error {
		return withScenario(ctx, *db, name, func(s *store.Store, id int64) error {
			return scenarioReport(ctx, s, id, sub, *profile, *at, *asJSON, stdout)
		})
	}
}

func cmdScenarioAdopt(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	approval := fs.String("approval", "", "approval document (批复文号) of the new versions (required)")
	validFrom := fs.String("valid-from", "", "first day of the new versions, `YYYY-MM-DD` (required)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	return func(ctx context.Context, name string, stdout, _ io.Writer) error {
		if *approval == "" || *validFrom == "" {
			return usageError{errors.New("adopt needs --approval TEXT and --valid-from YYYY-MM-DD")}
		}
		vf, err := dateFlag(*validFrom)
		if err != nil {
			return err
		}
		return withScenario(ctx, *db, name, func(s *store.Store, id int64) error {
			res, err := scenario.Adopt(ctx, s, id, *approval, vf, units.Actor{KeyName: "cli"})
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(stdout, res)
			}
			fmt.Fprintf(stdout, "adopted %s from %s: %d updated, %d created, %d retired", res.Scenario, *validFrom,
				len(res.Updated), len(res.Created), len(res.Retired))
			if g := res.Grids; len(g.Created)+len(g.Updated)+len(g.Retired) > 0 {
				fmt.Fprintf(stdout, "; grids: %d updated, %d created, %d retired", len(g.Updated), len(g.Created), len(g.Retired))
			}
			fmt.Fprintln(stdout)
			return nil
		})
	}
}

// withScenario opens the store and finds the scenario of a name.
func withScenario(ctx context.Context, db, name string, f func(*store.Store, int64) error) error {
	return withStore(ctx, db, func(s *store.Store) error {
		id, err := scenario.ID(ctx, s, name)
		if err != nil {
			return err
		}
		return f(s, id)
	})
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(v)
}

// scenarioCreate stores a scenario made of a plan's GeoJSON file.
func scenarioCreate(ctx context.Context, db, name, from, profile string, asJSON bool, stdout io.Writer) error {
	if from == "" {
		return usageError{errors.New("create needs --from-plan FILE (jiedao plan --format geojson output)")}
	}
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("read %s: %w", from, err)
	}
	us, removed, err := scenario.ParsePlan(b)
	if err != nil {
		return usageError{fmt.Errorf("%s: %w", from, err)}
	}
	return withStore(ctx, db, func(s *store.Store) error {
		// The file lists the communities the plan's merges remove; others
		// left at least half under the scenario's units are found by
		// coverage (see scenario.Create).
		sc, err := scenario.Create(ctx, s, name, profile, map[string]any{"source": from, "units": len(us)}, us, removed)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, sc)
		}
		fmt.Fprintf(stdout, "scenario %s (id %d): %d units, %d removed (%s)", sc.Name, sc.ID, len(sc.Codes), len(sc.Removed),
			strings.Join(sc.Removed, " "))
		if len(sc.Grids)+len(sc.RemovedGrids) > 0 {
			fmt.Fprintf(stdout, "; %d grids, %d grids removed", len(sc.Grids), len(sc.RemovedGrids))
		}
		fmt.Fprintln(stdout)
		return nil
	})
}

// scenarioReport prints a scenario's analysis (before and after) or its
// diff, under its own profile unless --profile says otherwise.
func scenarioReport(ctx context.Context, s *store.Store, id int64, sub, pname, atFlag string, asJSON bool, stdout io.Writer) error {
	sc, err := scenario.Get(ctx, s, id)
	if err != nil {
		return err
	}
	if pname == "" {
		pname = sc.Profile
	}
	p, err := analysis.LoadProfile(pname)
	if err != nil {
		return usageError{err}
	}
	at, err := dateFlag(atFlag)
	if err != nil {
		return err
	}
	if at.IsZero() {
		at = boundaries.Today()
	}
	runs := analysis.NewRuns(s)
	if sub == "analyze" {
		a, err := scenario.Analyze(ctx, s, runs, id, p, at)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, a)
		}
		fmt.Fprintf(stdout, "Scenario %s on %s under %s\n", a.Scenario, a.At, a.Profile)
		fmt.Fprintf(stdout, "Before: %s; zones: %s\n", counts(a.Before.Statuses), counts(a.Before.Zones))
		fmt.Fprintf(stdout, "After:  %s; zones: %s\n", counts(a.After.Statuses), counts(a.After.Zones))
		return nil
	}
	d, err := scenario.Difference(ctx, s, runs, id, p, at)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, d)
	}
	return printDiff(stdout, d)
}

// printDiff prints the before/after table of a scenario.
func printDiff(stdout io.Writer, d *scenario.Diff) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "code\tchange\thouseholds\tarea m²\tstatus")
	num := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	for _, r := range d.Rows {
		hh := num(r.HHBefore) + " → " + num(r.HHAfter)
		area := fmt.Sprintf("%.0f → %.0f", r.AreaBefore, r.AreaAfter)
		st := orDash(r.Before) + " → " + orDash(r.After)
		switch r.Change {
		case "new":
			hh, area, st = num(r.HHAfter), fmt.Sprintf("%.0f", r.AreaAfter), orDash(r.After)
		case "removed":
			hh, area, st = num(r.HHBefore)+" → -", fmt.Sprintf("%.0f → -", r.AreaBefore), orDash(r.Before)+" → -"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Code, r.Change, hh, area, st)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printGridChanges(stdout, d.Grids, num)
}

// printGridChanges prints the grids a scenario changes, old → new codes.
func printGridChanges(stdout io.Writer, gs []scenario.GridChange, num func(*int64) string) error {
	if len(gs) == 0 {
		return nil
	}
	fmt.Fprintf(stdout, "\nGrids (%d):\n", len(gs))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "old\t→ new\tchange\tcommunity\thouseholds")
	for _, g := range gs {
		fmt.Fprintf(tw, "%s\t→ %s\t%s\t%s\t%s → %s\n", orNone(strings.Join(g.Old, " ")), orNone(g.New), g.Change, g.Community,
			num(g.HHBefore), num(g.HHAfter))
	}
	return tw.Flush()
}

// scenarioList prints the stored scenarios, newest first.
func scenarioList(ctx context.Context, db string, asJSON bool, stdout io.Writer) error {
	s, err := openStore(ctx, db)
	if err != nil {
		return err
	}
	defer s.Close()
	list, err := scenario.List(ctx, s)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tname\tcreated\tprofile\tunits\tremoved\tadopted")
	for _, x := range list {
		adopted := "-"
		if x.AdoptedAt != nil {
			adopted = x.AdoptedAt.Format("2006-01-02")
			if x.Approval != nil {
				adopted += " " + *x.Approval
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\n", x.ID, x.Name, x.CreatedAt.Format("2006-01-02 15:04"), x.Profile,
			x.Units, x.Removed, adopted)
	}
	return tw.Flush()
}

func orDash(s boundaries.Status) string {
	if s == "" {
		return "-"
	}
	return string(s)
}

// counts prints a map of counts in key order ("none" when empty).
func counts[K ~string](m map[K]int) string {
	keys := make([]K, 0, len(m))
	for k, n := range m {
		if n > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "none"
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
