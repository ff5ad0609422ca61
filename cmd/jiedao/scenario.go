package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/jiedao/jiedao/boundaries"
)

const scenarioUsage = "jiedao scenario create NAME --from-plan FILE.geojson | list | analyze NAME | diff NAME | adopt NAME --approval TEXT --valid-from YYYY-MM-DD"

// cmdScenario keeps plans as named scenarios and adopts them. Only adopt
// writes units.
func cmdScenario(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("usage: " + scenarioUsage)}
	}
	sub := args[0]
	fs := flag.NewFlagSet("scenario "+sub, flag.ContinueOnError)
	db := dbFlag(fs)
	profile := fs.String("profile", "", "profile for analyze and diff (default: the scenario's)")
	atFlag := fs.String("at", "", "analyze against the boundaries valid on this day (default today)")
	from := fs.String("from-plan", "", "create: the output of jiedao plan --format geojson")
	approval := fs.String("approval", "", "adopt: approval (批复文号) of the new versions")
	validFrom := fs.String("valid-from", "", "adopt: first day of the new versions (YYYY-MM-DD)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if sub == "list" {
		if len(pos) != 0 {
			return usageError{errors.New("usage: jiedao scenario list [--json]")}
		}
		return scenarioList(ctx, *db, *asJSON, stdout)
	}
	if len(pos) != 1 {
		return usageError{errors.New("usage: " + scenarioUsage)}
	}
	name := pos[0]
	switch sub {
	case "create", "analyze", "diff", "adopt":
	default:
		return usageError{fmt.Errorf("unknown scenario command %q (usage: %s)", sub, scenarioUsage)}
	}
	var units []boundaries.ScenarioUnit
	var removed []boundaries.ScenarioBase
	if sub == "create" {
		if *from == "" {
			return usageError{errors.New("create needs --from-plan FILE (jiedao plan --format geojson output)")}
		}
		b, err := os.ReadFile(*from)
		if err != nil {
			return fmt.Errorf("read %s: %w", *from, err)
		}
		if units, removed, err = boundaries.ParsePlanGeoJSON(b); err != nil {
			return usageError{fmt.Errorf("%s: %w", *from, err)}
		}
	}
	s, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer s.Close()
	out := func(v any) error {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		return enc.Encode(v)
	}
	if sub == "create" {
		p := *profile
		if p == "" {
			p = boundaries.DefaultProfile
		}
		// The file lists the communities the plan's merges remove; others
		// left at least half under the scenario's units are found by
		// coverage (see CreateScenario).
		sc, err := s.CreateScenario(ctx, name, p, map[string]any{"source": *from, "units": len(units)}, units, removed)
		if err != nil {
			return err
		}
		if *asJSON {
			return out(sc)
		}
		fmt.Fprintf(stdout, "scenario %s (id %d): %d units, %d removed (%s)\n", sc.Name, sc.ID, len(sc.Codes), len(sc.Removed),
			strings.Join(sc.Removed, " "))
		return nil
	}
	id, err := s.ScenarioID(ctx, name)
	if err != nil {
		return err
	}
	if sub == "adopt" {
		if *approval == "" || *validFrom == "" {
			return usageError{errors.New("adopt needs --approval TEXT and --valid-from YYYY-MM-DD")}
		}
		vf, err := dateFlag(*validFrom)
		if err != nil {
			return err
		}
		res, err := s.AdoptScenario(ctx, id, *approval, vf, boundaries.Actor{KeyName: "cli"})
		if err != nil {
			return err
		}
		if *asJSON {
			return out(res)
		}
		fmt.Fprintf(stdout, "adopted %s from %s: %d updated, %d created, %d retired\n", res.Scenario, *validFrom,
			len(res.Updated), len(res.Created), len(res.Retired))
		return nil
	}
	sc, err := s.Scenario(ctx, id)
	if err != nil {
		return err
	}
	pname := *profile
	if pname == "" {
		pname = sc.Profile
	}
	p, err := boundaries.LoadProfile(pname)
	if err != nil {
		return usageError{err}
	}
	at, err := dateFlag(*atFlag)
	if err != nil {
		return err
	}
	if at.IsZero() {
		at = boundaries.Today()
	}
	if sub == "analyze" {
		a, err := s.AnalyzeScenario(ctx, id, p, at)
		if err != nil {
			return err
		}
		if *asJSON {
			return out(a)
		}
		fmt.Fprintf(stdout, "Scenario %s on %s under %s\n", a.Scenario, a.At, a.Profile)
		fmt.Fprintf(stdout, "Before: %s; zones: %s\n", counts(a.Before.Statuses), counts(a.Before.Zones))
		fmt.Fprintf(stdout, "After:  %s; zones: %s\n", counts(a.After.Statuses), counts(a.After.Zones))
		return nil
	}
	d, err := s.DiffScenario(ctx, id, p, at)
	if err != nil {
		return err
	}
	if *asJSON {
		return out(d)
	}
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
	list, err := s.Scenarios(ctx)
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

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// counts prints a map of counts in key order ("none" when empty).
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k, n := range m {
		if n > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "none"
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
