package layers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// The JSON API's reads. Units are rendered from the layer registry's fields
// (the same SQL as tiles, OGC API and downloads, so every face shows the
// same status and measures), plus the version's approval and source.

// PageQuery filters Page.
type PageQuery struct {
	Level  boundaries.Level  // "" = all levels
	Parent string            // "" = any
	Q      string            // substring of the name, or prefix of the code
	Status boundaries.Status // "" = any
	At     time.Time         // zero = today
	Run    int64             // analysis run giving the statuses (see Reader.Run)
	Limit  int               // 0 = 100
	Offset int               // rows skipped (after Cursor, when both are given)
	// Cursor is Page.Next of the previous page: the page starts after it,
	// by keyset, so every page costs the same. A malformed one is a
	// QueryError on "cursor".
	Cursor string
}

// Page is one page of units with the total matching.
type Page struct {
	Total  int               `json:"total"`
	Limit  int               `json:"limit"`
	Offset int               `json:"offset"`
	Next   *string           `json:"next"` // cursor of the next page, null on the last
	Items  []json.RawMessage `json:"items"`
	// lastKey is the sort key of the last item.
	lastKey unitKey
}

// unitJSON is a unit version as one JSON object: the registry's fields and
// the version's approval and source.
func unitJSON() string {
	l, _ := ByName(boundaries.Community.Layer())
	return `(` + l.propsJSON() + `)::jsonb || jsonb_build_object('approval', u.approval, 'source', u.source)`
}

// levelOrder is the SQL sort key of alias's level, top down (1 for
// districts), over every level boundaries.Levels lists, grids included.
func levelOrder(alias string) string {
	names := make([]string, len(boundaries.Levels))
	for i, l := range boundaries.Levels {
		names[i] = "'" + string(l) + "'"
	}
	return `array_position(ARRAY[` + strings.Join(names, ",") + `], ` + alias + `.level)`
}

// unitsFrom is the unit layers' FROM clause for every level: $1 run, $2 day.
const unitsFrom = `units u LEFT JOIN analysis_units r ON r.run_id = $1 AND r.code = u.code WHERE `

// Page lists the units valid on a day, by level then code (then version).
// The page's version ids are chosen first over the narrow rows (keyset
// after the cursor, and/or OFFSET), and JSON is built for those only.
func (r *Reader) Page(ctx context.Context, q PageQuery) (*Page, error) {
	var after *unitKey
	if q.Cursor != "" {
		k, err := parseUnitCursor(q.Cursor)
		if err != nil {
			return nil, err
		}
		after = &k
	}
	if q.At.IsZero() {
		q.At = today()
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, units.MaxPageSize)
	where := store.AsOf("u", 2) + ` AND ($3 = '' OR u.level = $3) AND ($4 = '' OR u.parent_code = $4)
		AND ($5 = '' OR u.name ILIKE '%' || $5 || '%' OR u.code LIKE $5 || '%')
		AND ($6 = '' OR coalesce(r.status, 'unknown') = $6)`
	args := []any{q.Run, q.At, string(q.Level), q.Parent, units.LikeEscape(strings.TrimSpace(q.Q)), string(q.Status)}
	page := &Page{Limit: q.Limit, Offset: q.Offset, Items: []json.RawMessage{}}
	if err := r.st.Reader().QueryRow(ctx, `SELECT count(*) FROM `+unitsFrom+where, args...).Scan(&page.Total); err != nil {
		return nil, fmt.Errorf("count units: %w", err)
	}
	lo := levelOrder("u")
	keyset := ""
	if after != nil {
		keyset = ` AND (` + lo + `, u.code, u.version_id) > ($9::int, $10::text, $11::bigint)`
	}
	args = append(args, q.Limit+1, q.Offset)
	if after != nil {
		args = append(args, after.Level, after.Code, after.Version)
	}
	rows, err := r.st.Reader().Query(ctx, `WITH page AS (
			SELECT `+lo+` AS lo, u.code, u.version_id FROM `+unitsFrom+where+keyset+`
			ORDER BY 1, 2, 3 LIMIT $7 OFFSET $8)
		SELECT p.lo, p.code, p.version_id, `+unitJSON()+`
		FROM page p JOIN units u ON u.version_id = p.version_id
			LEFT JOIN analysis_units r ON r.run_id = $1 AND r.code = u.code
		ORDER BY 1, 2, 3`, args...)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	var k unitKey
	var b []byte
	if _, err := pgx.ForEachRow(rows, []any{&k.Level, &k.Code, &k.Version, &b}, func() error {
		if len(page.Items) == q.Limit {
			next := page.lastKey.cursor()
			page.Next = &next
			return nil
		}
		page.Items = append(page.Items, json.RawMessage(b))
		page.lastKey = k
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	return page, nil
}

// Doc is one unit version as JSON with its version id (the ETag).
type Doc struct {
	VersionID int64
	JSON      json.RawMessage
}

// Unit returns the version of a unit valid on a day with the analysis of
// run; geometry adds the GeoJSON geometry. ErrNotFound when the code names
// no unit on that day.
func (r *Reader) Unit(ctx context.Context, code string, at time.Time, run int64, geometry bool) (*Doc, error) {
	if at.IsZero() {
		at = today()
	}
	obj := unitJSON()
	if geometry {
		obj += ` || jsonb_build_object('geometry', ST_AsGeoJSON(u.geom, 7)::jsonb)`
	}
	var d Doc
	var b []byte
	err := r.st.Reader().QueryRow(ctx, `SELECT u.version_id, `+obj+` FROM `+unitsFrom+store.AsOf("u", 2)+` AND u.code = $3`, run, at, code).Scan(&d.VersionID, &b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("unit %s on %s: %w", code, at.Format("2006-01-02"), boundaries.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("unit %s: %w", code, err)
	}
	d.JSON = b
	return &d, nil
}

// Stats are totals of the units of one level.
type Stats struct {
	Level      boundaries.Level          `json:"level"`
	Units      int                       `json:"units"`
	Households *int64                    `json:"households"`
	Population *int64                    `json:"population"`
	AreaKM2    float64                   `json:"area_km2"`
	Status     map[boundaries.Status]int `json:"status"`
}

// Stats totals the units valid on a day per level (level "" = every
// level), optionally only the children of parent.
func (r *Reader) Stats(ctx context.Context, level boundaries.Level, parent string, at time.Time, run int64) ([]Stats, error) {
	if at.IsZero() {
		at = today()
	}
	rows, err := r.st.Reader().Query(ctx, `SELECT u.level, count(*)::int, sum(coalesce(r.households, u.households))::bigint,
			sum(coalesce(r.population, u.population))::bigint, coalesce(sum(coalesce(r.area_km2, ST_Area(u.geom::geography) / 1e6)), 0),
			count(*) FILTER (WHERE r.status = 'undersized')::int, count(*) FILTER (WHERE r.status = 'normal')::int,
			count(*) FILTER (WHERE r.status = 'oversized')::int, count(*) FILTER (WHERE coalesce(r.status, 'unknown') = 'unknown')::int
		FROM `+unitsFrom+store.AsOf("u", 2)+` AND ($3 = '' OR u.level = $3) AND ($4 = '' OR u.parent_code = $4)
		GROUP BY u.level ORDER BY `+levelOrder("u"), run, at, string(level), parent)
	if err != nil {
		return nil, fmt.Errorf("unit stats: %w", err)
	}
	defer rows.Close()
	out := []Stats{}
	for rows.Next() {
		var st Stats
		var lvl string
		var under, normal, over, unknown int
		if err := rows.Scan(&lvl, &st.Units, &st.Households, &st.Population, &st.AreaKM2, &under, &normal, &over, &unknown); err != nil {
			return nil, fmt.Errorf("unit stats: %w", err)
		}
		st.Level = boundaries.Level(lvl)
		st.Status = map[boundaries.Status]int{boundaries.Undersized: under, boundaries.Normal: normal, boundaries.Oversized: over, boundaries.Unknown: unknown}
		out = append(out, st)
	}
	return out, rows.Err()
}

// Version renders one unit version as the API does, with the measures of
// analysis run (0: none): what a write answers.
func (r *Reader) Version(ctx context.Context, versionID, run int64) (json.RawMessage, error) {
	var b []byte
	// Run 0 matches no analysis.
	if err := r.st.Primary().QueryRow(ctx, `SELECT `+unitJSON()+` FROM `+unitsFrom+`u.version_id = $2`, run, versionID).Scan(&b); err != nil {
		return nil, fmt.Errorf("read version %d: %w", versionID, err)
	}
	return b, nil
}
