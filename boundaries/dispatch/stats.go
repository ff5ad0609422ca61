package dispatch

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// UnitStats is one street's or community's tickets (by their dispatch
// answer) in a period.
type UnitStats struct {
	Code       string            `json:"code"`
	Name       string            `json:"name"`
	Tickets    int               `json:"tickets"`
	Reassigned int               `json:"reassigned"`
	Ambiguity  map[Ambiguity]int `json:"ambiguity"`
}

// StatsReport is what `jiedao dispatch-stats` prints.
type StatsReport struct {
	Since      time.Time         `json:"since"`
	Until      time.Time         `json:"until"`
	By         boundaries.Level  `json:"by"`
	Tickets    int               `json:"tickets"`
	Reassigned int               `json:"reassigned"`
	Ambiguity  map[Ambiguity]int `json:"ambiguity"`
	Units      []UnitStats       `json:"units"`    // most tickets first
	Disputed   []Spot            `json:"disputed"` // the top disputed places
}

// Stats counts the tickets of a period by ambiguity, overall and per
// street or community (by), with the top disputed places.
func Stats(ctx context.Context, st *store.Store, p Period, by boundaries.Level, top int) (*StatsReport, error) {
	if by == "" {
		by = boundaries.Street
	}
	if by != boundaries.Street && by != boundaries.Community {
		return nil, &boundaries.QueryError{Param: "by", Err: fmt.Errorf("%q: want street or community", by)}
	}
	col := "street"
	if by == boundaries.Community {
		col = "community"
	}
	rep := &StatsReport{By: by, Ambiguity: map[Ambiguity]int{}, Units: []UnitStats{}, Disputed: []Spot{}}
	err := st.Snapshot(ctx, func(tx pgx.Tx) error {
		var ok bool
		var err error
		if p, ok, err = p.resolve(ctx, tx); err != nil || !ok {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT t.`+col+`, (SELECT name FROM units u WHERE u.code = t.`+col+` ORDER BY valid_from DESC LIMIT 1),
				t.ambiguity, count(*)::int, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM ticket_disputes d WHERE d.ticket_id = t.id))::int
			FROM tickets t WHERE t.time >= $1 AND t.time < $2 GROUP BY 1, 3`, p.Since, p.Until)
		if err != nil {
			return err
		}
		defer rows.Close()
		byCode := map[string]*UnitStats{}
		for rows.Next() {
			var code, name *string
			var amb Ambiguity
			var n, re int
			if err := rows.Scan(&code, &name, &amb, &n, &re); err != nil {
				return err
			}
			rep.Tickets += n
			rep.Reassigned += re
			rep.Ambiguity[amb] += n
			key := ""
			if code != nil {
				key = *code
			}
			u := byCode[key]
			if u == nil {
				u = &UnitStats{Code: key, Ambiguity: map[Ambiguity]int{}}
				if name != nil {
					u.Name = *name
				}
				byCode[key] = u
			}
			u.Tickets += n
			u.Reassigned += re
			u.Ambiguity[amb] += n
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, u := range byCode {
			rep.Units = append(rep.Units, *u)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dispatch stats: %w", err)
	}
	sortUnits(rep.Units)
	rep.Since, rep.Until = p.Since, p.Until
	if top > 0 && rep.Tickets > 0 {
		spots, _, err := Disputes(ctx, st, p, time.Time{}, top)
		if err != nil {
			return nil, err
		}
		rep.Disputed = spots
	}
	return rep, nil
}

func sortUnits(us []UnitStats) {
	slicesSortFunc(us, func(a, b UnitStats) bool {
		if a.Tickets != b.Tickets {
			return a.Tickets > b.Tickets
		}
		return a.Code < b.Code
	})
}

func slicesSortFunc[T any](s []T, less func(a, b T) bool) {
	sort.Slice(s, func(i, j int) bool { return less(s[i], s[j]) })
}
