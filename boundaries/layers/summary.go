package layers

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// The map's summary and findings: counted and binned in SQL, so what the
// page loads does not grow with the number of units.

// SummaryQuery names one run to summarise.
type SummaryQuery struct {
	Run      int64     // see Reader.Run
	At       time.Time // the run's day
	Scenario bool      // the run is a scenario's (see Layer.From)
	Street   string    // "" = the histogram of the whole city, else of this street's communities
}

// Summary is a run's counts and community household histogram.
type Summary struct {
	Run int64 `json:"run"`
	// Status counts units per level, then per status.
	Status map[string]map[string]int `json:"status"`
	// Zones counts zones per kind.
	Zones map[string]int `json:"zones"`
	// Households counts the communities (of the street, if given) with
	// households counted; Bins splits them on the shared scale.
	Households int   `json:"households"`
	Bins       []int `json:"bins"`
}

// unitLevels are the unit layers' levels, coarse to fine.
var unitLevels = []boundaries.Level{boundaries.District, boundaries.Street, boundaries.Community}

// Summaries summarises runs on one histogram scale: nbins bins of equal
// width from 0 to top, top being minTop or the largest community's
// households, whichever is more (so a run and its scenario compare bar by
// bar).
func (r *Reader) Summaries(ctx context.Context, qs []SummaryQuery, minTop float64, nbins int) (top float64, out []Summary, err error) {
	comm, _ := ByName(boundaries.Community.Layer())
	top = max(minTop, 1)
	for _, q := range qs {
		var m *float64
		if err := r.st.Reader().QueryRow(ctx, `SELECT max(r.households)::float8 FROM `+comm.From(q.Scenario)+`
			AND ($3 = '' OR u.parent_code = $3)`, q.Run, q.At, q.Street).Scan(&m); err != nil {
			return 0, nil, fmt.Errorf("histogram scale: %w", err)
		}
		if m != nil {
			top = max(top, *m)
		}
	}
	for _, q := range qs {
		s, err := r.summary(ctx, q, top, nbins)
		if err != nil {
			return 0, nil, err
		}
		out = append(out, s)
	}
	return top, out, nil
}

func (r *Reader) summary(ctx context.Context, q SummaryQuery, top float64, nbins int) (Summary, error) {
	s := Summary{Run: q.Run, Status: map[string]map[string]int{}, Zones: map[string]int{}, Bins: make([]int, nbins)}
	sql := ""
	for i, lvl := range unitLevels {
		l, _ := ByName(lvl.Layer())
		if i > 0 {
			sql += ` UNION ALL `
		}
		sql += `SELECT '` + string(lvl) + `', coalesce(r.status, 'unknown'), count(*)::int FROM ` + l.From(q.Scenario) + ` GROUP BY 2`
	}
	sql += ` UNION ALL SELECT 'zones', z.kind, count(*)::int FROM zones z WHERE z.run_id = $1 AND $2::date IS NOT NULL GROUP BY 2`
	rows, err := r.st.Reader().Query(ctx, sql, q.Run, q.At)
	if err != nil {
		return s, fmt.Errorf("summary counts: %w", err)
	}
	var key, status string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&key, &status, &n}, func() error {
		if key == "zones" {
			s.Zones[status] = n
		} else if s.Status[key] == nil {
			s.Status[key] = map[string]int{status: n}
		} else {
			s.Status[key][status] = n
		}
		return nil
	}); err != nil {
		return s, fmt.Errorf("summary counts: %w", err)
	}
	comm, _ := ByName(boundaries.Community.Layer())
	rows, err = r.st.Reader().Query(ctx, `SELECT least($5::int - 1, floor(r.households / ($4::float8 / $5::int)))::int, count(*)::int
		FROM `+comm.From(q.Scenario)+` AND r.households IS NOT NULL AND ($3 = '' OR u.parent_code = $3)
		GROUP BY 1`, q.Run, q.At, q.Street, top, nbins)
	if err != nil {
		return s, fmt.Errorf("histogram: %w", err)
	}
	var bin int
	if _, err := pgx.ForEachRow(rows, []any{&bin, &n}, func() error {
		s.Bins[max(bin, 0)] += n
		s.Households += n
		return nil
	}); err != nil {
		return s, fmt.Errorf("histogram: %w", err)
	}
	return s, nil
}

// FindingsQuery pages a run's findings: its zones, then its flagged units.
type FindingsQuery struct {
	Run      int64
	At       time.Time
	Scenario bool
	Limit    int // 0 = 50
	Offset   int
}

// Finding is one line of the map's findings list: a zone (Kind, Codes,
// Names, AreaM2) or a flagged unit (Code, Name, Level, Status, Households,
// Reasons). ParentName is the parent's name (of a zone: its first unit's),
// so a planner reads which street a line is in without a click.
type Finding struct {
	Kind       string   `json:"kind,omitempty"`
	Codes      []string `json:"codes"`
	Names      []string `json:"names,omitempty"`
	AreaM2     *float64 `json:"area_m2,omitempty"`
	Code       string   `json:"code,omitempty"`
	Name       string   `json:"name,omitempty"`
	Level      string   `json:"level,omitempty"`
	ParentName string   `json:"parent_name,omitempty"`
	Status     string   `json:"status,omitempty"`
	Households *int64   `json:"households,omitempty"`
	Reasons    []string `json:"reasons,omitempty"`
}

// parentName is the SQL of the name of alias's parent on day $2.
func parentName(alias string) string {
	return `(SELECT p.name FROM units p WHERE p.code = ` + alias + `.parent_code AND ` + store.AsOf("p", 2) + ` LIMIT 1)`
}

// FindingsPage is a page of findings and the totals of the whole list.
type FindingsPage struct {
	Zones  int       `json:"zones"`
	Units  int       `json:"units"`
	Limit  int       `json:"limit"`
	Offset int       `json:"offset"`
	Items  []Finding `json:"items"`
}

// flaggedUnits is the flagged units of every level: $1 run, $2 day.
func flaggedUnits(scenario bool, cols string) string {
	sql := ""
	for i, lvl := range unitLevels {
		l, _ := ByName(lvl.Layer())
		if i > 0 {
			sql += ` UNION ALL `
		}
		sql += `SELECT ` + cols + ` FROM ` + l.From(scenario) + ` AND r.status IN ('undersized', 'oversized')`
	}
	return sql
}

// Findings lists a page of the run's zones (by kind, then id) followed by
// its undersized and oversized units (by level, then code).
func (r *Reader) Findings(ctx context.Context, q FindingsQuery) (*FindingsPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit, q.Offset = min(q.Limit, 1000), max(q.Offset, 0)
	p := &FindingsPage{Limit: q.Limit, Offset: q.Offset, Items: []Finding{}}
	if err := r.st.Reader().QueryRow(ctx, `SELECT (SELECT count(*)::int FROM zones WHERE run_id = $1 AND $2::date IS NOT NULL),
		(SELECT count(*)::int FROM (`+flaggedUnits(q.Scenario, "1")+`) f)`, q.Run, q.At).Scan(&p.Zones, &p.Units); err != nil {
		return nil, fmt.Errorf("count findings: %w", err)
	}
	if q.Offset < p.Zones {
		// Names in the codes' order; a code without a unit on the day is "".
		rows, err := r.st.Reader().Query(ctx, `SELECT z.kind, z.level, z.codes, z.area_m2,
				ARRAY(SELECT coalesce((SELECT u.name FROM units u WHERE u.code = c.code AND `+store.AsOf("u", 2)+` LIMIT 1), '')
					FROM unnest(z.codes) WITH ORDINALITY c(code, i) ORDER BY c.i),
				coalesce((SELECT `+parentName("u")+` FROM units u WHERE u.code = z.codes[1] AND `+store.AsOf("u", 2)+` LIMIT 1), '')
			FROM zones z WHERE z.run_id = $1 AND $2::date IS NOT NULL
			ORDER BY z.kind, z.id LIMIT $3 OFFSET $4`, q.Run, q.At, q.Limit, q.Offset)
		if err != nil {
			return nil, fmt.Errorf("list zones: %w", err)
		}
		var f Finding
		var area float64
		if _, err := pgx.ForEachRow(rows, []any{&f.Kind, &f.Level, &f.Codes, &area, &f.Names, &f.ParentName}, func() error {
			a := area
			p.Items = append(p.Items, Finding{Kind: f.Kind, Level: f.Level, Codes: f.Codes, Names: f.Names, ParentName: f.ParentName, AreaM2: &a})
			return nil
		}); err != nil {
			return nil, fmt.Errorf("list zones: %w", err)
		}
	}
	if left := q.Limit - len(p.Items); left > 0 {
		rows, err := r.st.Reader().Query(ctx, `SELECT code, name, level, status, coalesce(households, -1), parent, reasons FROM (`+
			flaggedUnits(q.Scenario, store.LevelOrder("u")+` lo, u.code, u.name, u.level, r.status, r.households,
				coalesce(`+parentName("u")+`, '') parent, coalesce(r.reasons, '{}') reasons`)+`) f
			ORDER BY lo, code LIMIT $3 OFFSET $4`, q.Run, q.At, left, max(0, q.Offset-p.Zones))
		if err != nil {
			return nil, fmt.Errorf("list flagged units: %w", err)
		}
		var f Finding
		var hh int64 // -1: not counted
		if _, err := pgx.ForEachRow(rows, []any{&f.Code, &f.Name, &f.Level, &f.Status, &hh, &f.ParentName, &f.Reasons}, func() error {
			u := f
			u.Codes = []string{f.Code}
			if hh >= 0 {
				h := hh
				u.Households = &h
			}
			p.Items = append(p.Items, u)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("list flagged units: %w", err)
		}
	}
	return p, nil
}

// Ancestor is a unit's parent or grandparent, for the panel's links.
type Ancestor struct {
	Code  string `json:"code"`
	Name  string `json:"name"`
	Level string `json:"level"`
}

// Ancestors lists the parent, then the grandparent, of code on day at.
func (r *Reader) Ancestors(ctx context.Context, code string, at time.Time) ([]Ancestor, error) {
	rows, err := r.st.Reader().Query(ctx, `WITH RECURSIVE up(code, depth) AS (
			SELECT u.parent_code, 1 FROM units u WHERE u.code = $1 AND `+store.AsOf("u", 2)+` AND u.parent_code IS NOT NULL
			UNION ALL
			SELECT u.parent_code, up.depth + 1 FROM up JOIN units u ON u.code = up.code AND `+store.AsOf("u", 2)+`
			WHERE u.parent_code IS NOT NULL AND up.depth < 2)
		SELECT u.code, u.name, u.level FROM up JOIN units u ON u.code = up.code AND `+store.AsOf("u", 2)+` ORDER BY up.depth`, code, at)
	if err != nil {
		return nil, fmt.Errorf("ancestors of %s: %w", code, err)
	}
	out := []Ancestor{}
	var a Ancestor
	if _, err := pgx.ForEachRow(rows, []any{&a.Code, &a.Name, &a.Level}, func() error {
		out = append(out, a)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("ancestors of %s: %w", code, err)
	}
	return out, nil
}

// DataDates are the first and the last day any unit is valid; last is nil
// while some unit is still valid (the data reaches today).
func (r *Reader) DataDates(ctx context.Context) (first, last *time.Time, err error) {
	if err := r.st.Reader().QueryRow(ctx, `SELECT min(valid_from),
			CASE WHEN bool_or(valid_to IS NULL) THEN NULL ELSE max(valid_to) - 1 END FROM units`).Scan(&first, &last); err != nil {
		return nil, nil, fmt.Errorf("data dates: %w", err)
	}
	return first, last, nil
}
