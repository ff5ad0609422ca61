package units

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// MaxPageSize bounds every page a client may ask for (?limit=).
const MaxPageSize = 10000

// Change is one entry of the change feed.
type Change struct {
	ID           int64            `json:"id"`
	At           time.Time        `json:"at"`
	Kind         string           `json:"kind"` // created, changed, retired
	Code         string           `json:"code"`
	Level        boundaries.Level `json:"level"`
	VersionID    int64            `json:"version_id"`
	OldVersionID *int64           `json:"old_version_id"`
	ValidFrom    string           `json:"valid_from"` // the day the change takes effect
	ImportID     *int64           `json:"import_id"`
}

// Changes lists feed entries after a change id and/or a time, oldest first.
// Ids grow in commit order (see migration 0004), so a client that stores
// the last id it saw and asks for ?since=<id> never misses an entry.
func Changes(ctx context.Context, st *store.Store, sinceID int64, since time.Time, limit int) ([]Change, error) {
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	var sinceT any
	if !since.IsZero() {
		sinceT = since
	}
	rows, err := st.Reader().Query(ctx, `SELECT id, at, kind, code, level, version_id, old_version_id, valid_from, import_id
		FROM changes WHERE id > $1 AND ($2::timestamptz IS NULL OR at > $2) ORDER BY id LIMIT $3`, sinceID, sinceT, limit)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	defer rows.Close()
	out := []Change{}
	for rows.Next() {
		var c Change
		var lvl string
		var from time.Time
		if err := rows.Scan(&c.ID, &c.At, &c.Kind, &c.Code, &lvl, &c.VersionID, &c.OldVersionID, &from, &c.ImportID); err != nil {
			return nil, fmt.Errorf("changes: %w", err)
		}
		c.Level, c.ValidFrom = boundaries.Level(lvl), from.Format("2006-01-02")
		out = append(out, c)
	}
	return out, rows.Err()
}

// Actor is who makes a write, for the audit log.
type Actor struct {
	KeyName   string
	RequestID string
	Client    string
}

// Source is how a version written by the actor names its source.
func (a Actor) Source() string { return "api (key " + a.KeyName + ")" }

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	ID           int64           `json:"id"`
	At           time.Time       `json:"at"`
	KeyName      string          `json:"key_name"`
	Action       string          `json:"action"`
	Code         *string         `json:"code"`
	OldVersionID *int64          `json:"old_version_id"`
	NewVersionID *int64          `json:"new_version_id"`
	RequestID    *string         `json:"request_id"`
	Client       *string         `json:"client"`
	Detail       json.RawMessage `json:"detail"`
}

// Audit appends one entry; writes call it inside their transaction so the
// entry exists exactly when the write does.
func Audit(ctx context.Context, tx pgx.Tx, a Actor, action, code string, oldV, newV int64, detail any) error {
	d, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if detail == nil {
		d = []byte("{}")
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit (key_name, action, code, old_version_id, new_version_id, request_id, client, detail)
		VALUES ($1, $2, nullif($3, ''), nullif($4, 0), nullif($5, 0), nullif($6, ''), nullif($7, ''), $8)`,
		a.KeyName, action, code, oldV, newV, a.RequestID, a.Client, d)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// AuditLog lists audit entries after an id, oldest first; code filters.
func AuditLog(ctx context.Context, st *store.Store, sinceID int64, code string, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	rows, err := st.Reader().Query(ctx, `SELECT id, at, key_name, action, code, old_version_id, new_version_id, request_id, client, detail
		FROM audit WHERE id > $1 AND ($2 = '' OR code = $2) ORDER BY id LIMIT $3`, sinceID, code, limit)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var d []byte
		if err := rows.Scan(&e.ID, &e.At, &e.KeyName, &e.Action, &e.Code, &e.OldVersionID, &e.NewVersionID, &e.RequestID, &e.Client, &d); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		e.Detail = d
		out = append(out, e)
	}
	return out, rows.Err()
}
