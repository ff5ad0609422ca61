package grids

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries/blocks"
	"github.com/jiedao/jiedao/boundaries/plan"
)

// Cutting ground into grids, set-based over every area of garea (key,
// community, geom, h, p) at once:
//
//  1. a building point over the maximum households is never divided, so
//     its block (or, without blocks, its Voronoi cell among the area's
//     points) is a grid of its own, flagged with the reason;
//  2. the rest of such an area falls into pieces, each cut on its own;
//     households are shared among an area's regions by their building
//     points (by area where there are none);
//  3. each region is cut into Rules.K(households) parts by plan.Divide,
//     with the grid rules;
//  4. the parts go to gpart, to be numbered.

// cut fills gpart from garea.
func (g *gen) cut(ctx context.Context) error {
	t0 := time.Now()
	if err := g.regions(ctx); err != nil {
		return err
	}
	ks, err := g.apportion(ctx)
	if err != nil {
		return err
	}
	slog.Debug("grids regions", "regions", len(ks), "ms", time.Since(t0).Milliseconds())
	r := plan.DivideRules{MinHouseholds: g.rules.Min, MaxHouseholds: g.rules.Max, NormalHouseholds: g.rules.Target,
		MaxPopulation: g.rules.MaxPopulation}
	g.div, err = plan.Divide(ctx, g.tx, g.p, `SELECT key, key, geom, h, p FROM greg`, nil, ks,
		plan.DivideOptions{Rules: r, Method: g.method, Seed: g.seed, BarrierShare: g.barrierShare})
	if err != nil {
		return err
	}
	_, err = g.tx.Exec(ctx, `DROP TABLE IF EXISTS gpart; CREATE TEMP TABLE gpart ON COMMIT DROP AS
		SELECT row_number() OVER (ORDER BY r.area, d.key, d.part)::int AS id, a.community, r.area, d.key AS region, d.part,
			d.geom, d.households AS h, d.population AS p, d.method, d.on_barriers, r.tower, r.k,
			NULL::text AS code, NULL::bigint AS base, false AS unchanged, NULL::text[] AS replaces, false AS kept
		FROM pdiv d JOIN greg r ON r.key = d.key JOIN garea a ON a.key = r.area
		WHERE NOT ST_IsEmpty(d.geom);
		CREATE INDEX ON gpart USING gist (geom); CREATE INDEX ON gpart (id); ANALYZE gpart`)
	if err != nil {
		return fmt.Errorf("parts: %w", err)
	}
	return nil
}

// regions makes greg (key, area, geom, h, p, tower, k): the towers'
// grids, the pieces of the rest of their areas, and every other area
// whole (keyed as the area).
func (g *gen) regions(ctx context.Context) error {
	maxH := math.Inf(1)
	if g.rules.Max > 0 {
		maxH = g.rules.Max
	}
	if _, err := g.tx.Exec(ctx, `DROP TABLE IF EXISTS gtower, gtcell, greg;
		CREATE TEMP TABLE gtcell (area text, geom geometry) ON COMMIT DROP`); err != nil {
		return err
	}
	if _, err := g.tx.Exec(ctx, `CREATE TEMP TABLE gtower ON COMMIT DROP AS
		SELECT a.key, pt.id, pt.geom, pt.households FROM garea a JOIN points pt ON pt.geom && a.geom AND ST_Intersects(a.geom, pt.geom)
		WHERE pt.households > $1`, maxH); err != nil {
		return fmt.Errorf("towers: %w", err)
	}
	var n int
	if err := g.tx.QueryRow(ctx, `SELECT count(*) FROM gtower`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		if err := g.towerCells(ctx); err != nil {
			return err
		}
	}
	// A piece of the rest under 1 m² is noise of the difference.
	_, err := g.tx.Exec(ctx, `CREATE TEMP TABLE greg ON COMMIT DROP AS
		SELECT area || '#t' || row_number() OVER (PARTITION BY area ORDER BY ST_XMin(geom), ST_YMin(geom)) AS key, area, geom,
			NULL::bigint AS h, NULL::bigint AS p, true AS tower, 1 AS k FROM gtcell
		UNION ALL
		SELECT a.key || '#' || row_number() OVER (PARTITION BY a.key ORDER BY ST_XMin(d.geom), ST_YMin(d.geom)), a.key, ST_Multi(d.geom), NULL, NULL, false, 0
		FROM garea a CROSS JOIN LATERAL ST_Dump(ST_CollectionExtract(
			ST_Difference(a.geom, (SELECT ST_Union(c.geom) FROM gtcell c WHERE c.area = a.key)), 3)) d
		WHERE a.key IN (SELECT area FROM gtcell) AND ST_Area(d.geom::geography) >= 1
		UNION ALL
		SELECT key, key, geom, h, p, false, 0 FROM garea WHERE key NOT IN (SELECT area FROM gtcell);
		CREATE INDEX ON greg USING gist (geom); ANALYZE greg`)
	if err != nil {
		return fmt.Errorf("regions: %w", err)
	}
	return nil
}

// towerCells makes gtcell: for each area with a tower, the block of each
// tower (blocks) or its Voronoi cell among the area's building points.
func (g *gen) towerCells(ctx context.Context) error {
	if g.towerBy == "block" {
		if err := blocks.Build(ctx, g.tx, `SELECT key, geom, h, p FROM garea WHERE key IN (SELECT key FROM gtower)`, nil, g.p.MinBlockArea()); err != nil {
			return err
		}
		_, err := g.tx.Exec(ctx, `INSERT INTO gtcell SELECT b.key, ST_Multi(b.geom) FROM pblock b
			WHERE b.key IN (SELECT key FROM gtower) AND EXISTS (SELECT 1 FROM gtower t WHERE t.key = b.key AND ST_Intersects(b.geom, t.geom))`)
		if err != nil {
			return fmt.Errorf("tower blocks: %w", err)
		}
		return nil
	}
	_, err := g.tx.Exec(ctx, `WITH a AS (SELECT key, geom FROM garea WHERE key IN (SELECT key FROM gtower)),
		pts AS (SELECT a.key, ST_Collect(DISTINCT pt.geom) AS g FROM a JOIN points pt ON pt.geom && a.geom AND ST_Intersects(a.geom, pt.geom)
			AND pt.households > 0 GROUP BY a.key),
		v AS (SELECT a.key, a.geom AS ag, (ST_Dump(ST_VoronoiPolygons(pts.g, 0, ST_Expand(a.geom, 0.01)))).geom AS cell FROM a JOIN pts USING (key))
		INSERT INTO gtcell SELECT v.key, ST_Multi(ST_CollectionExtract(ST_Intersection(v.cell, v.ag), 3)) FROM v
		WHERE EXISTS (SELECT 1 FROM gtower t WHERE t.key = v.key AND ST_Intersects(v.cell, t.geom))`)
	if err != nil {
		return fmt.Errorf("tower cells: %w", err)
	}
	return nil
}

// region is one row of greg as apportion reads it.
type region struct {
	key, area string
	ah, ap    *int64 // the area's households and population
	wh, wp    float64
	m2        float64
	tower     bool
}

// apportion shares each area's households among its regions (by the
// households of their building points, else by area; population by
// people, else like households), writes them to greg with each region's
// k, and returns the ks for plan.Divide.
func (g *gen) apportion(ctx context.Context) (map[string]int, error) {
	rows, err := g.tx.Query(ctx, `SELECT r.key, r.area, a.h, a.p, coalesce(w.h, 0), coalesce(w.p, 0), ST_Area(r.geom::geography), r.tower
		FROM greg r JOIN garea a ON a.key = r.area
		LEFT JOIN LATERAL (SELECT sum(pt.households)::float8 AS h, sum(pt.population)::float8 AS p FROM points pt
			WHERE r.key <> r.area AND pt.geom && r.geom AND ST_Intersects(r.geom, pt.geom)) w ON true
		ORDER BY r.area, r.key`)
	if err != nil {
		return nil, fmt.Errorf("regions: %w", err)
	}
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (region, error) {
		var x region
		return x, r.Scan(&x.key, &x.area, &x.ah, &x.ap, &x.wh, &x.wp, &x.m2, &x.tower)
	})
	if err != nil {
		return nil, fmt.Errorf("regions: %w", err)
	}
	ks := map[string]int{}
	keys := make([]string, 0, len(rs))
	var hs, ps []*int64
	var kk []int32
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && rs[j].area == rs[i].area {
			j++
		}
		h, p := shareArea(rs[i:j])
		for x := i; x < j; x++ {
			k := 1
			if !rs[x].tower && h[x-i] != nil {
				k = g.rules.K(float64(*h[x-i]))
				if g.rules.MaxPopulation > 0 && p[x-i] != nil {
					k = max(k, int(math.Ceil(float64(*p[x-i])/g.rules.MaxPopulation)))
				}
			}
			ks[rs[x].key] = k
			keys, hs, ps, kk = append(keys, rs[x].key), append(hs, h[x-i]), append(ps, p[x-i]), append(kk, int32(k))
		}
		i = j
	}
	if _, err := g.tx.Exec(ctx, `UPDATE greg r SET h = u.h, p = u.p, k = u.k FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::int[]) u(key, h, p, k)
		WHERE r.key = u.key`, keys, hs, ps, kk); err != nil {
		return nil, fmt.Errorf("regions: %w", err)
	}
	return ks, nil
}

// shareArea shares one area's counts among its regions.
func shareArea(rs []region) (h, p []*int64) {
	if len(rs) == 1 {
		return []*int64{rs[0].ah}, []*int64{rs[0].ap}
	}
	wh, wp := make([]float64, len(rs)), make([]float64, len(rs))
	var sh, sp float64
	for _, r := range rs {
		sh, sp = sh+r.wh, sp+r.wp
	}
	for i, r := range rs {
		switch {
		case sh > 0:
			wh[i] = r.wh
		default:
			wh[i] = r.m2
		}
		wp[i] = wh[i]
		if sp > 0 {
			wp[i] = r.wp
		}
	}
	return plan.Shares(rs[0].ah, wh), plan.Shares(rs[0].ap, wp)
}
