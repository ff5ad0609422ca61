package importer

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// checkStaged runs the set-based checks on the staged features: transform,
// coordinate range, validity repair, duplicates, level clashes, parents and
// dates. Rejections are added to the report.
func checkStaged(ctx context.Context, tx pgx.Tx, opt Options, rep *Report) error {
	reject := rep.reject
	if _, err := tx.Exec(ctx, `UPDATE stage SET geom = ST_Transform(geom, 4326) WHERE ST_SRID(geom) <> 4326`); err != nil {
		return fmt.Errorf("transform to EPSG:4326: %w", err)
	}
	if err := collect(ctx, tx, `SELECT idx, code, name, format('coordinates outside lon/lat range after transform (%s %s, %s %s)',
			round(ST_XMin(geom)::numeric, 6), round(ST_YMin(geom)::numeric, 6), round(ST_XMax(geom)::numeric, 6), round(ST_YMax(geom)::numeric, 6))
		FROM stage WHERE ST_XMin(geom) < -180 OR ST_XMax(geom) > 180 OR ST_YMin(geom) < -90 OR ST_YMax(geom) > 90`, nil, reject); err != nil {
		return fmt.Errorf("check range: %w", err)
	}
	if err := repairStaged(ctx, tx, rep, reject); err != nil {
		return err
	}
	// RFC 7946 orientation and one geometry type for every row.
	if _, err := tx.Exec(ctx, `UPDATE stage SET geom = ST_Multi(ST_ForcePolygonCCW(geom))`); err != nil {
		return fmt.Errorf("normalise: %w", err)
	}
	if err := collect(ctx, tx, `SELECT idx, code, name, format('duplicate code %s (first at feature %s)', code, first)
		FROM (SELECT idx, code, name, min(idx) OVER (PARTITION BY code) AS first FROM stage) d WHERE idx <> first`, nil, reject); err != nil {
		return fmt.Errorf("check duplicates: %w", err)
	}
	if err := collect(ctx, tx, `SELECT s.idx, s.code, s.name, format('code %s is already a %s', s.code, u.level)
		FROM stage s JOIN units u ON u.code = s.code AND u.valid_to IS NULL AND u.level <> $1`,
		[]any{string(opt.Level)}, reject); err != nil {
		return fmt.Errorf("check levels: %w", err)
	}
	if pl := opt.Level.Parent(); pl != "" && !opt.AllowOrphans {
		if err := checkParents(ctx, tx, string(pl), reject); err != nil {
			return err
		}
	}
	if err := classifyStaged(ctx, tx, opt, reject); err != nil {
		return err
	}
	sort.SliceStable(rep.Rejected, func(i, j int) bool { return rep.Rejected[i].Index < rep.Rejected[j].Index })
	return nil
}

// repairStaged makes invalid staged polygons valid, listing repairs and rejecting collapses.
func repairStaged(ctx context.Context, tx pgx.Tx, rep *Report, reject func(Issue)) error {
	// Invalid polygons (self-intersections, …) are repaired, keeping only
	// their polygonal part, and listed; one that collapses is rejected.
	repairedAt := map[int]int{}
	for i, r := range rep.Repaired {
		repairedAt[r.Index] = i
	}
	rows, err := tx.Query(ctx, `WITH bad AS (
			SELECT idx, ST_IsValidReason(geom) AS why FROM stage WHERE NOT ST_IsValid(geom))
		UPDATE stage s SET geom = ST_CollectionExtract(ST_MakeValid(s.geom), 3)
		FROM bad WHERE s.idx = bad.idx
		RETURNING s.idx, s.code, s.name, bad.why, ST_IsEmpty(s.geom)`)
	if err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	for rows.Next() {
		var is Issue
		var why string
		var empty bool
		if err := rows.Scan(&is.Index, &is.Code, &is.Name, &why, &empty); err != nil {
			rows.Close()
			return fmt.Errorf("repair: %w", err)
		}
		if empty {
			is.Reason = "invalid geometry that leaves no polygon when repaired: " + why
			reject(is)
			continue
		}
		is.Reason = "made valid: " + why
		if i, ok := repairedAt[is.Index]; ok {
			rep.Repaired[i].Reason += "; " + is.Reason
		} else {
			rep.repair(is)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	sort.Slice(rep.Repaired, func(i, j int) bool { return rep.Repaired[i].Index < rep.Repaired[j].Index })
	return nil
}

// checkParents rejects staged units whose parent is not a loaded pl, once any pl is loaded.
func checkParents(ctx context.Context, tx pgx.Tx, pl string, reject func(Issue)) error {
	var loaded bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM units WHERE level = $1 AND valid_to IS NULL)`, pl).Scan(&loaded); err != nil {
		return fmt.Errorf("check parents: %w", err)
	}
	// The top loaded level has no parents to check against.
	if loaded {
		if err := collect(ctx, tx, `SELECT s.idx, s.code, s.name, CASE WHEN s.parent_code IS NULL
					THEN 'no parent code (none given, none derivable from the code); use --parent-field or --allow-orphans'
					ELSE format('parent %s is not a loaded %s; use --allow-orphans to accept it', s.parent_code, $1::text) END
				FROM stage s WHERE NOT EXISTS (SELECT 1 FROM units p WHERE p.code = s.parent_code AND p.level = $1 AND p.valid_to IS NULL)`,
			[]any{pl}, reject); err != nil {
			return fmt.Errorf("check parents: %w", err)
		}
	}
	return nil
}

// classifyStaged fills the diff table (created, changed, unchanged) and rejects back-dated changes.
func classifyStaged(ctx context.Context, tx pgx.Tx, opt Options, reject func(Issue)) error {
	// Classify against the latest version of each code.
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE diff ON COMMIT DROP AS
		SELECT s.idx, s.code, u.version_id AS cur_id, u.valid_from AS cur_from,
			CASE WHEN u.version_id IS NULL THEN 'created'
			     WHEN u.name = s.name
			      AND u.parent_code IS NOT DISTINCT FROM s.parent_code
			      AND u.provisional = s.provisional
			      AND ($1 = '' OR u.kind IS NOT DISTINCT FROM s.kind)
			      AND ($2 = '' OR u.households IS NOT DISTINCT FROM s.households)
			      AND ($3 = '' OR u.population IS NOT DISTINCT FROM s.population)
			      AND (ST_AsBinary(u.geom) = ST_AsBinary(s.geom) OR ST_Equals(u.geom, s.geom))
			     THEN 'unchanged' ELSE 'changed' END AS status
		FROM stage s LEFT JOIN units u ON u.code = s.code AND u.valid_to IS NULL`,
		opt.KindField, opt.HouseholdsField, opt.PopulationField); err != nil {
		return fmt.Errorf("compare with current versions: %w", err)
	}
	if err := collect(ctx, tx, `SELECT d.idx, d.code, s.name, format('valid_from %s is before the current version''s valid_from %s', $1::date, d.cur_from)
		FROM diff d JOIN stage s USING (idx) WHERE d.status = 'changed' AND d.cur_from > $1::date`, []any{opt.ValidFrom}, reject); err != nil {
		return fmt.Errorf("check dates: %w", err)
	}
	return nil
}

// applyStaged closes changed versions and inserts new ones.
func applyStaged(ctx context.Context, tx pgx.Tx, opt Options, rep *Report) error {
	if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status='created'), count(*) FILTER (WHERE status='changed'),
		count(*) FILTER (WHERE status='unchanged') FROM diff`).Scan(&rep.Created, &rep.Changed, &rep.Unchanged); err != nil {
		return fmt.Errorf("count changes: %w", err)
	}
	if rep.Created+rep.Changed == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE units u SET valid_to = $1 FROM diff d
		WHERE d.cur_id = u.version_id AND d.status = 'changed'`, opt.ValidFrom); err != nil {
		return fmt.Errorf("close changed versions: %w", err)
	}
	var approval any
	if strings.TrimSpace(opt.Approval) != "" {
		approval = opt.Approval
	}
	// Attributes the file does not carry are kept from the current version.
	if _, err := tx.Exec(ctx, `INSERT INTO units (code, name, level, parent_code, kind, households, population,
			provisional, geom, valid_from, approval, source, import_id)
		SELECT s.code, s.name, $1, s.parent_code,
			CASE WHEN $2 = '' THEN c.kind ELSE s.kind END,
			CASE WHEN $3 = '' THEN c.households ELSE s.households END,
			CASE WHEN $4 = '' THEN c.population ELSE s.population END,
			s.provisional, s.geom, $5, $6, $7, $8
		FROM diff d JOIN stage s USING (idx) LEFT JOIN units c ON c.version_id = d.cur_id
		WHERE d.status IN ('created', 'changed')
		ORDER BY s.idx`,
		string(opt.Level), opt.KindField, opt.HouseholdsField, opt.PopulationField,
		opt.ValidFrom, approval, fmt.Sprintf("%s (import %d)", opt.Source, rep.ImportID), rep.ImportID); err != nil {
		return fmt.Errorf("insert versions: %w", err)
	}
	if opt.Level == boundaries.Grid {
		// A grid code once given is never given again: imported codes are
		// issued codes too.
		if _, err := tx.Exec(ctx, `INSERT INTO grid_codes (code, community)
			SELECT s.code, s.parent_code FROM diff d JOIN stage s USING (idx)
			WHERE d.status = 'created' AND s.parent_code IS NOT NULL AND (s.code ~ '^[0-9]{15}$' OR s.code ~ '^P')
			ON CONFLICT (code) DO NOTHING`); err != nil {
			return fmt.Errorf("record grid codes: %w", err)
		}
	}
	return store.BumpDataVersion(ctx, tx)
}

// collect runs a query returning (idx, code, name, reason) rows, name
// possibly NULL, and hands each to f as an Issue.
func collect(ctx context.Context, tx pgx.Tx, sql string, args []any, f func(Issue)) error {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var is Issue
		var name *string
		if err := rows.Scan(&is.Index, &is.Code, &name, &is.Reason); err != nil {
			return err
		}
		if name != nil {
			is.Name = *name
		}
		f(is)
	}
	return rows.Err()
}
