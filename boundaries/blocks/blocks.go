// Package blocks cuts units into blocks: the faces the barriers (roads,
// rivers, railways, walls; importer.Barriers) divide a unit into, with
// their households and population and which blocks share an edge, along
// which barrier. A boundary drawn between blocks follows a road or a river,
// so a split that joins blocks along their links keeps residents' streets
// whole. Blocks are derived data: built in PostGIS, set-based over every
// unit at once (blocks.sql), and cached for live unit versions (cache.go).
package blocks

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
)

//go:embed blocks.sql
var stepsFile string

// step is one named statement (or several without parameters) of blocks.sql.
type step struct{ name, sql string }

var steps = func() []step {
	var out []step
	for _, part := range strings.Split(stepsFile, "\n-- step: ")[1:] {
		name, sql, _ := strings.Cut(part, "\n")
		if k := strings.LastIndex(sql, ";\n"); k >= 0 {
			sql = sql[:k+1]
		}
		out = append(out, step{name, sql})
	}
	return out
}()

// stepSQL is the named step's SQL.
func stepSQL(name string) string {
	for _, s := range steps {
		if s.name == name {
			return s.sql
		}
	}
	panic("blocks: no step " + name)
}

// Block is one row of pblock (its geometry stays in the table).
type Block struct {
	ID         int     // 1… within the unit, by position
	Households float64 // from building points, else the unit's by area
	Population float64
	AreaM2     float64 // geodesic
	PerimM     float64 // geodesic
	X, Y       float64 // a point inside the block (longitude, latitude)
}

// Link is one row of pblock_link: blocks A < B share an edge.
type Link struct {
	A, B    int
	LengthM float64 // geodesic length of the shared edge
	Class   string  // the barrier covering most of it; "" for none
}

// Graph is one unit's blocks (ordered by id, ids 1…n) and their links
// (ordered by A, B).
type Graph struct {
	Key    string
	Blocks []Block
	Links  []Link
}

// workTables are Build's working tables, dropped before each build so one
// transaction can build more than once.
const workTables = `DROP TABLE IF EXISTS pb_unit, pb_line, pb_edge, pb_face, pb_iedge, pb_root, pb_blk`

// Build cuts the units src yields into blocks. src is a query returning
// (key text, geom geometry, households bigint, population bigint) rows in
// EPSG:4326, one per key (args are its parameters); the results go to the
// temp tables pblock (key, id, geom, households, population, area_m2,
// perim_m, x, y) and pblock_link (key, a, b, length_m, class), replacing
// rows of the same keys; both are dropped at commit. Faces under minM2 m²
// (geodesic) are merged into a neighbour. Every step runs once over all
// units, so a build's cost grows with the blocks, not with round trips.
func Build(ctx context.Context, tx pgx.Tx, src string, args []any, minM2 float64) error {
	if math.IsNaN(minM2) || math.IsInf(minM2, 0) || minM2 < 0 {
		return boundaries.Invalid("blocks: minimum block area %v: want a finite number ≥ 0", minM2)
	}
	if err := loadUnits(ctx, tx, src, args); err != nil {
		return err
	}
	for _, s := range steps {
		if s.name == "counts" {
			continue
		}
		if err := runStep(ctx, tx, s, minM2); err != nil {
			return err
		}
	}
	return runStep(ctx, tx, step{"counts", stepSQL("counts")}, minM2)
}

// loadUnits makes pb_unit from the caller's query and checks its keys.
func loadUnits(ctx context.Context, tx pgx.Tx, src string, args []any) error {
	// PostGIS's declared costs push these plans over jit_above_cost, and
	// compiling them costs more than running them.
	if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return fmt.Errorf("blocks: %w", err)
	}
	if _, err := tx.Exec(ctx, workTables); err != nil {
		return fmt.Errorf("blocks: %w", err)
	}
	// Only the polygonal part of a unit is cut; Z and M are dropped.
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE pb_unit ON COMMIT DROP AS
		SELECT s.key::text AS key, ST_Multi(ST_CollectionExtract(ST_Force2D(s.geom), 3)) AS geom,
			s.households::float8 AS h, s.population::float8 AS p
		FROM (`+src+`) s(key, geom, households, population)`, args...); err != nil {
		return fmt.Errorf("blocks: units: %w", err)
	}
	var dup string
	err := tx.QueryRow(ctx, `SELECT key FROM pb_unit GROUP BY key HAVING count(*) > 1 LIMIT 1`).Scan(&dup)
	switch {
	case err == nil:
		return boundaries.Invalid("blocks: unit key %q appears more than once", dup)
	case err != pgx.ErrNoRows:
		return fmt.Errorf("blocks: units: %w", err)
	}
	return nil
}

// runStep runs one step; $1, where the step has it, is minM2.
func runStep(ctx context.Context, tx pgx.Tx, s step, minM2 float64) error {
	var err error
	if strings.Contains(s.sql, "$1") {
		_, err = tx.Exec(ctx, s.sql, minM2)
	} else {
		_, err = tx.Exec(ctx, s.sql)
	}
	if err != nil {
		return fmt.Errorf("blocks: %s: %w", s.name, err)
	}
	return nil
}

// Graphs reads the blocks and links of keys back from pblock and
// pblock_link (all keys there when keys is nil).
func Graphs(ctx context.Context, tx pgx.Tx, keys []string) (map[string]*Graph, error) {
	out := map[string]*Graph{}
	rows, err := tx.Query(ctx, `SELECT key, id, households, population, area_m2, perim_m, x, y FROM pblock
		WHERE $1::text[] IS NULL OR key = ANY($1) ORDER BY key, id`, keys)
	if err != nil {
		return nil, fmt.Errorf("blocks: read: %w", err)
	}
	for rows.Next() {
		var key string
		var b Block
		if err := rows.Scan(&key, &b.ID, &b.Households, &b.Population, &b.AreaM2, &b.PerimM, &b.X, &b.Y); err != nil {
			rows.Close()
			return nil, fmt.Errorf("blocks: read: %w", err)
		}
		g := out[key]
		if g == nil {
			g = &Graph{Key: key}
			out[key] = g
		}
		g.Blocks = append(g.Blocks, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("blocks: read: %w", err)
	}
	rows, err = tx.Query(ctx, `SELECT key, a, b, length_m, class FROM pblock_link
		WHERE $1::text[] IS NULL OR key = ANY($1) ORDER BY key, a, b`, keys)
	if err != nil {
		return nil, fmt.Errorf("blocks: read links: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var l Link
		if err := rows.Scan(&key, &l.A, &l.B, &l.LengthM, &l.Class); err != nil {
			return nil, fmt.Errorf("blocks: read links: %w", err)
		}
		if g := out[key]; g != nil {
			g.Links = append(g.Links, l)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("blocks: read links: %w", err)
	}
	return out, nil
}
