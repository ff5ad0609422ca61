package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/jiedao/jiedao/boundaries/store"
)

// Street is a street a scenario changes: the parent of a proposed unit or
// of a live community it removes.
type Street struct {
	Code     string `json:"code"`
	Name     string `json:"name"`     // on the day asked ("" when none)
	Proposed int    `json:"proposed"` // units of the scenario in it
	Removed  int    `json:"removed"`  // live communities it loses
}

// Streets lists the streets scenario id changes, named on day. A removed
// community's street is its live parent; a proposed unit names its own.
func Streets(ctx context.Context, st *store.Store, id int64, day time.Time) ([]Street, error) {
	rows, err := st.Reader().Query(ctx, `WITH p AS (
			SELECT parent_code AS code, count(*) AS proposed, 0 AS removed FROM scenario_units
			WHERE scenario_id = $1 AND parent_code IS NOT NULL GROUP BY parent_code
			UNION ALL
			SELECT u.parent_code, 0, count(*) FROM scenario_removed r
			JOIN units u ON u.code = r.code AND `+store.AsOf("u", 2)+`
			WHERE r.scenario_id = $1 AND u.parent_code IS NOT NULL GROUP BY u.parent_code)
		SELECT p.code, coalesce(max(s.name), ''), sum(p.proposed)::int, sum(p.removed)::int FROM p
		LEFT JOIN units s ON s.code = p.code AND `+store.AsOf("s", 2)+`
		GROUP BY p.code ORDER BY p.code`, id, day)
	if err != nil {
		return nil, fmt.Errorf("scenario %d streets: %w", id, err)
	}
	defer rows.Close()
	out := []Street{}
	for rows.Next() {
		var s Street
		if err := rows.Scan(&s.Code, &s.Name, &s.Proposed, &s.Removed); err != nil {
			return nil, fmt.Errorf("scenario %d streets: %w", id, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scenario %d streets: %w", id, err)
	}
	return out, nil
}
