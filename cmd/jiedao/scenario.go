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

const scenarioUsage = "jiedao scenario create NAME --from-plan FILE.geojson | list | analyze NAME | diff NAME | adopt NAME --approval TEXT --valid-from YYYY-MM-DD"

// scenarioFlags are the flags of every scenario subcommand.
type scenarioFlags struct {
	db, profile, at, from, approval, validFrom *string
	asJSON                                     *bool
}

// cmdScenario keeps plans as named scenarios and adopts them. Only adopt
// writes units.
func cmdScenario(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("usage: " + scenarioUsage)}
	}
	sub := args[0]
	fs := flag.NewFlagSet("scenario "+sub, flag.ContinueOnError)
	f := scenarioFlags{db: dbFlag(fs),
		profile:   fs.String("profile", "", "profile for analyze and diff (default: the scenario's)"),
		at:        fs.String("at", "", "analyze against the boundaries valid on this day (default today)"),
		from:      fs.String("from-plan", "", "create: the output of jiedao plan --format geojson"),
		approval:  fs.String("approval", "", "adopt: approval (批复文号) of the new versions"),
		validFrom: fs.String("valid-from", "", "adopt: first day of the new versions (YYYY-MM-DD)"),
		asJSON:    fs.Bool("json", false, "print JSON")}
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if sub == "list" {
		if len(pos) != 0 {
			return usageError{errors.New("usage: jiedao scenario list [--json]")}
		}
		return scenarioList(ctx, *f.db, *f.asJSON, stdout)
	}
	if len(pos) != 1 {
		return usageError{errors.New("usage: " + scenarioUsage)}
	}
	switch sub {
	case "create":
		return scenarioCreate(ctx, f, pos[0], stdout)
	case "analyze", "diff", "adopt":
	default:
		return usageError{fmt.Errorf("unknown scenario command %q (usage: %s)", sub, scenarioUsage)}
	}
	s, err := openStore(ctx, *f.db)
	if err != nil {
		return err
	}
	defer s.Close()
	id, err := scenario.ID(ctx, s, pos[0])
	if err != nil {
		return err
	}
	if sub == "adopt" {
		return scenarioAdopt(ctx, s, f, id, stdout)
	}
	return scenarioReport(ctx, s, f, sub, id, stdout)
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(v)
}

// scenarioCreate stores a scenario made of a plan's GeoJSON file.
func scenarioCreate(ctx context.Context, f scenarioFlags, name string, stdout io.Writer) error {
	if *f.from == "" {
		return usageError{errors.New("create needs --from-plan FILE (jiedao plan --format geojson output)")}
	}
	b, err := os.ReadFile(*f.from)
	if err != nil {
		return fmt.Errorf("read %s: %w", *f.from, err)
	}
	us, removed, err := scenario.ParsePlan(b)
	if err != nil {
		return usageError{fmt.Errorf("%s: %w", *f.from, err)}
	}
	s, err := openStore(ctx, *f.db)
	if err != nil {
		return err
	}
	defer s.Close()
	p := *f.profile
	if p == "" {
		p = analysis.DefaultProfile
	}
	// The file lists the communities the plan's merges remove; others
	// left at least half under the scenario's units are found by coverage
	// (see scenario.Create).
	sc, err := scenario.Create(ctx, s, name, p, map[string]any{"source": *f.from, "units": len(us)}, us, removed)
	if err != nil {
		return err
	}
	if *f.asJSON {
		return printJSON(stdout, sc)
	}
	fmt.Fprintf(stdout, "scenario %s (id %d): %d units, %d removed (%s)\n", sc.Name, sc.ID, len(sc.Codes), len(sc.Removed),
		strings.Join(sc.Removed, " "))
	return nil
}

// scenarioAdopt makes a scenario live with its approval.
func scenarioAdopt(ctx context.Context, s *store.Store, f scenarioFlags, id int64, stdout io.Writer) error {
	if *f.approval == "" || *f.validFrom == "" {
		return usageError{errors.New("adopt needs --approval TEXT and --valid-from YYYY-MM-DD")}
	}
	vf, err := dateFlag(*f.validFrom)
	if err != nil {
		return err
	}
	res, err := scenario.Adopt(ctx, s, id, *f.approval, vf, units.Actor{KeyName: "cli"})
	if err != nil {
		return err
	}
	if *f.asJSON {
		return printJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "adopted %s from %s: %d updated, %d created, %d retired\n", res.Scenario, *f.validFrom,
		len(res.Updated), len(res.Created), len(res.Retired))
	return nil
}

// scenarioReport prints a scenario's analysis (before and after) or its
// diff, under its own profile unless --profile says otherwise.
func scenarioReport(ctx context.Context, s *store.Store, f scenarioFlags, sub string, id int64, stdout io.Writer) error {
	sc, err := scenario.Get(ctx, s, id)
	if err != nil {
		return err
	}
	pname := *f.profile
	if pname == "" {
		pname = sc.Profile
	}
	p, err := analysis.LoadProfile(pname)
	if err != nil {
		return usageError{err}
	}
	at, err := dateFlag(*f.at)
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
		if *f.asJSON {
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
	if *f.asJSON {
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
