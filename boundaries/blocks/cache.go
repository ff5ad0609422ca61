package blocks

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries/store"
)

// The cache of live unit versions' blocks (blocks_cache*, migration 0013):
// a version's geometry never changes, so its blocks are a function of the
// version, the barriers (barriers_version) and the minimum block area.
// Counts are not cached: they are recomputed from the building points on
// every load, which is cheap next to the cutting.

// cacheLock serialises cache builds, so two processes asking for the same
// missing versions build them once.
const cacheLock = 7347020

// unitsSQL is Build's source over unit versions by id, keyed by the id.
const unitsSQL = `SELECT version_id::text, geom, households, population FROM units WHERE version_id = ANY($1)`

// ForUnits returns the blocks of unit versions, keyed by version id,
// building and caching those not cached yet for the current barriers.
// An id naming no version is left out of the result.
func ForUnits(ctx context.Context, st *store.Store, versionIDs []int64, minM2 float64) (map[int64]*Graph, error) {
	out := map[int64]*Graph{}
	err := st.Tx(ctx, func(tx pgx.Tx) error {
		if err := Ensure(ctx, tx, versionIDs, minM2); err != nil {
			return err
		}
		if err := Load(ctx, tx, versionIDs, minM2); err != nil {
			return err
		}
		gs, err := Graphs(ctx, tx, keysOf(versionIDs))
		if err != nil {
			return err
		}
		for k, g := range gs {
			id, err := strconv.ParseInt(k, 10, 64)
			if err != nil {
				return fmt.Errorf("blocks: key %q: %w", k, err)
			}
			out[id] = g
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func keysOf(ids []int64) []string {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = strconv.FormatInt(id, 10)
	}
	return keys
}

// Ensure builds and stores the blocks of the versions not cached for the
// current barriers_version and minM2, in tx (which must be able to write),
// and drops what was cached for older barriers. It leaves pblock and
// pblock_link holding the versions it built.
func Ensure(ctx context.Context, tx pgx.Tx, versionIDs []int64, minM2 float64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, cacheLock); err != nil {
		return fmt.Errorf("blocks: cache lock: %w", err)
	}
	var bv int64
	if err := tx.QueryRow(ctx, `SELECT barriers_version FROM meta`).Scan(&bv); err != nil {
		return fmt.Errorf("blocks: barriers version: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT u.version_id FROM units u WHERE u.version_id = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM blocks_cache c WHERE c.version_id = u.version_id AND c.barriers_version = $2 AND c.min_block_m2 = $3)
		ORDER BY 1`, versionIDs, bv, minM2)
	if err != nil {
		return fmt.Errorf("blocks: cache: %w", err)
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("blocks: cache: %w", err)
	}
	if len(missing) == 0 {
		return nil
	}
	// Derived data of barriers no longer loaded is never read again.
	if _, err := tx.Exec(ctx, `DELETE FROM blocks_cache WHERE barriers_version <> $1`, bv); err != nil {
		return fmt.Errorf("blocks: cache: drop old: %w", err)
	}
	if err := Build(ctx, tx, unitsSQL, []any{missing}, minM2); err != nil {
		return err
	}
	for _, q := range []string{
		`INSERT INTO blocks_cache (version_id, barriers_version, min_block_m2) SELECT unnest($1::bigint[]), $2, $3`,
		`INSERT INTO blocks_cache_block (version_id, barriers_version, min_block_m2, id, geom, area_m2, perim_m, x, y)
			SELECT key::bigint, $2, $3, id, geom, area_m2, perim_m, x, y FROM pblock WHERE key = ANY($1::bigint[]::text[])`,
		`INSERT INTO blocks_cache_link (version_id, barriers_version, min_block_m2, a, b, length_m, class)
			SELECT key::bigint, $2, $3, a, b, length_m, class FROM pblock_link WHERE key = ANY($1::bigint[]::text[])`,
	} {
		if _, err := tx.Exec(ctx, q, missing, bv, minM2); err != nil {
			return fmt.Errorf("blocks: cache: store: %w", err)
		}
	}
	return nil
}

// Load fills pblock and pblock_link (keys: the version ids as text) with
// the cached blocks of versions for the current barriers and minM2, their
// counts from today's building points. Versions not cached (see Ensure)
// are left out.
func Load(ctx context.Context, tx pgx.Tx, versionIDs []int64, minM2 float64) error {
	if err := loadUnits(ctx, tx, unitsSQL, []any{versionIDs}); err != nil {
		return err
	}
	if err := runStep(ctx, tx, step{"index units", stepSQL("index units")}, minM2); err != nil {
		return err
	}
	for _, q := range []string{
		`INSERT INTO pblock (key, id, geom, households, population, area_m2, perim_m, x, y)
			SELECT c.version_id::text, c.id, c.geom, 0, 0, c.area_m2, c.perim_m, c.x, c.y
			FROM blocks_cache_block c JOIN meta m ON c.barriers_version = m.barriers_version
			WHERE c.version_id = ANY($1) AND c.min_block_m2 = $2`,
		`INSERT INTO pblock_link (key, a, b, length_m, class)
			SELECT c.version_id::text, c.a, c.b, c.length_m, c.class
			FROM blocks_cache_link c JOIN meta m ON c.barriers_version = m.barriers_version
			WHERE c.version_id = ANY($1) AND c.min_block_m2 = $2`,
	} {
		if _, err := tx.Exec(ctx, q, versionIDs, minM2); err != nil {
			return fmt.Errorf("blocks: load cached: %w", err)
		}
	}
	return runStep(ctx, tx, step{"counts", stepSQL("counts")}, minM2)
}
