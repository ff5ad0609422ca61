package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries/lookup"
)

// resultColumns reads a stored ticket as a Result, with the names of its
// units as of the day that decided (grids: by code only, they may be gone).
const resultColumns = `t.id, t.time, t.lon, t.lat, t.category,
	t.district, (SELECT u.name FROM units u WHERE u.code = t.district AND u.valid_from <= t.units_day AND (u.valid_to IS NULL OR u.valid_to > t.units_day)),
	t.street, (SELECT u.name FROM units u WHERE u.code = t.street AND u.valid_from <= t.units_day AND (u.valid_to IS NULL OR u.valid_to > t.units_day)),
	t.community, (SELECT u.name FROM units u WHERE u.code = t.community AND u.valid_from <= t.units_day AND (u.valid_to IS NULL OR u.valid_to > t.units_day)),
	t.grid, t.rule, t.ambiguity, coalesce(t.grid_ambiguity, ''), t.distance_m, t.candidates, t.units_version, t.units_day`

func scanResult(row pgx.Row) (Result, error) {
	var r Result
	var codes, names [3]*string
	var grid *string
	var cands []byte
	var day time.Time
	err := row.Scan(&r.ID, &r.Time, &r.Lon, &r.Lat, &r.Category, &codes[0], &names[0], &codes[1], &names[1], &codes[2], &names[2],
		&grid, &r.Rule, &r.Ambiguity, &r.GridAmbiguity, &r.DistanceM, &cands, &r.UnitsVersion, &day)
	if err != nil {
		return r, err
	}
	for i, dst := range []**lookup.Unit{&r.District, &r.Street, &r.Community} {
		if codes[i] != nil {
			u := &lookup.Unit{Code: *codes[i]}
			if names[i] != nil {
				u.Name = *names[i]
			}
			*dst = u
		}
	}
	if grid != nil {
		r.Grid = &lookup.Unit{Code: *grid}
	}
	r.Candidates = []Candidate{}
	if err := json.Unmarshal(cands, &r.Candidates); err != nil {
		return r, fmt.Errorf("ticket %s candidates: %w", r.ID, err)
	}
	r.UnitsDay, r.Stored = day.Format(time.DateOnly), true
	return r, nil
}

// storedAnswers reads the stored tickets among the batch's ids. A stored
// ticket the batch contradicts (another point, time or category) is a
// conflict naming every row that does.
func storedAnswers(ctx context.Context, tx pgx.Tx, tickets []Ticket, first []int) (map[string]*Result, error) {
	ids := make([]string, 0, len(tickets))
	for i := range tickets {
		if first[i] == i {
			ids = append(ids, tickets[i].ID)
		}
	}
	rows, err := tx.Query(ctx, `SELECT `+resultColumns+` FROM tickets t WHERE t.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read stored tickets: %w", err)
	}
	defer rows.Close()
	stored := map[string]*Result{}
	for rows.Next() {
		r, err := scanResult(rows)
		if err != nil {
			return nil, fmt.Errorf("read stored tickets: %w", err)
		}
		stored[r.ID] = &r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stored tickets: %w", err)
	}
	if len(stored) == 0 {
		return stored, nil
	}
	errs := &RowErrors{Conflict: true}
	for i := range tickets {
		t := &tickets[i]
		s, ok := stored[t.ID]
		if !ok {
			continue
		}
		if !sameTicket(t, &Ticket{Lon: s.Lon, Lat: s.Lat, Time: s.Time, Category: s.Category}) {
			errs.Add(RowError{Row: row(t, i), ID: t.ID, Field: "id", Message: fmt.Sprintf(
				"ticket %s is stored with another point, time or category (%.7f, %.7f at %s)", t.ID, s.Lon, s.Lat, s.Time.Format(time.RFC3339))})
		}
	}
	return stored, errs.orNil()
}

var ticketColumns = []string{"id", "time", "lon", "lat", "category", "district", "street", "community", "grid", "rule",
	"ambiguity", "grid_ambiguity", "distance_m", "candidates", "units_version", "units_day", "assigned_street", "assigned_community"}

// copyTickets stores decided tickets with COPY: a 100,000-ticket batch in
// well under a second, where row-by-row inserts would take many.
func copyTickets(ctx context.Context, tx pgx.Tx, res []Result) error {
	if len(res) == 0 {
		return nil
	}
	i := 0
	code := func(u *lookup.Unit) any {
		if u == nil {
			return nil
		}
		return u.Code
	}
	var day time.Time
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(res) {
			return nil, nil
		}
		r := &res[i]
		i++
		cands := "[]"
		if len(r.Candidates) > 0 {
			b, err := json.Marshal(r.Candidates)
			if err != nil {
				return nil, err
			}
			cands = string(b)
		}
		if day.IsZero() || day.Format(time.DateOnly) != r.UnitsDay {
			d, err := time.Parse(time.DateOnly, r.UnitsDay)
			if err != nil {
				return nil, err
			}
			day = d
		}
		var ga any
		if r.GridAmbiguity != "" {
			ga = string(r.GridAmbiguity)
		}
		return []any{r.ID, r.Time, r.Lon, r.Lat, r.Category, code(r.District), code(r.Street), code(r.Community), code(r.Grid),
			r.Rule, string(r.Ambiguity), ga, r.DistanceM, cands, r.UnitsVersion, day, code(r.Street), code(r.Community)}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tickets"}, ticketColumns, src); err != nil {
		return fmt.Errorf("store tickets: %w", err)
	}
	return nil
}
