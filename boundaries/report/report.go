// Package report writes the documents a boundary change is decided on:
// the adjustment proposal of a scenario (调整方案) and the assessment of the
// live boundaries (现状评估). Each is one print-ready HTML file (A4, inline
// CSS and SVG maps drawn here from the geometries, so it opens offline),
// and a PDF printed from it by headless Chromium. Measures and verdicts are
// the stored analysis runs', so a report agrees with the map and the API.
package report

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/scenario"
)

// Options choose a report's scope and day.
type Options struct {
	// Profile judges the units (nil: the scenario's, else beijing-2020).
	Profile *analysis.Profile
	// At is the day of the boundaries (zero: today; for an adopted
	// scenario, the day before its versions took effect).
	At time.Time
	// Street limits a report to one street; District (status only) to
	// the streets of a district.
	Street, District string
	// Now stamps the generated-at time (nil: time.Now).
	Now func() time.Time
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Kinds of document.
const (
	KindScenario = "scenario"
	KindStatus   = "status"
)

// Document is a report ready to render.
type Document struct {
	Kind     string
	Title    string
	Subtitle string
	Draft    bool // a scenario not adopted: the approval is left blank
	Cover    []Field
	// Summary is the counts table: rows of label, before, after (status
	// reports leave After empty).
	Summary  []SummaryRow
	Facts    []Field // households moved, units changed …
	Problems []Problem
	Streets  []StreetSection
	Clauses  []Clause
	Sources  []string
	Annex    *Annex
	Status   *StatusPart
}

// Field is a labelled value; Blank marks a field left to fill in by hand.
type Field struct {
	Label, Value string
	Blank        bool
}

// SummaryRow is one line of a before → after table.
type SummaryRow struct {
	Label         string
	Before, After string
	Changed       bool
}

// Problem is a unit or zone that stays out of the rules, with the reason.
type Problem struct {
	Code, Name, Status, Reason string
	Street                     string // status reports: the street's name
}

// StreetSection is one street's pages: maps and its communities.
type StreetSection struct {
	Code, Name  string
	Side        bool          // before and after side by side (a tall street)
	Before      template.HTML // map
	After       template.HTML // map (scenario reports)
	Map         template.HTML // map (status reports)
	Rows        []Row
	Zones       []ZoneRow
	Note        string
	Communities int
}

// Row is one community in a table.
type Row struct {
	Code, Name            string
	Households            *int64
	Population            *int64
	AreaKM2               float64
	Density               *float64
	StaffMin, StaffMax    *int64
	Status                boundaries.Status
	Reasons               []string
	Change                string // changed, new, removed ("" unchanged)
	BeforeAfter, NewCodes string
}

// ZoneRow is one zone in a table.
type ZoneRow struct {
	Kind, Codes string
	AreaM2      float64
	Households  *int64
}

// Clause is one threshold of the profile and where it comes from.
type Clause struct {
	Rule, Value, Source string
}

// Annex holds a scenario's code changes, grids and plan parameters.
type Annex struct {
	CodeChanges []CodeChange
	Retired     []Field
	Grids       []string
	GridsNote   string
	Params      []Field
	Ops         []string
	// Edits are the draft's writes (from QGIS, OGC API Part 4), oldest first.
	Edits []scenario.EditRecord
}

// CodeChange is a community code before and after.
type CodeChange struct {
	Old, OldName, New, Note string
}

// StatusPart is what only the status report has.
type StatusPart struct {
	Histogram, Density template.HTML
	StreetRows         []StreetRow
	StaffMin, StaffMax int64
	Overview           template.HTML
	Omitted            int // streets with findings beyond the pages drawn
}

// StreetRow is one street in the status report's table.
type StreetRow struct {
	Code, Name           string
	Communities, Flagged int
	Households           int64
	Population           *int64
	AreaKM2              float64
	Density              *float64
	Status               boundaries.Status
	Reasons              []string
	StaffMin, StaffMax   int64
}

// statusText names a status in Chinese with its English field value.
var statusText = map[boundaries.Status]string{
	boundaries.Undersized: "偏小 undersized", boundaries.Normal: "正常 normal",
	boundaries.Oversized: "偏大 oversized", boundaries.Unknown: "未知 unknown",
}

// shortStatus is a status in a table cell (the header gives the field).
var shortStatus = map[boundaries.Status]string{
	boundaries.Undersized: "偏小", boundaries.Normal: "正常", boundaries.Oversized: "偏大", boundaries.Unknown: "未知",
}

// zoneText names a zone kind.
var zoneText = map[boundaries.ZoneKind]string{
	boundaries.CrossesParent: "跨越上级边界 crosses_parent", boundaries.Overlap: "重叠 overlap", boundaries.Gap: "空隙 gap",
	boundaries.Noncontiguous: "不连续 noncontiguous", boundaries.Orphan: "无上级 orphan",
}

// clauses lists every threshold of a profile that is on, with its source:
// the community rules, the street class applying to the districts (all
// classes when none is known), the zone tolerances. sources are the
// documents cited, once each.
func clauses(p *analysis.Profile, districts []string) ([]Clause, []string) {
	var out []Clause
	var docs []string
	add := func(rule string, n analysis.Number, unit string) {
		if !n.On() {
			return
		}
		out = append(out, Clause{Rule: rule, Value: strings.TrimSpace(trimFloat(n.Float()) + " " + unit), Source: n.Source})
		if doc, _, _ := strings.Cut(n.Source, ":"); strings.TrimSpace(doc) != "" {
			docs = append(docs, strings.TrimSpace(doc))
		}
	}
	c := p.Community
	add("社区一般规模 normal_households", c.NormalHouseholds, "户")
	add("社区一般人口 normal_population", c.NormalPopulation, "人")
	add("社区户数上限 max_households (超过应拆分)", c.MaxHouseholds, "户")
	add("社区人口上限 max_population", c.MaxPopulation, "人")
	add("社区户数下限 min_households (不足应合并)", c.MinHouseholds, "户")
	add("社工配备 staff_households_per_worker_low", c.StaffPerWorkerLow, "户/人")
	add("社工配备 staff_households_per_worker_high", c.StaffPerWorkerHigh, "户/人")
	add("社工最少 staff_minimum", c.StaffMinimum, "人")
	for _, cl := range streetClasses(p, districts) {
		add("街道面积下限 min_area_km2 · "+cl.Name, cl.MinAreaKM2, "km²")
		add("街道人口下限 min_population · "+cl.Name, cl.MinPopulation, "人")
		add("街道人口上限 max_population · "+cl.Name, cl.MaxPopulation, "人")
	}
	add("问题区最小面积 min_zone_area_m2", p.Zones.MinZoneAreaM2, "m²")
	add("越界容差 min_outside_share", p.Zones.MinOutsideShare, "")
	return out, documents(docs)
}

// documents dedupes cited documents, keeping the longest of those one
// names as a prefix of another ("京社领办发〔2020〕7号" and "京社领办发〔2020〕7号
// 北京市社区居民委员会设立标准" are one).
func documents(docs []string) []string {
	var out []string
	for _, d := range docs {
		merged := false
		for i, o := range out {
			switch {
			case strings.HasPrefix(o, d):
				merged = true
			case strings.HasPrefix(d, o):
				out[i], merged = d, true
			}
		}
		if !merged {
			out = append(out, d)
		}
	}
	return out
}

// streetClasses are the classes applying to the districts: the one
// naming each, else the default class.
func streetClasses(p *analysis.Profile, districts []string) []analysis.StreetClass {
	if len(districts) == 0 {
		return p.Street.Classes
	}
	var out []analysis.StreetClass
	seen := map[string]bool{}
	for _, d := range districts {
		k := slices.IndexFunc(p.Street.Classes, func(c analysis.StreetClass) bool { return slices.Contains(c.Districts, d) })
		if k < 0 {
			k = slices.IndexFunc(p.Street.Classes, func(c analysis.StreetClass) bool { return len(c.Districts) == 0 })
		}
		if k >= 0 && !seen[p.Street.Classes[k].Name] {
			seen[p.Street.Classes[k].Name] = true
			out = append(out, p.Street.Classes[k])
		}
	}
	return out
}

func trimFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return thousands(int64(f))
	}
	return fmt.Sprintf("%g", f)
}

// rowOf is a community's row from its analysis result.
func rowOf(u analysis.UnitResult) Row {
	return Row{Code: u.Code, Name: u.Name, Households: u.Households, Population: u.Population, AreaKM2: u.AreaKM2,
		Density: u.Density, StaffMin: u.StaffMin, StaffMax: u.StaffMax, Status: u.Status, Reasons: u.Reasons}
}

// statusClass is a shape's CSS class for a status.
func statusClass(s boundaries.Status) string {
	if s == "" {
		s = boundaries.Unknown
	}
	return "st-" + string(s)
}

// statusLegend is the legend of the status fills.
func statusLegend() []LegendItem {
	return []LegendItem{{Class: statusClass(boundaries.Normal), Text: "正常 normal"},
		{Class: statusClass(boundaries.Undersized), Text: "偏小 undersized"},
		{Class: statusClass(boundaries.Oversized), Text: "偏大 oversized"}}
}

// hh writes a households figure for a label.
func hh(n *int64) string {
	if n == nil {
		return "— 户"
	}
	return thousands(*n) + " 户"
}

// shapeOf makes a map shape of a geometry row.
func shapeOf(g geomRow, class string, label ...string) Shape {
	at := g.Label
	return Shape{Code: g.Code, Class: class, Polygons: g.Polygons, Label: label, LabelAt: &at, Area: g.AreaM2}
}

// outlines are street outlines to draw over the communities.
func outlines(gs []geomRow) []Shape {
	out := make([]Shape, len(gs))
	for i, g := range gs {
		out[i] = Shape{Code: g.Code, Class: "street", Polygons: g.Polygons}
	}
	return out
}

func byCode(us []analysis.UnitResult) map[string]analysis.UnitResult {
	m := make(map[string]analysis.UnitResult, len(us))
	for _, u := range us {
		m[u.Code] = u
	}
	return m
}

func dateOf(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return t.Format("2006-01-02")
}
