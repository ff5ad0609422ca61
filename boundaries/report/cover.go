package report

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/jiedao/jiedao/boundaries/scenario"
)

// cover fills the scenario report's title and cover page.
func (s *scenarioState) cover(ctx context.Context, doc *Document, now time.Time) error {
	streets := s.streetCodes()
	districts := s.districts()
	nm, err := names(ctx, s.st, districts, s.at)
	if err != nil {
		return err
	}
	var sn []string
	for _, x := range s.streets {
		sn = append(sn, nonEmpty(x.Name, x.Code))
	}
	doc.Title = scopeTitle(sn) + "社区规模调整方案"
	if doc.Draft {
		doc.Title += "（草案）"
	}
	doc.Subtitle = "Community boundary adjustment proposal · scenario " + s.sc.Name
	vf, written, err := dataDates(ctx, s.st, streets, s.at)
	if err != nil {
		return err
	}
	var ds []string
	for _, d := range districts {
		ds = append(ds, d+" "+nonEmpty(nm[d], "(区名未加载 district not loaded)"))
	}
	var ss []string
	for _, x := range s.streets {
		ss = append(ss, nonEmpty(x.Name, "—")+" "+x.Code)
	}
	approval, validFrom := "", ""
	if s.sc.Approval != nil {
		approval = *s.sc.Approval
	}
	if s.validFrom != nil {
		validFrom = s.validFrom.Format("2006-01-02")
	}
	doc.Cover = []Field{
		{Label: "涉及街道 streets", Value: strings.Join(ss, "；")},
		{Label: "所属区 district", Value: strings.Join(ds, "；")},
		{Label: "政策依据 profile", Value: s.p.Title + " (" + s.p.Name + ")"},
		{Label: "数据日期 data as of", Value: fmt.Sprintf("边界 valid on %s；最近变更 latest change %s；最近写入 written %s",
			s.at.Format("2006-01-02"), dateOf(vf), dateOf(written))},
		{Label: "分析 analysis runs", Value: fmt.Sprintf("调整前 before #%d，调整后 after #%d", s.before.RunID, s.after.RunID)},
		{Label: "生成时间 generated at", Value: now.Format("2006-01-02 15:04:05 MST")},
		{Label: "方案编号 scenario", Value: fmt.Sprintf("#%d %s (created %s)", s.sc.ID, s.sc.Name, s.sc.CreatedAt.Format("2006-01-02"))},
		{Label: "批复文号 approval", Value: approval, Blank: approval == ""},
		{Label: "生效日期 valid_from", Value: validFrom, Blank: validFrom == ""},
	}
	return nil
}

// scopeTitle names up to three streets, else the first and a count.
func scopeTitle(streets []string) string {
	if len(streets) <= 3 {
		return strings.Join(streets, "、")
	}
	return fmt.Sprintf("%s等%d个街道", streets[0], len(streets))
}

// annex lists code changes, retired codes, grids and the plan's
// parameters.
func (s *scenarioState) annex(ctx context.Context) (*Annex, error) {
	ax := &Annex{}
	streets := s.streetCodes()
	var olds []string
	for old := range s.lin {
		olds = append(olds, old)
	}
	sort.Strings(olds)
	for _, old := range olds {
		b, ok := s.bu[old]
		if !ok || !inStreets(b, streets) {
			continue
		}
		note := "分设 split"
		if s.inScenario[old] == "removed" {
			note = "撤销并入 merged, code retired"
		}
		ax.CodeChanges = append(ax.CodeChanges, CodeChange{Old: old, OldName: b.Name, New: strings.Join(s.lin[old], "、"), Note: note})
	}
	for _, c := range s.sc.Codes {
		if s.inScenario[c] == "new" && len(s.from[c]) == 0 && inStreets(s.au[c], streets) {
			ax.CodeChanges = append(ax.CodeChanges, CodeChange{Old: "—", New: c, Note: "新设 new"})
		}
	}
	for _, c := range s.sc.Removed {
		if inStreets(s.bu[c], streets) {
			ax.Retired = append(ax.Retired, Field{Label: c, Value: s.bu[c].Name})
		}
	}
	grids, loaded, err := gridsTouched(ctx, s.st, s.sc.ID)
	switch {
	case err != nil:
		// A grids table of another shape is not this report's to fail on.
		slog.Warn("report: grids unreadable", "err", err)
		ax.GridsNote = "网格表无法读取 (grids table unreadable: want code, name, geom)"
	case !loaded:
		ax.GridsNote = "未加载网格 (no grids loaded)"
	case len(grids) == 0:
		ax.GridsNote = "无受影响网格 (no grid affected)"
	}
	ax.Grids = grids
	ax.Params = s.params()
	for _, op := range s.plan.Operations {
		line := fmt.Sprintf("%s %s → %s", op.Kind, strings.Join(op.From, "+"), strings.Join(op.To, "+"))
		if op.HouseholdsMoved > 0 {
			line += fmt.Sprintf("，%s 户", thousands(op.HouseholdsMoved))
		}
		if op.Method != "" {
			line += "，" + op.Method
		}
		ax.Ops = append(ax.Ops, line)
	}
	if ax.Edits, err = scenario.Edits(ctx, s.st, s.sc.ID); err != nil {
		return nil, err
	}
	return ax, nil
}

// params are the plan's parameters, so the result can be made again.
func (s *scenarioState) params() []Field {
	pl := s.plan
	nr := "未记录 (not recorded)"
	seed := nr
	if pl.Seed != nil {
		seed = fmt.Sprint(*pl.Seed)
	}
	method := pl.Method
	if method == "" {
		for _, op := range pl.Operations {
			if op.Method != "" && !contains(strings.Split(method, "; "), op.Method) {
				method = strings.TrimPrefix(method+"; "+op.Method, "; ")
			}
		}
	}
	if pl.MethodNote != "" {
		method += " (" + pl.MethodNote + ")"
	}
	planID := nr
	if pl.PlanID != nil {
		planID = fmt.Sprint(*pl.PlanID)
	}
	out := []Field{
		{Label: "种子 seed", Value: seed},
		{Label: "方法 method", Value: nonEmpty(method, nr)},
		{Label: "范围 scope", Value: nonEmpty(pl.Scope, nr)},
		{Label: "规划日期 plan at", Value: nonEmpty(pl.At, nr)},
		{Label: "方案文件 plan", Value: nonEmpty(pl.Source, "plan "+planID)},
		{Label: "政策 profile", Value: nonEmpty(pl.Profile, s.sc.Profile)},
	}
	if pl.Order != "" {
		out = append(out, Field{Label: "顺序 order", Value: pl.Order})
	}
	if pl.Seed != nil && pl.Scope != "" && pl.At != "" {
		cmd := fmt.Sprintf("jiedao plan --%s --seed %d --at %s --profile %s", pl.Scope, *pl.Seed, pl.At, nonEmpty(pl.Profile, s.sc.Profile))
		if contains([]string{"auto", "blocks", "cuts"}, pl.Method) {
			cmd += " --method " + pl.Method
		}
		out = append(out, Field{Label: "复现 reproduce", Value: cmd + " --format geojson"})
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func nonEmpty(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
