package boundaries

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// UnitQuery filters Units.
type UnitQuery struct {
	Level  Level     // "" = all
	Parent string    // "" = any
	At     time.Time // zero = today
}

const unitCols = `u.version_id, u.code, u.name, u.level, u.parent_code, u.kind, u.households::bigint, u.population::bigint,
	u.provisional, u.area_m2 / 1e6, u.valid_from, u.valid_to, u.approval, u.source`

func scanUnit(row pgx.Row) (Unit, error) {
	var u Unit
	var lvl string
	err := row.Scan(&u.VersionID, &u.Code, &u.Name, &lvl, &u.ParentCode, &u.Kind, &u.Households, &u.Population,
		&u.Provisional, &u.AreaKM2, &u.ValidFrom, &u.ValidTo, &u.Approval, &u.Source)
	u.Level = Level(lvl)
	return u, err
}

// Units lists the unit versions valid on a day, ordered by code.
func (s *Store) Units(ctx context.Context, q UnitQuery) ([]Unit, error) {
	at := q.At
	if at.IsZero() {
		at = Today()
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+unitCols+` FROM units u
		WHERE ($1 = '' OR u.level = $1) AND ($2 = '' OR u.parent_code = $2) AND `+asOf("u", 3)+`
		ORDER BY u.code`, string(q.Level), q.Parent, at)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	return collectUnits(rows)
}

// History lists every version of a unit, oldest first.
func (s *Store) History(ctx context.Context, code string) ([]Unit, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+unitCols+` FROM units u WHERE u.code = $1 ORDER BY u.valid_from, u.version_id`, code)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", code, err)
	}
	us, err := collectUnits(rows)
	if err == nil && len(us) == 0 {
		return nil, fmt.Errorf("history of %s: %w", code, ErrNotFound)
	}
	return us, err
}

func collectUnits(rows pgx.Rows) ([]Unit, error) {
	defer rows.Close()
	var out []Unit
	for rows.Next() {
		u, err := scanUnit(rows)
		if err != nil {
			return nil, fmt.Errorf("scan unit: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read units: %w", err)
	}
	return out, nil
}
