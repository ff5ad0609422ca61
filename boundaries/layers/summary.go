package layers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
var unitLevels = []boundaries.Level{boundaries.District, boundaries.Street, boundaries.Community, boundaries.Grid}

// findingLevels are the levels whose flagged units the findings list:
// not grids, which a city has by the ten thousand; the map's panel lists a
// community's grids with their statuses, and grid zones are findings.
var findingLevels = unitLevels[:3]

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

// FindingsQuery pages a run's findings: its zones and its flagged units,
// street by street.
type FindingsQuery struct {
	Run      int64
	At       time.Time
	Scenario bool
	Limit    int // 0 = 50
	Offset   int
	// Kind keeps the zones of a kind; with Status "" it drops the units.
	Kind string
	// Status keeps the units of a status (undersized or oversized); with
	// Kind "" it drops the zones.
	Status string
	// Street keeps the street, its communities, their grids and the
	// zones touching them. A bad Kind, Status or Street is a boundaries.QueryError.
	Street string
	// BBox (west, south, east, north, WGS84), when set, keeps the findings
	// whose geometry meets it: the list of what the map shows.
	BBox *[4]float64
}

// Finding is one line of the map's findings list: a zone (Kind, Codes,
// Names, AreaM2) or a flagged unit (Code, Name, Level, Status, Households,
// Reasons). ParentName is the parent's name (of a zone: its first unit's),
// so a planner reads which street a line is in without a click. Street and
// StreetName are the street the line is listed under (a street's own, a
// community's parent, a zone's first unit's); "" for a district.
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
	Street     string   `json:"street,omitempty"`
	StreetName string   `json:"street_name,omitempty"`
	// A disputed_boundary line (disputes.go): the spot's key and kind
	// (boundary, overlap, gap, apart), the streets involved, the tickets
	// reassigned there in Period and their categories.
	Spot        string         `json:"spot,omitempty"`
	SpotKind    string         `json:"spot_kind,omitempty"`
	Streets     []string       `json:"streets,omitempty"`
	StreetNames []string       `json:"street_names,omitempty"`
	Tickets     int            `json:"tickets,omitempty"`
	Disputes    int            `json:"disputes,omitempty"`
	Period      string         `json:"period,omitempty"`
	Categories  map[string]int `json:"categories,omitempty"`
	Lon         float64        `json:"lon,omitempty"`
	Lat         float64        `json:"lat,omitempty"`
}

// parentName is the SQL of the name of alias's parent on day $2.
func parentName(alias string) string {
	return `(SELECT p.name FROM units p WHERE p.code = ` + alias + `.parent_code AND ` + store.AsOf("p", 2) + ` LIMIT 1)`
}

// streetOf is the SQL of the street alias's line is listed under: a
// grid's is its community's parent on day $2.
func streetOf(alias string) string {
	return `CASE ` + alias + `.level WHEN 'street' THEN ` + alias + `.code WHEN 'community' THEN ` + alias + `.parent_code
		WHEN 'grid' THEN (SELECT c.parent_code FROM units c WHERE c.code = ` + alias + `.parent_code AND ` + store.AsOf("c", 2) + ` LIMIT 1) END`
}

// FindingsPage is a page of findings and the totals of the whole
// (filtered) list.
type FindingsPage struct {
	// Disputed counts the disputed_boundary lines, listed first.
	Disputed int       `json:"disputed"`
	Zones    int       `json:"zones"`
	Units    int       `json:"units"`
	Limit    int       `json:"limit"`
	Offset   int       `json:"offset"`
	Items    []Finding `json:"items"`
}

// flaggedUnits is the flagged units of every level meeting where: $1 run,
// $2 day.
func flaggedUnits(scenario bool, cols, where string) string {
	sql := ""
	for i, lvl := range findingLevels {
		l, _ := ByName(lvl.Layer())
		if i > 0 {
			sql += ` UNION ALL `
		}
		sql += `SELECT ` + cols + ` FROM ` + l.From(scenario) + ` AND r.status IN ('undersized', 'oversized') AND ` + where
	}
	return sql
}

// findingsSQL is the filtered findings ($1 run, $2 day, $3 kind, $4
// status, $5 street, $6–$9 bbox or NULLs) with the street each is listed
// under: part 0 the zones, part 1 the units.
func findingsSQL(scenario bool) string {
	inStreet := `($5::text = '' OR u.code = $5 OR u.parent_code = $5 OR (u.level = 'grid' AND ` + streetOf("u") + ` = $5))`
	inBox := func(g string) string {
		return `($6::float8 IS NULL OR ` + g + ` && ST_MakeEnvelope($6, $7::float8, $8::float8, $9::float8, 4326))`
	}
	return `WITH f AS (SELECT 0 part, 0 lo, z.id, z.kind::text kind, z.level::text level, z.codes::text[] codes, z.area_m2::float8 area,
			''::text code, ''::text name, ''::text status, -1::bigint households, '{}'::text[] reasons,
			coalesce(first.parent, '') parent, first.street
		FROM zones z LEFT JOIN LATERAL (SELECT ` + parentName("u") + ` parent, ` + streetOf("u") + ` street
			FROM units u WHERE u.code = z.codes[1] AND ` + store.AsOf("u", 2) + ` LIMIT 1) first ON true
		WHERE z.run_id = $1 AND $2::date IS NOT NULL AND ($3::text <> '' OR $4::text = '') AND ($3 = '' OR z.kind::text = $3)
			AND ($5 = '' OR EXISTS (SELECT 1 FROM units u WHERE u.code = ANY(z.codes) AND ` + store.AsOf("u", 2) + ` AND ` + inStreet + `)) AND ` + inBox("z.geom") + `
		UNION ALL ` + flaggedUnits(scenario, `1, `+levelOrder("u")+`, ''::text, ''::text, u.level::text, ARRAY[u.code]::text[], 0::float8,
			u.code::text, u.name::text, r.status::text, coalesce(r.households, -1)::bigint, coalesce(r.reasons, '{}')::text[],
			coalesce(`+parentName("u")+`, ''), `+streetOf("u"),
		`($4::text <> '' OR $3::text = '') AND ($4 = '' OR r.status::text = $4) AND `+inStreet+` AND `+inBox("u.geom")) + `),
		s AS (SELECT f.*, coalesce((SELECT s.name FROM units s WHERE s.code = f.street AND ` + store.AsOf("s", 2) + ` LIMIT 1), '') street_name FROM f)`
}

// CheckFindings says which of q's filters (Kind, Status, Street on At) is
// bad, as a QueryError. Findings checks them too; a caller answering 304
// from its ETag checks them first, so a bad filter is never a 304.
func (r *Reader) CheckFindings(ctx context.Context, q FindingsQuery) error {
	kinds := make([]string, len(boundaries.ZoneKinds), len(boundaries.ZoneKinds)+1)
	for i, k := range boundaries.ZoneKinds {
		kinds[i] = string(k)
	}
	kinds = append(kinds, DisputedBoundary)
	if q.Kind != "" && !slices.Contains(kinds, q.Kind) {
		return &boundaries.QueryError{Param: "kind", Err: errors.New("want one of " + strings.Join(kinds, ", "))}
	}
	if q.Status != "" && q.Status != string(boundaries.Undersized) && q.Status != string(boundaries.Oversized) {
		return &boundaries.QueryError{Param: "status", Err: fmt.Errorf("want %s or %s", boundaries.Undersized, boundaries.Oversized)}
	}
	if q.Street == "" {
		return nil
	}
	var ok bool
	if err := r.st.Reader().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM units u WHERE u.code = $1 AND u.level = 'street' AND `+store.AsOf("u", 2)+`)`,
		q.Street, q.At).Scan(&ok); err != nil {
		return fmt.Errorf("street %s: %w", q.Street, err)
	}
	if !ok {
		return &boundaries.QueryError{Param: "street", Err: fmt.Errorf("%q is not a street on %s", q.Street, q.At.Format("2006-01-02"))}
	}
	return nil
}

// Findings lists a page of the run's findings (filtered by q.Kind,
// q.Status and q.Street): first the dispute spots (disputes.go), then,
// street by street (by name, the district-level
// ones first), in each its zones (by kind, then id) then its undersized
// and oversized units (by level, then code).
func (r *Reader) Findings(ctx context.Context, q FindingsQuery) (*FindingsPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit, q.Offset = min(q.Limit, 1000), max(q.Offset, 0)
	p := &FindingsPage{Limit: q.Limit, Offset: q.Offset, Items: []Finding{}}
	if err := r.CheckFindings(ctx, q); err != nil {
		return nil, err
	}
	// The dispute spots come first, ranked by tickets; the run's findings
	// page on after them.
	if withDisputes(q) {
		disputed, err := r.DisputeFindings(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("list findings: %w", err)
		}
		p.Disputed = len(disputed)
		p.Items = append(p.Items, disputed[min(q.Offset, len(disputed)):min(q.Offset+q.Limit, len(disputed))]...)
	}
	if q.Kind == DisputedBoundary {
		return p, nil
	}
	limit, offset := q.Limit-len(p.Items), max(0, q.Offset-p.Disputed)
	args := []any{q.Run, q.At, q.Kind, q.Status, q.Street, nil, nil, nil, nil}
	if b := q.BBox; b != nil {
		args[5], args[6], args[7], args[8] = b[0], b[1], b[2], b[3]
	}
	sql := findingsSQL(q.Scenario)
	if err := r.st.Reader().QueryRow(ctx, sql+` SELECT count(*) FILTER (WHERE part = 0)::int, count(*) FILTER (WHERE part = 1)::int FROM f`,
		args...).Scan(&p.Zones, &p.Units); err != nil {
		return nil, fmt.Errorf("count findings: %w", err)
	}
	// Names in the codes' order; a code without a unit on the day is "".
	rows, err := r.st.Reader().Query(ctx, sql+` SELECT part, kind, level, codes, area, code, name, status, households, parent, reasons,
			coalesce(street, ''), street_name,
			CASE WHEN part = 0 THEN ARRAY(SELECT coalesce((SELECT u.name FROM units u WHERE u.code = c.code AND `+store.AsOf("u", 2)+` LIMIT 1), '')
				FROM unnest(codes) WITH ORDINALITY c(code, i) ORDER BY c.i) END
		FROM s ORDER BY street IS NOT NULL, street_name, street, part, lo, kind, id, code LIMIT $10 OFFSET $11`, append(args, limit, offset)...)
	if err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	var f Finding
	var part int
	var area float64
	var hh int64 // -1: not counted
	if _, err := pgx.ForEachRow(rows, []any{&part, &f.Kind, &f.Level, &f.Codes, &area, &f.Code, &f.Name, &f.Status, &hh, &f.ParentName, &f.Reasons,
		&f.Street, &f.StreetName, &f.Names}, func() error {
		it := f
		if part == 0 {
			a := area
			it.AreaM2, it.Reasons = &a, nil
		} else {
			it.Names = nil
			if hh >= 0 {
				h := hh
				it.Households = &h
			}
		}
		p.Items = append(p.Items, it)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
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

// DataDates are the first and the last day (YYYY-MM-DD) any unit is valid; last is nil
// while some unit is still valid (the data reaches today).
func (r *Reader) DataDates(ctx context.Context) (first, last *string, err error) {
	if err := r.st.Reader().QueryRow(ctx, `SELECT to_char(min(valid_from), 'YYYY-MM-DD'),
			CASE WHEN bool_or(valid_to IS NULL) THEN NULL ELSE to_char(max(valid_to) - 1, 'YYYY-MM-DD') END FROM units`).Scan(&first, &last); err != nil {
		return nil, nil, fmt.Errorf("data dates: %w", err)
	}
	return first, last, nil
}
