package report

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/store"
)

// planSummary is what a scenario may keep of its plan: the plan itself,
// plan.Summary, or the CLI's {source, units}. Every field is optional.
type planSummary struct {
	Profile         string `json:"profile"`
	At              string `json:"at"`
	Scope           string `json:"scope"`
	Seed            *int64 `json:"seed"`
	Method          string `json:"method"`
	MethodNote      string `json:"method_note"`
	Order           string `json:"order"`
	Source          string `json:"source"`
	PlanID          *int64 `json:"plan_id"`
	HouseholdsMoved *int64 `json:"households_moved"`
	Operations      []struct {
		Seq             int      `json:"seq"`
		Kind            string   `json:"kind"`
		Zone            string   `json:"zone"`
		From            []string `json:"from"`
		To              []string `json:"to"`
		HouseholdsMoved int64    `json:"households_moved"`
		Method          string   `json:"method"`
		Note            string   `json:"note"`
	} `json:"operations"`
	Infeasible []struct {
		Code, Status, Reason string
	} `json:"infeasible"`
}

// scenarioState is what a scenario report is built from.
type scenarioState struct {
	st            *store.Store
	sc            *scenario.Scenario
	validFrom     *time.Time
	p             *analysis.Profile
	at            time.Time
	streets       []scenario.Street
	before, after *analysis.Analysis
	bu, au        map[string]analysis.UnitResult
	lin, from     map[string][]string // old → new codes, new → old
	plan          planSummary
	inScenario    map[string]string // code → "changed", "new" or "removed"
	whole         bool              // every street the scenario changes
}

// Scenario builds the adjustment proposal of scenario id: the streets it
// changes (or opt.Street), before and after maps, the communities'
// measures, the clauses applied, the code changes and the plan's
// parameters. An unknown scenario is ErrNotFound; a street it does not
// change is a QueryError on "street".
func Scenario(ctx context.Context, st *store.Store, runs *analysis.Runs, id int64, opt Options) (*Document, error) {
	s, err := loadScenario(ctx, st, runs, id, opt)
	if err != nil {
		return nil, err
	}
	doc := &Document{Kind: KindScenario, Draft: s.sc.AdoptedAt == nil}
	doc.Clauses, doc.Sources = clauses(s.p, s.districts())
	for _, str := range s.streets {
		sec, err := s.section(ctx, str)
		if err != nil {
			return nil, err
		}
		doc.Streets = append(doc.Streets, sec)
	}
	s.summarize(doc)
	if err := s.cover(ctx, doc, opt.now()); err != nil {
		return nil, err
	}
	if doc.Annex, err = s.annex(ctx); err != nil {
		return nil, err
	}
	return doc, nil
}

// loadScenario reads the scenario and both analyses.
func loadScenario(ctx context.Context, st *store.Store, runs *analysis.Runs, id int64, opt Options) (*scenarioState, error) {
	sc, err := scenario.Get(ctx, st, id)
	if err != nil {
		return nil, err
	}
	s := &scenarioState{st: st, sc: sc, p: opt.Profile, at: opt.At, inScenario: map[string]string{}, whole: opt.Street == ""}
	if s.validFrom, err = adoptedFrom(ctx, st, id); err != nil {
		return nil, err
	}
	if s.p == nil {
		if s.p, err = analysis.LoadProfile(sc.Profile); err != nil {
			return nil, fmt.Errorf("scenario %s: profile: %w", sc.Name, err)
		}
	}
	if s.at.IsZero() {
		// Once adopted, the live units are the scenario's: compare with
		// the boundaries of the day before.
		s.at = boundaries.Today()
		if s.validFrom != nil {
			s.at = s.validFrom.AddDate(0, 0, -1)
		}
	}
	if len(sc.Plan) > 0 {
		_ = json.Unmarshal(sc.Plan, &s.plan) // a summary of another shape only lacks the parameters
	}
	if s.streets, err = scenario.Streets(ctx, st, id, s.at); err != nil {
		return nil, err
	}
	if opt.Street != "" {
		k := slices.IndexFunc(s.streets, func(x scenario.Street) bool { return x.Code == opt.Street })
		if k < 0 {
			return nil, &boundaries.QueryError{Param: "street", Err: fmt.Errorf("scenario %s does not change street %q", sc.Name, opt.Street)}
		}
		s.streets = s.streets[k : k+1]
	}
	if s.before, err = runs.Current(ctx, s.p, s.at, analysis.Live); err != nil {
		return nil, fmt.Errorf("scenario %s report: live: %w", sc.Name, err)
	}
	if s.after, err = runs.Current(ctx, s.p, s.at, scenario.Boundaries(st, id)); err != nil {
		return nil, fmt.Errorf("scenario %s report: %w", sc.Name, err)
	}
	s.bu, s.au = byCode(s.before.Units), byCode(s.after.Units)
	if s.lin, err = lineage(ctx, st, id, s.at); err != nil {
		return nil, err
	}
	s.from = map[string][]string{}
	for old, news := range s.lin {
		for _, n := range news {
			s.from[n] = append(s.from[n], old)
		}
	}
	for _, c := range sc.Codes {
		s.inScenario[c] = "changed"
		if _, ok := s.bu[c]; !ok {
			s.inScenario[c] = "new"
		}
	}
	for _, c := range sc.Removed {
		s.inScenario[c] = "removed"
	}
	return s, nil
}

// section draws one street: before and after maps and the table.
func (s *scenarioState) section(ctx context.Context, str scenario.Street) (StreetSection, error) {
	sec := StreetSection{Code: str.Code, Name: str.Name}
	codes := []string{str.Code}
	bg, err := communityShapes(ctx, s.st, liveFrom, codes, s.at, 0)
	if err != nil {
		return sec, err
	}
	ag, err := communityShapes(ctx, s.st, scenarioFrom(), codes, s.at, s.sc.ID)
	if err != nil {
		return sec, err
	}
	og, err := streetShapes(ctx, s.st, codes, s.at)
	if err != nil {
		return sec, err
	}
	var comm []string
	for _, g := range bg {
		comm = append(comm, g.Code)
	}
	zg, err := zoneShapes(ctx, s.st, s.before.RunID, append(comm, str.Code))
	if err != nil {
		return sec, err
	}
	title := str.Name + " " + str.Code
	// A street taller than wide reads better with the maps side by side.
	width, maxH := 180.0, 115.0
	if aspect(outlines(og)) > 1.6 {
		sec.Side, width, maxH = true, 89, 230
	}
	sec.Before = s.mapOf(title+" 调整前 before", bg, og, zg, s.bu, width, maxH)
	sec.After = s.mapOf(title+" 调整后 after", ag, og, nil, s.au, width, maxH)
	sec.Rows = s.rows(bg, ag)
	sec.Communities = len(ag)
	return sec, nil
}

// mapOf draws communities filled by status, the changed ones outlined.
func (s *scenarioState) mapOf(title string, gs, street, zones []geomRow, res map[string]analysis.UnitResult, width, maxH float64) template.HTML {
	m := Map{Title: title, Width: width, MinHeight: 80, MaxHeight: maxH, Outlines: outlines(street), Legend: statusLegend()}
	for _, g := range gs {
		u := res[g.Code]
		class := statusClass(u.Status)
		if s.inScenario[g.Code] != "" || len(s.lin[g.Code]) > 0 {
			class += " changed"
		}
		m.Shapes = append(m.Shapes, shapeOf(g, class, g.Name, hh(u.Households)))
	}
	for _, z := range zones {
		m.Shapes = append(m.Shapes, Shape{Code: z.Code, Class: "zone", Polygons: z.Polygons})
	}
	m.Legend = append(m.Legend, LegendItem{Class: "changed", Text: "调整单元 changed", Line: true})
	if len(zones) > 0 {
		m.Legend = append(m.Legend, LegendItem{Class: "zone", Text: "问题区 zone"})
	}
	return m.SVG()
}

// rows lists the street's communities after the scenario, and those it
// removes, with before → after and new codes.
func (s *scenarioState) rows(before, after []geomRow) []Row {
	var out []Row
	for _, g := range after {
		u, ok := s.au[g.Code]
		if !ok {
			continue
		}
		r := rowOf(u)
		r.Change = s.inScenario[g.Code]
		b, had := s.bu[g.Code]
		switch {
		case r.Change == "new":
			r.BeforeAfter = "新设 new → " + hh(u.Households) + " " + statusText[u.Status]
			if len(s.from[g.Code]) > 0 {
				r.NewCodes = "由 (from)\n" + strings.Join(s.from[g.Code], "\n") + " 分设"
			}
		case r.Change != "" && had:
			r.BeforeAfter = hh(b.Households) + " " + statusText[b.Status] + " → " + hh(u.Households) + " " + statusText[u.Status]
		}
		if news := others(s.lin[g.Code], g.Code); len(news) > 0 && r.Change != "new" {
			r.NewCodes = "分出 (split into)\n" + strings.Join(news, "\n")
		}
		out = append(out, r)
	}
	// A new part follows the community it was cut from.
	key := func(r Row) string {
		if f := s.from[r.Code]; r.Change == "new" && len(f) > 0 {
			return f[0] + "~" + r.Code
		}
		return r.Code
	}
	sort.SliceStable(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	for _, g := range before {
		if s.inScenario[g.Code] != "removed" {
			continue
		}
		b := s.bu[g.Code]
		r := rowOf(b)
		r.Change = "removed"
		r.BeforeAfter = hh(b.Households) + " " + statusText[b.Status] + " → 撤销 retired"
		if len(s.lin[g.Code]) > 0 {
			r.NewCodes = "并入 (merged into)\n" + strings.Join(s.lin[g.Code], "\n")
		}
		out = append(out, r)
	}
	return out
}

func others(codes []string, self string) []string {
	var out []string
	for _, c := range codes {
		if c != self {
			out = append(out, c)
		}
	}
	return out
}

// districts are the districts of the report's streets (by code).
func (s *scenarioState) districts() []string {
	var out []string
	for _, x := range s.streets {
		if len(x.Code) >= 6 && !slices.Contains(out, x.Code[:6]) {
			out = append(out, x.Code[:6])
		}
	}
	return out
}

// streetCodes are the codes of the report's streets.
func (s *scenarioState) streetCodes() []string {
	out := make([]string, len(s.streets))
	for i, x := range s.streets {
		out[i] = x.Code
	}
	return out
}

// inStreets says whether a unit result is a community of the streets.
func inStreets(u analysis.UnitResult, streets []string) bool {
	return u.Level == boundaries.Community && u.ParentCode != nil && slices.Contains(streets, *u.ParentCode)
}

// zonesIn counts an analysis's zones touching the streets or their
// communities.
func zonesIn(a *analysis.Analysis, streets []string) map[boundaries.ZoneKind]int {
	codes := map[string]bool{}
	for _, u := range a.Units {
		if inStreets(u, streets) {
			codes[u.Code] = true
		}
	}
	for _, c := range streets {
		codes[c] = true
	}
	out := map[boundaries.ZoneKind]int{}
	for _, z := range a.Zones {
		if slices.ContainsFunc(z.Codes, func(c string) bool { return codes[c] }) {
			out[z.Kind]++
		}
	}
	return out
}

// summarize fills the before → after counts, the facts and what stays
// out of the rules.
func (s *scenarioState) summarize(doc *Document) {
	streets := s.streetCodes()
	count := func(a *analysis.Analysis) (map[boundaries.Status]int, int, int64) {
		m, n, h := map[boundaries.Status]int{}, 0, int64(0)
		for _, u := range a.Units {
			if inStreets(u, streets) {
				m[u.Status]++
				n++
				if u.Households != nil {
					h += *u.Households
				}
			}
		}
		return m, n, h
	}
	bs, bn, bh := count(s.before)
	as, an, ah := count(s.after)
	row := func(label string, b, a int) SummaryRow {
		return SummaryRow{Label: label, Before: fmt.Sprint(b), After: fmt.Sprint(a), Changed: a != b}
	}
	doc.Summary = append(doc.Summary, row("社区数 communities", bn, an))
	for _, st := range boundaries.Statuses {
		doc.Summary = append(doc.Summary, row(statusText[st], bs[st], as[st]))
	}
	doc.Summary = append(doc.Summary, SummaryRow{Label: "总户数 households", Before: thousands(bh), After: thousands(ah), Changed: bh != ah})
	bz, az := zonesIn(s.before, streets), zonesIn(s.after, streets)
	repaired := 0
	for _, k := range boundaries.ZoneKinds {
		if bz[k]+az[k] > 0 {
			doc.Summary = append(doc.Summary, row("问题区 "+zoneText[k], bz[k], az[k]))
		}
		repaired += max(0, bz[k]-az[k])
	}
	changed, added, removed := 0, 0, 0
	for c, ch := range s.inScenario {
		if u, ok := s.au[c]; ch != "removed" && (!ok || !inStreets(u, streets)) {
			continue
		} else if ch == "removed" && !inStreets(s.bu[c], streets) {
			continue
		}
		switch ch {
		case "changed":
			changed++
		case "new":
			added++
		case "removed":
			removed++
		}
	}
	doc.Facts = []Field{
		{Label: "修复问题区 zones repaired", Value: fmt.Sprint(repaired)},
		{Label: "调整户数 households moved", Value: thousands(s.householdsMoved(streets))},
		{Label: "调整单元 units changed", Value: fmt.Sprintf("%d (调整 changed %d, 新设 new %d, 撤销 retired %d)", changed+added+removed, changed, added, removed)},
	}
	doc.Problems = s.problems(streets)
}

// householdsMoved is the plan's figure for the whole scenario, else the
// households the streets' communities gain (what moved in somewhere).
func (s *scenarioState) householdsMoved(streets []string) int64 {
	if s.plan.HouseholdsMoved != nil && s.whole {
		return *s.plan.HouseholdsMoved
	}
	var moved int64
	for c, ch := range s.inScenario {
		u, ok := s.au[c]
		if ch == "removed" || !ok || !inStreets(u, streets) || u.Households == nil {
			continue
		}
		var was int64
		if b, ok := s.bu[c]; ok && b.Households != nil {
			was = *b.Households
		}
		moved += max(0, *u.Households-was)
	}
	return moved
}

// problems are the plan's infeasible communities and those still out of
// the rules after the scenario.
func (s *scenarioState) problems(streets []string) []Problem {
	var out []Problem
	for _, x := range s.plan.Infeasible {
		out = append(out, Problem{Code: x.Code, Name: s.bu[x.Code].Name, Status: "无法调整 infeasible (" + x.Status + ")", Reason: x.Reason})
	}
	for _, u := range s.after.Units {
		if inStreets(u, streets) && u.Status.Flagged() {
			out = append(out, Problem{Code: u.Code, Name: u.Name, Status: "调整后仍" + statusText[u.Status], Reason: strings.Join(u.Reasons, "; ")})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}
