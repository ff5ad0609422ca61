package report

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"slices"
	"sort"
	"strings"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/store"
)

// MaxStreetPages bounds the street pages of a status report: streets with
// findings beyond it are in the tables, not drawn (a city-wide report
// stays a document, not an atlas).
const MaxStreetPages = 60

// statusState is what a status report is built from.
type statusState struct {
	st      *store.Store
	p       *analysis.Profile
	a       *analysis.Analysis
	streets []street
	units   map[string]analysis.UnitResult
	comms   map[string][]analysis.UnitResult // street → its communities
	zones   map[string][]analysis.Zone       // street → zones touching it
}

// Status builds the assessment of the live boundaries of a district, a
// street or all streets: distributions against the thresholds, the
// flagged units and zones with maps and reasons, and staffing need.
func Status(ctx context.Context, st *store.Store, runs *analysis.Runs, opt Options) (*Document, error) {
	if opt.District != "" && opt.Street != "" {
		return nil, &boundaries.QueryError{Param: "street", Err: errors.New("give a district or a street, not both")}
	}
	s := &statusState{st: st, p: opt.Profile, comms: map[string][]analysis.UnitResult{}, zones: map[string][]analysis.Zone{}}
	var err error
	if s.p == nil {
		if s.p, err = analysis.LoadProfile(""); err != nil {
			return nil, err
		}
	}
	at := opt.At
	if at.IsZero() {
		at = boundaries.Today()
	}
	if s.streets, err = streetsIn(ctx, st, opt.District, opt.Street, at); err != nil {
		return nil, err
	}
	if s.a, err = runs.Current(ctx, s.p, at, analysis.Live); err != nil {
		return nil, fmt.Errorf("status report: %w", err)
	}
	s.units = byCode(s.a.Units)
	s.group()
	doc := &Document{Kind: KindStatus, Status: &StatusPart{}}
	var districts []string
	for _, x := range s.streets {
		if x.District != "" && !slices.Contains(districts, x.District) {
			districts = append(districts, x.District)
		}
	}
	doc.Clauses, doc.Sources = clauses(s.p, districts)
	s.summarize(doc)
	codes := make([]string, len(s.streets))
	for i, x := range s.streets {
		codes[i] = x.Code
	}
	comm, err := communityShapes(ctx, st, liveFrom, codes, at, 0)
	if err != nil {
		return nil, err
	}
	outl, err := streetShapes(ctx, st, codes, at)
	if err != nil {
		return nil, err
	}
	if len(s.streets) > 1 {
		doc.Status.Overview = s.overview(outl, comm)
	}
	if err := s.sections(ctx, doc, comm, outl); err != nil {
		return nil, err
	}
	return doc, s.cover(ctx, doc, opt, codes)
}

// group sorts the analysis's communities and zones by street.
func (s *statusState) group() {
	in := map[string]bool{}
	for _, x := range s.streets {
		in[x.Code] = true
	}
	streetOf := map[string]string{}
	for _, u := range s.a.Units {
		if u.Level == boundaries.Community && u.ParentCode != nil && in[*u.ParentCode] {
			s.comms[*u.ParentCode] = append(s.comms[*u.ParentCode], u)
			streetOf[u.Code] = *u.ParentCode
		}
	}
	for c := range in {
		streetOf[c] = c
	}
	for _, z := range s.a.Zones {
		seen := map[string]bool{}
		for _, c := range z.Codes {
			if st := streetOf[c]; st != "" && !seen[st] {
				seen[st] = true
				s.zones[st] = append(s.zones[st], z)
			}
		}
	}
}

// summarize counts statuses and zones, draws the distributions and fills
// the streets' table and the staffing need.
func (s *statusState) summarize(doc *Document) {
	byStatus := map[boundaries.Status]int{}
	streetStatus := map[boundaries.Status]int{}
	zones := map[boundaries.ZoneKind]int{}
	var hhs []int64
	var bars []Bar
	sp := doc.Status
	for _, x := range s.streets {
		su := s.units[x.Code]
		streetStatus[su.Status]++
		r := StreetRow{Code: x.Code, Name: x.Name, Population: su.Population, AreaKM2: su.AreaKM2, Density: su.Density,
			Status: su.Status, Reasons: su.Reasons, Communities: len(s.comms[x.Code])}
		for _, u := range s.comms[x.Code] {
			byStatus[u.Status]++
			if u.Households != nil {
				hhs = append(hhs, *u.Households)
				r.Households += *u.Households
			}
			if u.Status.Flagged() {
				r.Flagged++
				doc.Problems = append(doc.Problems, Problem{Code: u.Code, Name: u.Name, Street: x.Name, Status: statusText[u.Status], Reason: strings.Join(u.Reasons, "; ")})
			}
			if u.StaffMin != nil && u.StaffMax != nil {
				r.StaffMin += *u.StaffMin
				r.StaffMax += *u.StaffMax
			}
		}
		sp.StaffMin += r.StaffMin
		sp.StaffMax += r.StaffMax
		sp.StreetRows = append(sp.StreetRows, r)
		if su.Density != nil {
			bars = append(bars, Bar{Label: x.Name, Value: *su.Density, Class: statusClass(su.Status)})
		}
	}
	communities := 0
	for _, cs := range s.comms {
		communities += len(cs)
	}
	// A zone between two streets is one zone.
	seen := map[string]bool{}
	for _, zs := range s.zones {
		for _, z := range zs {
			if !seen[z.ID] {
				seen[z.ID] = true
				zones[z.Kind]++
			}
		}
	}
	sort.SliceStable(bars, func(i, j int) bool { return bars[i].Value > bars[j].Value })
	sp.Histogram = Histogram(hhs, s.p.Community.MinHouseholds.Float(), s.p.Community.MaxHouseholds.Float())
	if len(bars) > 0 {
		sp.Density = BarChart(bars, "常住人口密度 density (人/km²)")
	}
	doc.Summary = append(doc.Summary, SummaryRow{Label: "街道数 streets", Before: fmt.Sprint(len(s.streets))},
		SummaryRow{Label: "社区数 communities", Before: fmt.Sprint(communities)})
	for _, st := range boundaries.Statuses {
		doc.Summary = append(doc.Summary, SummaryRow{Label: "社区 " + statusText[st], Before: fmt.Sprint(byStatus[st]), Changed: st.Flagged() && byStatus[st] > 0})
	}
	for _, st := range boundaries.Statuses {
		if streetStatus[st] > 0 {
			doc.Summary = append(doc.Summary, SummaryRow{Label: "街道 " + statusText[st], Before: fmt.Sprint(streetStatus[st]), Changed: st.Flagged()})
		}
	}
	for _, k := range boundaries.ZoneKinds {
		doc.Summary = append(doc.Summary, SummaryRow{Label: "问题区 " + zoneText[k], Before: fmt.Sprint(zones[k]), Changed: zones[k] > 0})
	}
	doc.Facts = []Field{{Label: "社工需求 staff needed", Value: fmt.Sprintf("%s–%s 人 (按户数 by households)", thousands(sp.StaffMin), thousands(sp.StaffMax))}}
}

// overview draws the streets by status with their flagged communities.
func (s *statusState) overview(streets, comm []geomRow) template.HTML {
	m := Map{Title: "总览 overview", Width: 180, MinHeight: 100, MaxHeight: 150, Legend: statusLegend()}
	for _, g := range streets {
		u := s.units[g.Code]
		m.Shapes = append(m.Shapes, shapeOf(g, "street-fill "+statusClass(u.Status), g.Name))
	}
	for _, g := range comm {
		if u := s.units[g.Code]; u.Status.Flagged() {
			m.Shapes = append(m.Shapes, Shape{Code: g.Code, Class: "flag thin " + statusClass(u.Status), Polygons: g.Polygons})
		}
	}
	m.Outlines = outlines(streets)
	m.Legend = append(m.Legend, LegendItem{Class: "flag", Text: "需调整社区 flagged", Line: true})
	return m.SVG()
}

// sections draws a page for each street with a flagged community or a
// zone, up to MaxStreetPages.
func (s *statusState) sections(ctx context.Context, doc *Document, comm, outl []geomRow) error {
	byStreet := map[string][]geomRow{}
	for _, g := range comm {
		byStreet[g.Parent] = append(byStreet[g.Parent], g)
	}
	outlineOf := map[string][]geomRow{}
	for _, g := range outl {
		outlineOf[g.Code] = append(outlineOf[g.Code], g)
	}
	for i, x := range s.streets {
		r := doc.Status.StreetRows[i]
		zs := s.zones[x.Code]
		if r.Flagged == 0 && len(zs) == 0 && !r.Status.Flagged() {
			continue
		}
		if len(doc.Streets) == MaxStreetPages {
			doc.Status.Omitted++
			continue
		}
		codes := []string{x.Code}
		for _, u := range s.comms[x.Code] {
			codes = append(codes, u.Code)
		}
		zg, err := zoneShapes(ctx, s.st, s.a.RunID, codes)
		if err != nil {
			return err
		}
		doc.Streets = append(doc.Streets, s.section(x, byStreet[x.Code], outlineOf[x.Code], zg, zs))
	}
	return nil
}

// section is one street's map and its flagged communities and zones.
func (s *statusState) section(x street, comm, outl, zg []geomRow, zs []analysis.Zone) StreetSection {
	sec := StreetSection{Code: x.Code, Name: x.Name, Communities: len(comm)}
	m := Map{Title: x.Name + " " + x.Code + " 现状 status", Width: 180, MinHeight: 90, MaxHeight: 150, Outlines: outlines(outl), Legend: statusLegend()}
	for _, g := range comm {
		u := s.units[g.Code]
		class := statusClass(u.Status)
		if u.Status.Flagged() {
			class += " flag"
		}
		m.Shapes = append(m.Shapes, shapeOf(g, class, g.Name, hh(u.Households)))
	}
	for _, z := range zg {
		m.Shapes = append(m.Shapes, Shape{Code: z.Code, Class: "zone", Polygons: z.Polygons})
	}
	m.Legend = append(m.Legend, LegendItem{Class: "flag", Text: "需调整 flagged", Line: true})
	if len(zg) > 0 {
		m.Legend = append(m.Legend, LegendItem{Class: "zone", Text: "问题区 zone"})
	}
	sec.Map = m.SVG()
	for _, u := range s.comms[x.Code] {
		if u.Status.Flagged() || u.Status == boundaries.Unknown {
			sec.Rows = append(sec.Rows, rowOf(u))
		}
	}
	for _, z := range zs {
		sec.Zones = append(sec.Zones, ZoneRow{Kind: zoneText[z.Kind], Codes: strings.Join(z.Codes, " + "), AreaM2: z.AreaM2, Households: z.Households})
	}
	if su := s.units[x.Code]; su.Status.Flagged() {
		sec.Note = "街道 " + statusText[su.Status] + "：" + strings.Join(su.Reasons, "; ")
	}
	return sec
}

// cover fills the status report's title and cover.
func (s *statusState) cover(ctx context.Context, doc *Document, opt Options, codes []string) error {
	at, _ := boundaries.ParseDate(s.a.At)
	scope := "全市 all streets"
	switch {
	case opt.District != "":
		nm, err := names(ctx, s.st, []string{opt.District}, at)
		if err != nil {
			return err
		}
		scope = nonEmpty(nm[opt.District], "区") + " " + opt.District
	case opt.Street != "":
		scope = s.streets[0].Name + " " + s.streets[0].Code
	}
	doc.Title = strings.Fields(scope)[0] + "社区规模现状评估"
	doc.Subtitle = "Assessment of the current community boundaries"
	vf, written, err := dataDates(ctx, s.st, codes, at)
	if err != nil {
		return err
	}
	n := 0
	for _, cs := range s.comms {
		n += len(cs)
	}
	doc.Cover = []Field{
		{Label: "范围 scope", Value: scope},
		{Label: "街道 / 社区 streets / communities", Value: fmt.Sprintf("%d / %d", len(s.streets), n)},
		{Label: "政策依据 profile", Value: s.p.Title + " (" + s.p.Name + ")"},
		{Label: "数据日期 data as of", Value: fmt.Sprintf("边界 valid on %s；最近变更 latest change %s；最近写入 written %s", s.a.At, dateOf(vf), dateOf(written))},
		{Label: "分析 analysis run", Value: fmt.Sprintf("#%d (%s)", s.a.RunID, s.a.GeneratedAt.Format("2006-01-02 15:04"))},
		{Label: "生成时间 generated at", Value: opt.now().Format("2006-01-02 15:04:05 MST")},
	}
	return nil
}
