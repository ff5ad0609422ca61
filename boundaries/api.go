package boundaries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The JSON API's reads. Units are rendered from the layer registry's fields
// (the same SQL as tiles, OGC API and downloads, so every face shows the
// same status and measures), plus the version's approval and source.

// ListQuery filters ListUnits.
type ListQuery struct {
	Level  Level     // "" = all levels
	Parent string    // "" = any
	Q      string    // substring of the name, or prefix of the code
	Status string    // "" = any; undersized, normal, oversized, unknown
	At     time.Time // zero = today
	Run    int64     // analysis run giving the statuses (see EnsureAnalysis)
	Limit  int       // 0 = 100
	Offset int
}

// UnitPage is one page of units with the total matching.
type UnitPage struct {
	Total  int               `json:"total"`
	Limit  int               `json:"limit"`
	Offset int               `json:"offset"`
	Items  []json.RawMessage `json:"items"`
}

// MaxPageSize bounds ?limit=.
const MaxPageSize = 10000

// unitJSON is a unit version as one JSON object: the registry's fields and
// the version's approval and source.
func unitJSON() string {
	l, _ := LayerByName(Community.Layer())
	return `(` + l.propsJSON() + `)::jsonb || jsonb_build_object('approval', u.approval, 'source', u.source)`
}

// unitsFrom is the unit layers' FROM clause for every level: $1 run, $2 day.
const unitsFrom = `units u LEFT JOIN analysis_units r ON r.run_id = $1 AND r.code = u.code WHERE `

const levelOrder = `array_position(ARRAY['district','street','community'], u.level)`

// likeEscape quotes LIKE's wildcards so ?q= is matched literally.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ListUnits lists the units valid on a day, by level then code.
func (s *Store) ListUnits(ctx context.Context, q ListQuery) (*UnitPage, error) {
	if q.At.IsZero() {
		q.At = Today()
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, MaxPageSize)
	where := asOf("u", 2) + ` AND ($3 = '' OR u.level = $3) AND ($4 = '' OR u.parent_code = $4)
		AND ($5 = '' OR u.name ILIKE '%' || $5 || '%' OR u.code LIKE $5 || '%')
		AND ($6 = '' OR coalesce(r.status, 'unknown') = $6)`
	args := []any{q.Run, q.At, string(q.Level), q.Parent, likeEscape(strings.TrimSpace(q.Q)), q.Status}
	page := &UnitPage{Limit: q.Limit, Offset: q.Offset, Items: []json.RawMessage{}}
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM `+unitsFrom+where, args...).Scan(&page.Total); err != nil {
		return nil, fmt.Errorf("count units: %w", err)
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+unitJSON()+` FROM `+unitsFrom+where+`
		ORDER BY `+levelOrder+`, u.code LIMIT $7 OFFSET $8`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	page.Items, err = collectJSON(rows, page.Items)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	return page, nil
}

func collectJSON(rows pgx.Rows, out []json.RawMessage) ([]json.RawMessage, error) {
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, json.RawMessage(b))
	}
	return out, rows.Err()
}

// UnitDoc is one unit version as JSON with its version id (the ETag).
type UnitDoc struct {
	VersionID int64
	JSON      json.RawMessage
}

// UnitAt returns the version of a unit valid on a day with the analysis of
// run; geometry adds the GeoJSON geometry. ErrNotFound when the code names
// no unit on that day.
func (s *Store) UnitAt(ctx context.Context, code string, at time.Time, run int64, geometry bool) (*UnitDoc, error) {
	if at.IsZero() {
		at = Today()
	}
	obj := unitJSON()
	if geometry {
		obj += ` || jsonb_build_object('geometry', ST_AsGeoJSON(u.geom, 7)::jsonb)`
	}
	var d UnitDoc
	var b []byte
	err := s.Pool.QueryRow(ctx, `SELECT u.version_id, `+obj+` FROM `+unitsFrom+asOf("u", 2)+` AND u.code = $3`, run, at, code).Scan(&d.VersionID, &b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("unit %s on %s: %w", code, at.Format("2006-01-02"), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("unit %s: %w", code, err)
	}
	d.JSON = b
	return &d, nil
}

// Stats are totals of the units of one level.
type Stats struct {
	Level      Level          `json:"level"`
	Units      int            `json:"units"`
	Households *int64         `json:"households"`
	Population *int64         `json:"population"`
	AreaKM2    float64        `json:"area_km2"`
	Status     map[string]int `json:"status"`
}

// UnitStats totals the units valid on a day per level (level "" = every
// level), optionally only the children of parent.
func (s *Store) UnitStats(ctx context.Context, level Level, parent string, at time.Time, run int64) ([]Stats, error) {
	if at.IsZero() {
		at = Today()
	}
	rows, err := s.Pool.Query(ctx, `SELECT u.level, count(*)::int, sum(coalesce(r.households, u.households))::bigint,
			sum(coalesce(r.population, u.population))::bigint, coalesce(sum(coalesce(r.area_km2, ST_Area(u.geom::geography) / 1e6)), 0),
			count(*) FILTER (WHERE r.status = 'undersized')::int, count(*) FILTER (WHERE r.status = 'normal')::int,
			count(*) FILTER (WHERE r.status = 'oversized')::int, count(*) FILTER (WHERE coalesce(r.status, 'unknown') = 'unknown')::int
		FROM `+unitsFrom+asOf("u", 2)+` AND ($3 = '' OR u.level = $3) AND ($4 = '' OR u.parent_code = $4)
		GROUP BY u.level ORDER BY `+levelOrder, run, at, string(level), parent)
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
		st.Level = Level(lvl)
		st.Status = map[string]int{"undersized": under, "normal": normal, "oversized": over, "unknown": unknown}
		out = append(out, st)
	}
	return out, rows.Err()
}

// Change is one entry of the change feed.
type Change struct {
	ID           int64     `json:"id"`
	At           time.Time `json:"at"`
	Kind         string    `json:"kind"` // created, changed, retired
	Code         string    `json:"code"`
	Level        Level     `json:"level"`
	VersionID    int64     `json:"version_id"`
	OldVersionID *int64    `json:"old_version_id"`
	ValidFrom    string    `json:"valid_from"` // the day the change takes effect
	ImportID     *int64    `json:"import_id"`
}

// Changes lists feed entries after a change id and/or a time, oldest first.
// Ids grow in commit order (see migration 0004), so a client that stores
// the last id it saw and asks for ?since=<id> never misses an entry.
func (s *Store) Changes(ctx context.Context, sinceID int64, since time.Time, limit int) ([]Change, error) {
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	var sinceT any
	if !since.IsZero() {
		sinceT = since
	}
	rows, err := s.Pool.Query(ctx, `SELECT id, at, kind, code, level, version_id, old_version_id, valid_from, import_id
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
		c.Level, c.ValidFrom = Level(lvl), from.Format("2006-01-02")
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

// audit appends one entry; writes call it inside their transaction so the
// entry exists exactly when the write does.
func audit(ctx context.Context, tx pgx.Tx, a Actor, action, code string, oldV, newV int64, detail any) error {
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

// RecordImport audits an import made through the API. The importer commits
// its own transaction, so this entry follows it rather than sharing it.
func (s *Store) RecordImport(ctx context.Context, a Actor, rep *ImportReport) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		return audit(ctx, tx, a, "import", "", 0, 0, map[string]any{
			"import_id": rep.ImportID, "file": rep.File, "level": rep.Level, "status": rep.Status,
			"features": rep.Features, "created": rep.Created, "changed": rep.Changed, "rejected": len(rep.Rejected)})
	})
}

// AuditLog lists audit entries after an id, oldest first; code filters.
func (s *Store) AuditLog(ctx context.Context, sinceID int64, code string, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	rows, err := s.Pool.Query(ctx, `SELECT id, at, key_name, action, code, old_version_id, new_version_id, request_id, client, detail
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
