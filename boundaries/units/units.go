// Package units keeps the administrative units and their versions: reads
// (a day's units, a unit's history, label points), the API's single-unit
// writes (create, change, retire) with their checks, the change feed, the
// audit log and the API keys. Versions are never overwritten: a change
// closes the current version and inserts a new one.
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

// Unit is one version of an administrative unit.
type Unit struct {
	VersionID   int64            `json:"version_id"`
	Code        string           `json:"code"`
	Name        string           `json:"name"`
	Level       boundaries.Level `json:"level"`
	ParentCode  *string          `json:"parent_code"`
	Kind        *string          `json:"kind"`
	Households  *int64           `json:"households"`
	Population  *int64           `json:"population"`
	Provisional bool             `json:"provisional"`
	AreaKM2     float64          `json:"area_km2"`
	ValidFrom   time.Time        `json:"valid_from"`
	ValidTo     *time.Time       `json:"valid_to"`
	Approval    *string          `json:"approval"`
	Source      *string          `json:"source"`
}

// Version is one version of a unit in its history, with the approval that
// retired it (if any).
type Version struct {
	Unit
	RetiredApproval *string `json:"retired_approval"`
}

// MarshalJSON writes valid_from and valid_to as YYYY-MM-DD, as the unit
// routes do: they are calendar days, and a midnight UTC timestamp reads as
// the day before in China.
func (v Version) MarshalJSON() ([]byte, error) {
	type plain Version // without this method
	out := struct {
		plain
		ValidFrom string  `json:"valid_from"`
		ValidTo   *string `json:"valid_to"`
	}{plain: plain(v), ValidFrom: v.ValidFrom.Format(time.DateOnly)}
	if v.ValidTo != nil {
		d := v.ValidTo.Format(time.DateOnly)
		out.ValidTo = &d
	}
	return json.Marshal(out)
}

// Base is a unit code with the version a change was made against (nil:
// unknown, the version current when the change is recorded is taken): what
// a plan read of a community it merges away, and what a scenario checks
// at adoption before it writes over the code.
type Base struct {
	Code        string `json:"code"`
	BaseVersion *int64 `json:"base_version_id"`
}

// Query filters List.
type Query struct {
	Level  boundaries.Level // "" = all
	Parent string           // "" = any
	At     time.Time        // zero = today
}

const unitCols = `u.version_id, u.code, u.name, u.level, u.parent_code, u.kind, u.households::bigint, u.population::bigint,
	u.provisional, u.area_m2 / 1e6, u.valid_from, u.valid_to, u.approval, u.source, u.retired_approval`

func scanVersion(row pgx.Row) (Version, error) {
	var v Version
	var lvl string
	err := row.Scan(&v.VersionID, &v.Code, &v.Name, &lvl, &v.ParentCode, &v.Kind, &v.Households, &v.Population,
		&v.Provisional, &v.AreaKM2, &v.ValidFrom, &v.ValidTo, &v.Approval, &v.Source, &v.RetiredApproval)
	v.Level = boundaries.Level(lvl)
	return v, err
}

// List lists the unit versions valid on a day, ordered by code.
func List(ctx context.Context, st *store.Store, q Query) ([]Unit, error) {
	at := q.At
	if at.IsZero() {
		at = boundaries.Today()
	}
	rows, err := st.Reader().Query(ctx, `SELECT `+unitCols+` FROM units u
		WHERE ($1 = '' OR u.level = $1) AND ($2 = '' OR u.parent_code = $2) AND `+store.AsOf("u", 3)+`
		ORDER BY u.code`, string(q.Level), q.Parent, at)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	vs, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	out := make([]Unit, len(vs))
	for i, v := range vs {
		out[i] = v.Unit
	}
	return out, nil
}

// History lists every version of a unit, oldest first; ErrNotFound when
// the code never named a unit.
func History(ctx context.Context, st *store.Store, code string) ([]Version, error) {
	rows, err := st.Reader().Query(ctx, `SELECT `+unitCols+` FROM units u WHERE u.code = $1 ORDER BY u.valid_from, u.version_id`, code)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", code, err)
	}
	vs, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", code, err)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("history of %s: %w", code, boundaries.ErrNotFound)
	}
	return vs, nil
}

func collect(rows pgx.Rows) ([]Version, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Version, error) { return scanVersion(r) })
}

// Count counts the current units of every level.
func Count(ctx context.Context, st *store.Store) (int64, error) {
	var n int64
	if err := st.Reader().QueryRow(ctx, "SELECT count(*) FROM units WHERE valid_to IS NULL").Scan(&n); err != nil {
		return 0, fmt.Errorf("count units: %w", err)
	}
	return n, nil
}
