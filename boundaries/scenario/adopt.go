package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// AdoptResult lists what adoption wrote: communities, and grids apart.
type AdoptResult struct {
	Scenario string   `json:"scenario"`
	Created  []string `json:"created"`
	Updated  []string `json:"updated"`
	Retired  []string `json:"retired"`
	Grids    Written  `json:"grids"`
	// ReplacedBy maps each grid code the scenario retires or re-codes to
	// the grids that take its ground (grid_codes.replaced_by).
	ReplacedBy map[string][]string `json:"replaced_by,omitempty"`
}

// Written are the codes of one level adoption created, updated and
// retired.
type Written struct {
	Created []string `json:"created"`
	Updated []string `json:"updated"`
	Retired []string `json:"retired"`
}

// written is where the codes of a level go.
func (r *AdoptResult) written(l boundaries.Level) (created, updated, retired *[]string) {
	if l == boundaries.Grid {
		return &r.Grids.Created, &r.Grids.Updated, &r.Grids.Retired
	}
	return &r.Created, &r.Updated, &r.Retired
}

// change is a code the scenario writes (a unit) or retires (removed), with
// the version it was made against.
type change struct {
	code    string
	base    *int64
	removed bool
	level   boundaries.Level // of a unit ("" for a removal)
}

// adoption is one adoption's transaction and what it records.
type adoption struct {
	tx        pgx.Tx
	id        int64
	approval  string
	validFrom time.Time
	actor     units.Actor
	source    string
	detail    map[string]any
	res       *AdoptResult
}

// Adopt writes the scenario into units in one transaction: a new version
// of every changed community (the current one closes at validFrom), a
// first version of every new one, and retirement of the removed ones, each
// audited; then one data-version bump. A scenario is adopted once.
func Adopt(ctx context.Context, st *store.Store, id int64, approval string, validFrom time.Time, a units.Actor) (*AdoptResult, error) {
	if strings.TrimSpace(approval) == "" {
		return nil, boundaries.ApprovalRequired()
	}
	if validFrom.IsZero() {
		return nil, boundaries.Invalid("valid_from (YYYY-MM-DD) is required")
	}
	res := &AdoptResult{Created: []string{}, Updated: []string{}, Retired: []string{},
		Grids: Written{Created: []string{}, Updated: []string{}, Retired: []string{}}}
	err := st.Tx(ctx, func(tx pgx.Tx) error {
		ad := &adoption{tx: tx, id: id, approval: approval, validFrom: validFrom, actor: a, res: res}
		if err := ad.begin(ctx); err != nil {
			return err
		}
		changes, err := ad.changes(ctx)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", res.Scenario, err)
		}
		for _, ch := range changes {
			if err := ad.apply(ctx, ch); err != nil {
				return err
			}
		}
		if err := ad.gridCodes(ctx); err != nil {
			return fmt.Errorf("scenario %s: %w", res.Scenario, err)
		}
		if err := store.BumpDataVersion(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE scenarios SET adopted_at = now(), approval = $2, valid_from = $3 WHERE id = $1`,
			id, approval, validFrom); err != nil {
			return fmt.Errorf("mark scenario %s adopted: %w", res.Scenario, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	st.SyncVersion(ctx)
	return res, nil
}

// begin locks the scenario: two concurrent adoptions serialise, the second
// sees adopted_at and fails.
func (ad *adoption) begin(ctx context.Context) error {
	var adopted *time.Time
	err := ad.tx.QueryRow(ctx, `SELECT name, adopted_at FROM scenarios WHERE id = $1 FOR UPDATE`, ad.id).Scan(&ad.res.Scenario, &adopted)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("scenario %d: %w", ad.id, boundaries.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("scenario %d: %w", ad.id, err)
	}
	if adopted != nil {
		return fmt.Errorf("scenario %s (adopted %s): %w", ad.res.Scenario, adopted.Format("2006-01-02"), ErrAdopted)
	}
	ad.source = "scenario " + ad.res.Scenario
	if ad.actor.KeyName != "" {
		ad.source += " (" + ad.actor.Source() + ")"
	}
	ad.detail = map[string]any{"approval": ad.approval, "valid_from": ad.validFrom.Format("2006-01-02"), "scenario": ad.res.Scenario}
	return nil
}

// changes are the scenario's units by code, then the communities it
// removes by code.
func (ad *adoption) changes(ctx context.Context) ([]change, error) {
	rows, err := ad.tx.Query(ctx, `SELECT code, base_version_id, false, level FROM scenario_units WHERE scenario_id = $1
		UNION ALL SELECT code, base_version_id, true, '' FROM scenario_removed WHERE scenario_id = $1
		ORDER BY 3, 1`, ad.id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (change, error) {
		var c change
		return c, r.Scan(&c.code, &c.base, &c.removed, &c.level)
	})
}

// apply writes or retires one code.
func (ad *adoption) apply(ctx context.Context, ch change) error {
	cur, err := ch.lock(ctx, ad.tx, ad.validFrom)
	if err != nil {
		return err
	}
	if ch.removed {
		if cur == nil {
			return nil
		}
		if err := cur.End(ctx, ad.tx, ad.validFrom, ad.approval); err != nil {
			return err
		}
		_, _, retired := ad.res.written(cur.Level)
		*retired = append(*retired, ch.code)
		return units.Audit(ctx, ad.tx, ad.actor, "retire", ch.code, cur.ID, 0, ad.detail)
	}
	var newID, oldID int64
	action := "create"
	if cur != nil {
		if cur.Level != ch.level {
			return boundaries.Invalid("scenario unit %s is a current %s, not a %s", ch.code, cur.Level, ch.level)
		}
		if err := cur.End(ctx, ad.tx, ad.validFrom, ""); err != nil {
			return err
		}
		// Kind is not part of a scenario: the new version keeps it.
		err = ad.tx.QueryRow(ctx, `INSERT INTO units (code, name, level, parent_code, kind, households, population,
				provisional, geom, valid_from, approval, source)
			SELECT su.code, su.name, su.level, su.parent_code, u.kind, su.households, su.population, su.provisional,
				su.geom, $3, $4, $5
			FROM scenario_units su, units u WHERE su.scenario_id = $1 AND su.code = $2 AND u.version_id = $6
			RETURNING version_id`, ad.id, ch.code, ad.validFrom, ad.approval, ad.source, cur.ID).Scan(&newID)
		oldID, action = cur.ID, "update"
		_, updated, _ := ad.res.written(ch.level)
		*updated = append(*updated, ch.code)
	} else {
		if err := ad.freshGridCode(ctx, ch); err != nil {
			return err
		}
		err = ad.tx.QueryRow(ctx, `INSERT INTO units (code, name, level, parent_code, kind, households, population,
				provisional, geom, valid_from, approval, source)
			SELECT x.code, x.name, x.level, x.parent_code, `+kindSQL("x")+`, x.households, x.population,
				x.provisional, x.geom, $3, $4, $5
			FROM scenario_units x WHERE x.scenario_id = $1 AND x.code = $2 RETURNING version_id`,
			ad.id, ch.code, ad.validFrom, ad.approval, ad.source).Scan(&newID)
		created, _, _ := ad.res.written(ch.level)
		*created = append(*created, ch.code)
	}
	if err != nil {
		return units.MapWriteErr(fmt.Errorf("adopt %s: %w", ch.code, err))
	}
	return units.Audit(ctx, ad.tx, ad.actor, action, ch.code, oldID, newID, ad.detail)
}

// lock locks the unit's current version (nil if none) and checks it is
// still the one the scenario was made against and starts before validFrom.
func (ch change) lock(ctx context.Context, tx pgx.Tx, validFrom time.Time) (*units.Current, error) {
	cur, err := units.Lock(ctx, tx, ch.code)
	if err != nil {
		return nil, err
	}
	if err := ch.check(cur); err != nil {
		return nil, err
	}
	if cur != nil && validFrom.Before(cur.ValidFrom) {
		return nil, boundaries.Invalid("valid_from %s is before the current version of %s (valid from %s)",
			validFrom.Format("2006-01-02"), ch.code, cur.ValidFrom.Format("2006-01-02"))
	}
	return cur, nil
}

// check refuses to adopt over a unit edited, created or retired since the
// scenario was made: its geometry would silently overwrite that change.
func (ch change) check(cur *units.Current) error {
	var now, was int64
	if cur != nil {
		now = cur.ID
	}
	if ch.base != nil {
		was = *ch.base
	}
	if now != was {
		return fmt.Errorf("unit %s: current version is %d, the scenario was made against %d: %w", ch.code, now, was, boundaries.ErrStale)
	}
	return nil
}

// CreateFromPlan makes a scenario of a plan document (jiedao plan --format
// geojson, or a saved plan's): its resulting units and the communities its
// merges remove. summary is what the scenario keeps of the plan.
func CreateFromPlan(ctx context.Context, st *store.Store, name, profile string, summary any, geojson []byte) (*Scenario, error) {
	us, removed, err := ParsePlan(geojson)
	if err != nil {
		return nil, err
	}
	return Create(ctx, st, name, profile, summary, us, removed)
}

// freshGridCode refuses to create a grid under a code issued before: a
// grid code is never given again (grid_codes), even after its grid is
// retired.
func (ad *adoption) freshGridCode(ctx context.Context, ch change) error {
	if ch.level != boundaries.Grid {
		return nil
	}
	var issued *time.Time
	err := ad.tx.QueryRow(ctx, `SELECT issued_at FROM grid_codes WHERE code = $1`, ch.code).Scan(&issued)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("grid code %s: %w", ch.code, err)
	}
	return fmt.Errorf("grid %s: the code was issued on %s and is never given again (generate the grids again): %w",
		ch.code, issued.Format("2006-01-02"), boundaries.ErrConflict)
}

// gridCodes records the scenario's grid codes as issued, and for each
// live grid its grids replace, the codes that replace it (old → new).
func (ad *adoption) gridCodes(ctx context.Context) error {
	if _, err := ad.tx.Exec(ctx, `INSERT INTO grid_codes (code, community)
		SELECT code, coalesce(parent_code, left(code, -3)) FROM scenario_units WHERE scenario_id = $1 AND level = 'grid'
		ON CONFLICT (code) DO NOTHING`, ad.id); err != nil {
		return fmt.Errorf("grid codes: %w", err)
	}
	rows, err := ad.tx.Query(ctx, `WITH r AS (SELECT old, array_agg(su.code ORDER BY su.code) AS new
			FROM scenario_units su CROSS JOIN LATERAL unnest(su.replaces) old
			WHERE su.scenario_id = $1 AND su.level = 'grid' GROUP BY old)
		INSERT INTO grid_codes (code, community, replaced_by)
		SELECT r.old, coalesce((SELECT u.parent_code FROM units u WHERE u.code = r.old ORDER BY u.valid_from DESC LIMIT 1), left(r.old, -3)), r.new
		FROM r
		ON CONFLICT (code) DO UPDATE SET replaced_by = (SELECT array_agg(DISTINCT c ORDER BY c)
			FROM unnest(coalesce(grid_codes.replaced_by, '{}') || EXCLUDED.replaced_by) c)
		RETURNING code, replaced_by`, ad.id)
	if err != nil {
		return fmt.Errorf("grid codes replaced: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var old string
		var by []string
		if err := rows.Scan(&old, &by); err != nil {
			return fmt.Errorf("grid codes replaced: %w", err)
		}
		if ad.res.ReplacedBy == nil {
			ad.res.ReplacedBy = map[string][]string{}
		}
		ad.res.ReplacedBy[old] = by
	}
	return rows.Err()
}
