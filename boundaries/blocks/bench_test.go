package blocks_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries/blocks"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
)

// benchCity is a synthetic district of 1,500 communities (Voronoi cells
// of random seeds over 20 × 20 km, ~0.27 km² each, their edges ignoring
// the roads as real boundaries partly do), a street grid every ~170 m with
// wobbly roads of every class, two rivers and 50,000 building points.
// setseed makes it the same city every run.
var benchCity = []string{
	`SELECT setseed(0.42)`,
	`CREATE TABLE bench_units AS
	SELECT row_number() OVER (ORDER BY ST_XMin(g), ST_YMin(g))::text AS key, ST_Multi(g) AS geom, 1000::bigint AS households, 3000::bigint AS population
	FROM (SELECT ST_SetSRID(ST_Intersection(v.geom, ST_MakeEnvelope(116.30, 39.80, 116.54, 39.98)), 4326) AS g
		FROM ST_Dump(ST_VoronoiPolygons((SELECT ST_Collect(ST_MakePoint(116.30 + random() * 0.24, 39.80 + random() * 0.18))
			FROM generate_series(1, 1500)))) v) x`,
	`INSERT INTO barriers (class, geom)
	SELECT (ARRAY['trunk', 'primary', 'secondary', 'residential', 'residential', 'alley', 'alley', 'wall'])[1 + floor(random() * 8)::int],
		ST_Multi(ST_SetSRID(ST_MakeLine(pt ORDER BY k), 4326))
	FROM (SELECT i, k, CASE WHEN i < 130 THEN ST_MakePoint(116.30 + i * 0.002 + (random() - 0.5) * 0.0003, 39.795 + k * 0.002)
			ELSE ST_MakePoint(116.295 + k * 0.002, 39.80 + (i - 130) * 0.0015 + (random() - 0.5) * 0.0003) END AS pt
		FROM generate_series(0, 250) i, generate_series(0, 125) k) x
	GROUP BY i`,
	`INSERT INTO barriers (class, geom)
	SELECT c, ST_Multi(ST_SetSRID(ST_MakeLine(ST_MakePoint(116.29 + k * 0.0026, y + 0.02 * sin(k / 7.0)) ORDER BY k), 4326))
	FROM (VALUES ('river', 39.85), ('rail', 39.93)) r(c, y), generate_series(0, 100) k GROUP BY c, y`,
	`INSERT INTO points (geom, households, population)
	SELECT ST_SetSRID(ST_MakePoint(116.30 + random() * 0.24, 39.80 + random() * 0.18), 4326), 1 + floor(random() * 60)::int, NULL
	FROM generate_series(1, 50000)`,
	`ANALYZE`,
}

func benchStore(b *testing.B) *store.Store {
	st, _ := pgtest.NewStore(b)
	ctx := context.Background()
	for _, q := range benchCity {
		if _, err := st.Primary().Exec(ctx, q); err != nil {
			b.Fatalf("%.60s: %v", q, err)
		}
	}
	return st
}

// BenchmarkBuild measures Build over the synthetic district: blocks/s.
func BenchmarkBuild(b *testing.B) {
	pgtest.BenchGate(b)
	st := benchStore(b)
	ctx := context.Background()
	var nBlocks, nLinks, nUnits int
	for i := 0; i < b.N; i++ {
		err := st.Tx(ctx, func(tx pgx.Tx) error {
			start := time.Now()
			if err := blocks.Build(ctx, tx, `SELECT key, geom, households, population FROM bench_units`, nil, 200); err != nil {
				return err
			}
			b.Logf("build: %v", time.Since(start))
			if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM pblock), (SELECT count(*) FROM pblock_link), (SELECT count(DISTINCT key) FROM pblock)`).
				Scan(&nBlocks, &nLinks, &nUnits); err != nil {
				return err
			}
			// Outside the timing: the blocks tile every unit exactly.
			b.StopTimer()
			defer b.StartTimer()
			var bad, overlaps int
			if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM (SELECT u.key FROM pblock b JOIN pb_unit u USING (key) GROUP BY u.key
					HAVING ST_Area(ST_SymDifference(ST_Union(b.geom), min(u.geom::text)::geometry)) > 1e-6 * ST_Area(min(u.geom::text)::geometry)) x),
				(SELECT count(*) FROM pblock p JOIN pblock q ON p.key = q.key AND p.id < q.id AND p.geom && q.geom AND ST_Relate(p.geom, q.geom, '2********'))`).
				Scan(&bad, &overlaps); err != nil {
				return err
			}
			if bad > 0 || overlaps > 0 {
				b.Errorf("%d units not tiled by their blocks, %d overlapping pairs", bad, overlaps)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(nBlocks*b.N)/b.Elapsed().Seconds(), "blocks/s")
	b.ReportMetric(float64(nBlocks), "blocks")
	b.ReportMetric(float64(nLinks), "links")
	b.ReportMetric(float64(nUnits), "units")
}
