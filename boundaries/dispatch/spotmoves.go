package dispatch

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Move is one ticket reassigned between two communities: where it is and
// its last reassignment between them (a ticket bounced A → B → A counts
// once, as it ended).
type Move struct {
	Lon, Lat float64
	From, To string
}

// SpotMoves lists the tickets of period p reassigned between communities
// a and b, read on q (the caller's transaction: a plan reads them beside
// its working tables). A boundary spot's moves say which ground is
// disputed: the tickets lie in From's ground and were sent to To.
func SpotMoves(ctx context.Context, q pgx.Tx, p Period, a, b string) ([]Move, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT ON (t.id) t.lon, t.lat, x.from_code, x.to_code
		FROM ticket_disputes x JOIN tickets t ON t.id = x.ticket_id
		WHERE t.time >= $1 AND t.time < $2 AND x.level = 'community'
			AND (x.from_code = $3 AND x.to_code = $4 OR x.from_code = $4 AND x.to_code = $3)
		ORDER BY t.id, x.id DESC`, p.Since, p.Until, a, b)
	if err != nil {
		return nil, fmt.Errorf("moves between %s and %s: %w", a, b, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Move, error) {
		var m Move
		return m, r.Scan(&m.Lon, &m.Lat, &m.From, &m.To)
	})
	if err != nil {
		return nil, fmt.Errorf("moves between %s and %s: %w", a, b, err)
	}
	return out, nil
}
