package scenario

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// store1 writes a checked unit into the draft, records the edit and
// invalidates the draft's analysis; it returns the unit's new ETag.
func store1(ctx context.Context, tx pgx.Tx, e Edit, u *checked, cur *unitRow) (string, error) {
	// The live version the draft started from: adoption refuses if the
	// unit moves on meanwhile.
	base := cur.version
	if cur.own || !cur.found {
		if err := tx.QueryRow(ctx, `SELECT base_version_id FROM scenario_units WHERE scenario_id = $1 AND code = $2`,
			e.Scenario, cur.code).Scan(&base); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("scenario %d: %s: %w", e.Scenario, cur.code, err)
		}
	}
	if base == nil && !cur.found {
		// A removed live unit put back: it is checked against the version removed.
		if err := tx.QueryRow(ctx, `DELETE FROM scenario_removed WHERE scenario_id = $1 AND code = $2 RETURNING base_version_id`,
			e.Scenario, cur.code).Scan(&base); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("scenario %d: %s: %w", e.Scenario, cur.code, err)
		}
	}
	var tag string
	var after []byte
	err := tx.QueryRow(ctx, `WITH e AS (
			INSERT INTO scenario_units (scenario_id, code, name, level, parent_code, households, population, geom, base_version_id)
			VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7,
				ST_Multi(ST_ForcePolygonCCW(ST_CollectionExtract(ST_MakeValid(ST_Transform(ST_SetSRID(ST_GeomFromWKB($8), $9), 4326)), 3))), $10)
			ON CONFLICT (scenario_id, code) DO UPDATE SET name = excluded.name, level = excluded.level, parent_code = excluded.parent_code,
				households = excluded.households, population = excluded.population, geom = excluded.geom
			RETURNING *)
		SELECT `+etagExpr+`, `+unitJSON+` FROM e`,
		e.Scenario, cur.code, u.name, string(e.Level), u.parent, u.households, u.pop, u.ewkb, u.srid, base).Scan(&tag, &after)
	if err != nil {
		if pe := featureFault(err); pe != nil {
			return "", boundaries.Invalid("%s %s: %s", e.Level, cur.code, pe.Message)
		}
		return "", fmt.Errorf("scenario %d: write %s: %w", e.Scenario, cur.code, err)
	}
	var before []byte
	if cur.found {
		before = cur.before
	}
	if err := recordEdit(ctx, tx, e.Scenario, e.KeyName, e.Op, e.Level, cur.code, before, after); err != nil {
		return "", err
	}
	return tag, nil
}

// recordEdit keeps the edit in the draft's history and invalidates the
// draft's analysis runs: runs are found by the units version, which a
// draft edit does not move (live runs stay valid), so the draft's own are
// dropped and the data version is bumped for the caches keyed on it
// (runs in memory, tiles).
func recordEdit(ctx context.Context, tx pgx.Tx, id int64, key, op string, level boundaries.Level, code string, before, after []byte) error {
	if _, err := tx.Exec(ctx, `INSERT INTO scenario_edits (scenario_id, key_name, op, level, code, before, after)
		VALUES ($1, nullif($2, ''), $3, $4, $5, $6, $7)`, id, key, op, string(level), code, before, after); err != nil {
		return fmt.Errorf("scenario %d: record edit: %w", id, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM analysis_runs WHERE scenario_id = $1`, id); err != nil {
		return fmt.Errorf("scenario %d: invalidate analysis: %w", id, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE meta SET data_version = data_version + 1`); err != nil {
		return fmt.Errorf("scenario %d: bump data version: %w", id, err)
	}
	return nil
}

// Remove removes a unit in a draft: its own row goes, and a live unit is
// listed as removed (retired on adoption).
func Remove(ctx context.Context, st *store.Store, id int64, level boundaries.Level, code, ifMatch, key string) error {
	if !isEditable(level) {
		return boundaries.Invalid("%s cannot be edited in a scenario (editable: communities, grids)", level)
	}
	err := st.Tx(ctx, func(tx pgx.Tx) error {
		if err := lockDraft(ctx, tx, id); err != nil {
			return err
		}
		cur, err := readUnit(ctx, tx, id, level, code)
		if err != nil {
			return err
		}
		if !cur.found {
			return fmt.Errorf("scenario %d: no %s %s: %w", id, level, code, boundaries.ErrNotFound)
		}
		if err := checkMatch(ifMatch, cur); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM scenario_units WHERE scenario_id = $1 AND code = $2`, id, code); err != nil {
			return fmt.Errorf("scenario %d: remove %s: %w", id, code, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO scenario_removed (scenario_id, code, base_version_id)
			SELECT $1, code, version_id FROM units WHERE code = $2 AND level = $3 AND valid_to IS NULL
			ON CONFLICT DO NOTHING`, id, code, string(level)); err != nil {
			return fmt.Errorf("scenario %d: remove %s: %w", id, code, err)
		}
		return recordEdit(ctx, tx, id, key, "delete", level, code, cur.before, nil)
	})
	if err != nil {
		return err
	}
	st.SyncVersion(ctx)
	return nil
}

// EditRecord is one entry of a draft's history.
type EditRecord struct {
	ID      int64            `json:"id"`
	At      string           `json:"at"`
	KeyName *string          `json:"key_name"`
	Op      string           `json:"op"`
	Level   boundaries.Level `json:"level"`
	Code    string           `json:"code"`
}

// Edits lists a draft's history, oldest first.
func Edits(ctx context.Context, st *store.Store, id int64) ([]EditRecord, error) {
	rows, err := st.Primary().Query(ctx, `SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), key_name, op, level, code
		FROM scenario_edits WHERE scenario_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("scenario %d: edits: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EditRecord, error) {
		var x EditRecord
		return x, r.Scan(&x.ID, &x.At, &x.KeyName, &x.Op, &x.Level, &x.Code)
	})
	if err != nil {
		return nil, fmt.Errorf("scenario %d: edits: %w", id, err)
	}
	return out, nil
}
