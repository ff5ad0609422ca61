package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// MaxReasonLen bounds a reassignment's reason.
const MaxReasonLen = 500

// Dispute is one reassignment (改派/退单) of a ticket.
type Dispute struct {
	ID     int64            `json:"id"`
	Ticket string           `json:"ticket"`
	Level  boundaries.Level `json:"level"`
	From   *string          `json:"from"` // the owner at Level before; null when it had none (a gap)
	To     string           `json:"to"`
	Reason string           `json:"reason"`
	At     time.Time        `json:"at"`
	Actor  string           `json:"actor"`
}

// Assignment is who owns a ticket now.
type Assignment struct {
	Ticket    string       `json:"ticket"`
	District  *lookup.Unit `json:"district"`
	Street    *lookup.Unit `json:"street"`
	Community *lookup.Unit `json:"community"`
	// Dispute is the reassignment that made it (nil: the dispatch did).
	Dispute *Dispute `json:"dispute"`
}

// TicketInfo is a stored ticket: the dispatch answer, its owner now and
// every reassignment, oldest first.
type TicketInfo struct {
	Result   Result     `json:"result"`
	Current  Assignment `json:"current"`
	Disputes []Dispute  `json:"disputes"`
}

// Reassign sends a ticket to another unit: to is a current street or
// community code (its level is the unit's). It stores the dispute (from →
// to, reason, time, who) and an audit row, and answers the new owner.
func Reassign(ctx context.Context, st *store.Store, actor units.Actor, id, to, reason string) (*Assignment, error) {
	var a *Assignment
	err := st.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		a, err = reassignTx(ctx, tx, actor, id, to, reason)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reassign ticket %s: %w", id, err)
	}
	return a, nil
}

// Reassignment is one row of a reassignment file.
type Reassignment struct {
	Ticket, To, Reason string
}

// ReassignAll applies reassignments in order in one transaction (all or
// nothing), as Reassign does each; for loading a history.
func ReassignAll(ctx context.Context, st *store.Store, actor units.Actor, rs []Reassignment) error {
	return st.Tx(ctx, func(tx pgx.Tx) error {
		for i, r := range rs {
			if _, err := reassignTx(ctx, tx, actor, r.Ticket, r.To, r.Reason); err != nil {
				return fmt.Errorf("reassignment %d (ticket %s): %w", i+1, r.Ticket, err)
			}
		}
		return nil
	})
}

func reassignTx(ctx context.Context, tx pgx.Tx, actor units.Actor, id, to, reason string) (*Assignment, error) {
	to, reason = strings.TrimSpace(to), strings.TrimSpace(reason)
	switch {
	case to == "":
		return nil, boundaries.Invalid("to: required (a street or community code)")
	case reason == "":
		return nil, boundaries.Invalid("reason: required")
	case utf8.RuneCountInString(reason) > MaxReasonLen || !utf8.ValidString(reason):
		return nil, boundaries.Invalid("reason: at most %d characters of text", MaxReasonLen)
	}
	var street, community *string
	err := tx.QueryRow(ctx, `SELECT assigned_street, assigned_community FROM tickets WHERE id = $1 FOR UPDATE`, id).Scan(&street, &community)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("ticket %q: %w", id, boundaries.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var level string
	var parent *string
	err = tx.QueryRow(ctx, `SELECT level, parent_code FROM units WHERE code = $1 AND valid_to IS NULL`, to).Scan(&level, &parent)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, boundaries.Invalid("to: %q is no current street or community", to)
	}
	if err != nil {
		return nil, err
	}
	d := Dispute{Ticket: id, Level: boundaries.Level(level), To: to, Reason: reason, Actor: actor.KeyName}
	switch d.Level {
	case boundaries.Community:
		d.From, community, street = community, &to, parent
	case boundaries.Street:
		d.From, street, community = street, &to, nil
	default:
		return nil, boundaries.Invalid("to: %s is a %s; a ticket goes to a street or a community", to, level)
	}
	if d.From != nil && *d.From == to {
		return nil, boundaries.Invalid("to: the ticket is already assigned to %s", to)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO ticket_disputes (ticket_id, level, from_code, to_code, reason, actor, after_street, after_community)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, at`, id, level, d.From, to, reason, actor.KeyName, street, community).Scan(&d.ID, &d.At); err != nil {
		return nil, fmt.Errorf("store dispute: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE tickets SET assigned_street = $2, assigned_community = $3 WHERE id = $1`, id, street, community); err != nil {
		return nil, fmt.Errorf("move ticket: %w", err)
	}
	if err := units.Audit(ctx, tx, actor, "reassign", to, 0, 0, map[string]any{"ticket": id, "level": level,
		"from": d.From, "to": to, "reason": reason}); err != nil {
		return nil, err
	}
	return currentOwner(ctx, tx, id, &d)
}

// currentOwner names a ticket's current units (as of today).
func currentOwner(ctx context.Context, q pgx.Tx, id string, d *Dispute) (*Assignment, error) {
	a := &Assignment{Ticket: id, Dispute: d}
	var codes, names [3]*string
	err := q.QueryRow(ctx, `SELECT s.parent_code, (SELECT name FROM units WHERE code = s.parent_code AND valid_to IS NULL),
			t.assigned_street, s.name, t.assigned_community, c.name
		FROM tickets t
		LEFT JOIN units s ON s.code = t.assigned_street AND s.valid_to IS NULL
		LEFT JOIN units c ON c.code = t.assigned_community AND c.valid_to IS NULL
		WHERE t.id = $1`, id).Scan(&codes[0], &names[0], &codes[1], &names[1], &codes[2], &names[2])
	if err != nil {
		return nil, fmt.Errorf("read owner: %w", err)
	}
	for i, dst := range []**lookup.Unit{&a.District, &a.Street, &a.Community} {
		if codes[i] != nil {
			u := &lookup.Unit{Code: *codes[i]}
			if names[i] != nil {
				u.Name = *names[i]
			}
			*dst = u
		}
	}
	return a, nil
}

// Get reads a stored ticket with its owner now and its reassignments.
func Get(ctx context.Context, st *store.Store, id string) (*TicketInfo, error) {
	var info *TicketInfo
	err := st.Snapshot(ctx, func(tx pgx.Tx) error {
		r, err := scanResult(tx.QueryRow(ctx, `SELECT `+resultColumns+` FROM tickets t WHERE t.id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("ticket %q: %w", id, boundaries.ErrNotFound)
		}
		if err != nil {
			return err
		}
		info = &TicketInfo{Result: r, Disputes: []Dispute{}}
		rows, err := tx.Query(ctx, `SELECT id, ticket_id, level, from_code, to_code, reason, at, actor
			FROM ticket_disputes WHERE ticket_id = $1 ORDER BY id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d Dispute
			if err := rows.Scan(&d.ID, &d.Ticket, &d.Level, &d.From, &d.To, &d.Reason, &d.At, &d.Actor); err != nil {
				return err
			}
			info.Disputes = append(info.Disputes, d)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var last *Dispute
		if n := len(info.Disputes); n > 0 {
			last = &info.Disputes[n-1]
		}
		a, err := currentOwner(ctx, tx, id, last)
		if err != nil {
			return err
		}
		info.Current = *a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ticket %s: %w", id, err)
	}
	return info, nil
}
