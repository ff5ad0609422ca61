package grids

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
)

// OrderRule is how grids numbered together are ordered (DB11/T 2157-2023:
// west→east, north→south). It is what a plan document's "order" says.
const OrderRule = "grids numbered together (a community's, or its new ones) are ordered in rows, north first, and west to east within a row: " +
	"each grid's label point is ST_PointOnSurface; the row height is the median north–south extent of those grids; " +
	"row = floor((northernmost edge of the grids − label latitude) / row height); within a row by label longitude (then latitude, north first). " +
	"Codes are the community's code and a 3-digit sequence, given in that order from the community's next free number: " +
	"a code once issued (grid_codes, or any grid version) is never given again"

// orderSQL ranks the rows of a table (community, id, geom) that match
// filter by OrderRule within their community: (community, id, rank).
func orderSQL(table, filter string) string {
	return `WITH lp AS (SELECT community, id, ST_PointOnSurface(geom) AS pt, ST_YMax(geom) - ST_YMin(geom) AS ht, ST_YMax(geom) AS top
			FROM ` + table + ` WHERE ` + filter + `),
		b AS (SELECT community, percentile_cont(0.5) WITHIN GROUP (ORDER BY ht) AS h, max(top) AS top FROM lp GROUP BY community)
		SELECT lp.community, lp.id, row_number() OVER (PARTITION BY lp.community
			ORDER BY floor((b.top - ST_Y(lp.pt)) / nullif(b.h, 0)), ST_X(lp.pt), ST_Y(lp.pt) DESC, lp.id)::int
		FROM lp JOIN b USING (community) ORDER BY 1, 3`
}

// issuedSQL is the highest sequence issued under each community of the
// rows of table (community): in grid_codes, in any grid version, or
// already in the table.
func issuedSQL(table string) string {
	return `WITH c AS (SELECT DISTINCT community FROM ` + table + `),
		x AS (SELECT code FROM grid_codes WHERE left(code, -3) IN (SELECT community FROM c)
			UNION SELECT code FROM units WHERE level = 'grid' AND left(code, -3) IN (SELECT community FROM c)
			UNION SELECT code FROM ` + table + ` WHERE code IS NOT NULL)
		SELECT left(code, -3), max(right(code, 3)::int) FROM x WHERE right(code, 3) ~ '^[0-9]{3}$' GROUP BY 1`
}

// issued reads issuedSQL.
func issued(ctx context.Context, tx pgx.Tx, table string) (map[string]int, error) {
	rows, err := tx.Query(ctx, issuedSQL(table))
	if err != nil {
		return nil, fmt.Errorf("issued codes: %w", err)
	}
	out := map[string]int{}
	for rows.Next() {
		var c string
		var n int
		if err := rows.Scan(&c, &n); err != nil {
			rows.Close()
			return nil, err
		}
		out[c] = n
	}
	rows.Close()
	return out, rows.Err()
}

// Code is a grid's code: its community's and a 3-digit sequence.
func Code(community string, seq int) string {
	return community + fmt.Sprintf("%03d", seq)
}

// next gives out a community's next free sequence numbers.
type next map[string]int

// take is the community's next number, or an error when all 999 are used.
func (n next) take(community string) (string, error) {
	s := n[community] + 1
	if s > 999 {
		return "", boundaries.Invalid("community %s: no grid number left (all 999 have been issued)", community)
	}
	n[community] = s
	return Code(community, s), nil
}

// number gives the rows of table (community, id, geom, code) whose code
// is NULL codes in OrderRule's order, from each community's next free
// number.
func number(ctx context.Context, tx pgx.Tx, table string) error {
	used, err := issued(ctx, tx, table)
	if err != nil {
		return err
	}
	rows, err := tx.Query(ctx, orderSQL(table, "code IS NULL"))
	if err != nil {
		return fmt.Errorf("order: %w", err)
	}
	var ids []int32
	var codes []string
	nx := next(used)
	for rows.Next() {
		var c string
		var id, rank int
		if err := rows.Scan(&c, &id, &rank); err != nil {
			rows.Close()
			return err
		}
		code, err := nx.take(c)
		if err != nil {
			rows.Close()
			return err
		}
		ids, codes = append(ids, int32(id)), append(codes, code)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("order: %w", err)
	}
	_, err = tx.Exec(ctx, `UPDATE `+table+` t SET code = u.code FROM unnest($1::int[], $2::text[]) u(id, code) WHERE t.id = u.id`, ids, codes)
	return err
}

// seq is the sequence of a grid code (0 when it has none).
func seq(code string) int {
	if len(code) < 3 {
		return 0
	}
	n, err := strconv.Atoi(code[len(code)-3:])
	if err != nil {
		return 0
	}
	return n
}
