package units

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// Place locates a unit on the map: a label point inside it and its
// bounding box.
type Place struct {
	Code       string           `json:"code"`
	Name       string           `json:"name"`
	Level      boundaries.Level `json:"level"`
	ParentCode *string          `json:"parent_code"`
	Lon        float64          `json:"lon"`
	Lat        float64          `json:"lat"`
	BBox       [4]float64       `json:"bbox"`
}

const placeCols = `u.code, u.name, u.level, u.parent_code, ST_X(p), ST_Y(p),
	ST_XMin(u.geom), ST_YMin(u.geom), ST_XMax(u.geom), ST_YMax(u.geom)`

// placeFrom computes the label point once per row: ST_PointOnSurface is
// inside the polygon even for L-shaped or multi-part units, unlike the
// centroid.
const placeFrom = ` FROM units u, LATERAL ST_PointOnSurface(u.geom) p WHERE `

func collectPlaces(rows pgx.Rows) ([]Place, error) {
	defer rows.Close()
	out := []Place{}
	for rows.Next() {
		var p Place
		var lvl string
		if err := rows.Scan(&p.Code, &p.Name, &lvl, &p.ParentCode, &p.Lon, &p.Lat, &p.BBox[0], &p.BBox[1], &p.BBox[2], &p.BBox[3]); err != nil {
			return nil, fmt.Errorf("scan place: %w", err)
		}
		p.Level = boundaries.Level(lvl)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read places: %w", err)
	}
	return out, nil
}

// Places lists the units of a level valid on a day with label points, for
// map labels.
func Places(ctx context.Context, st *store.Store, l boundaries.Level, at time.Time) ([]Place, error) {
	if at.IsZero() {
		at = boundaries.Today()
	}
	rows, err := st.Reader().Query(ctx, `SELECT `+placeCols+placeFrom+`u.level = $1 AND `+store.AsOf("u", 2)+` ORDER BY u.code`, string(l), at)
	if err != nil {
		return nil, fmt.Errorf("places of %s: %w", l, err)
	}
	return collectPlaces(rows)
}

// Hit is a search result: a place and the names of its parent and
// grandparent (street, district), which tell apart units of one name.
type Hit struct {
	Place
	Parents []string `json:"parents"`
}

// Search finds units valid on a day whose code starts with q or whose
// name contains it; exact code matches come first.
func Search(ctx context.Context, st *store.Store, q string, at time.Time, limit int) ([]Hit, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return []Hit{}, nil
	}
	if at.IsZero() {
		at = boundaries.Today()
	}
	like := LikeEscape(q)
	parent := func(child, alias string) string {
		return `(SELECT ` + alias + `.name FROM units ` + alias + ` WHERE ` + alias + `.code = ` + child + `.parent_code AND ` + store.AsOf(alias, 3) + ` LIMIT 1)`
	}
	rows, err := st.Reader().Query(ctx, `SELECT `+placeCols+`, array_remove(ARRAY[`+parent("u", "p1")+`,
			(SELECT `+parent("p", "p2")+` FROM units p WHERE p.code = u.parent_code AND `+store.AsOf("p", 3)+` LIMIT 1)], NULL)`+
		placeFrom+store.AsOf("u", 3)+`
			AND (u.code LIKE $1 || '%' OR u.name LIKE '%' || $1 || '%')
		ORDER BY u.code <> $2, `+store.LevelOrder("u")+`, u.code
		LIMIT $4`, like, q, at, limit)
	if err != nil {
		return nil, fmt.Errorf("search units %q: %w", q, err)
	}
	out := []Hit{}
	var h Hit
	var lvl string
	if _, err := pgx.ForEachRow(rows, []any{&h.Code, &h.Name, &lvl, &h.ParentCode, &h.Lon, &h.Lat,
		&h.BBox[0], &h.BBox[1], &h.BBox[2], &h.BBox[3], &h.Parents}, func() error {
		h.Level = boundaries.Level(lvl)
		out = append(out, h)
		h = Hit{}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("search units %q: %w", q, err)
	}
	return out, nil
}

// LikeEscape quotes LIKE's wildcards so a search text is matched literally.
func LikeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
