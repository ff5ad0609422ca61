-- The analysis, step by step. Compute runs these statements in order in
-- one transaction; "-- step: NAME" starts a step. {{units}} is the table of
-- unit versions analysed (units, a scenario's or a plan's working table),
-- $1 the day in the first step; the zone steps store the zones of run $1
-- over the profile's tolerances, $2 the area and $3 the share outside the
-- parent.
--
-- A region (incremental analysis, see incremental.sql) is the same rules
-- over part of the units: the units to re-analyse, plus context units
-- (ctx) whose own results are kept from the run being advanced but which
-- their neighbours and parents need: their counts (ctx_h, ctx_p,
-- ctx_method), whether they were overlap candidates (ctx_cand) and
-- whether they take building points (ctx_pts). {{ctx}} selects those
-- columns; in a full analysis no unit is context. The levels loaded (lv)
-- are those of all units, made before a region's analysis.

-- step: current units
CREATE TEMP TABLE au ON COMMIT DROP AS
SELECT u.code, u.name, u.level, u.parent_code, u.households::bigint AS h, u.population::bigint AS p, u.geom, u.area_m2,
	CASE u.level WHEN 'grid' THEN 'community' WHEN 'community' THEN 'street' WHEN 'street' THEN 'district' END AS parent_level, {{ctx}}
FROM {{units}} u WHERE (u.valid_from <= $1 AND (u.valid_to IS NULL OR u.valid_to > $1));

-- step: index
CREATE INDEX ON au USING gist (geom); CREATE INDEX ON au (code); CREATE INDEX ON au (parent_code); ANALYZE au;
CREATE TEMP TABLE IF NOT EXISTS lv ON COMMIT DROP AS SELECT DISTINCT level FROM au;

-- Points are joined unit by unit (LATERAL), so each polygon is
-- prepared once for all its points, and only to grids, communities and
-- streets without communities (other streets sum their communities):
-- a point counts once per level. A point on a shared edge goes to the
-- smallest code.
-- step: points
CREATE TEMP TABLE pa ON COMMIT DROP AS
SELECT DISTINCT ON (x.id, u.level) x.id, u.code, x.h, x.p
FROM au u CROSS JOIN LATERAL (
	SELECT pt.id, pt.households AS h, pt.population AS p FROM points pt WHERE ST_Intersects(u.geom, pt.geom)) x
WHERE NOT u.ctx AND (u.level IN ('community', 'grid')
   OR u.level = 'street' AND NOT EXISTS (SELECT 1 FROM au c WHERE c.parent_code = u.code AND c.level = 'community'))
   OR u.ctx_pts
ORDER BY x.id, u.level, u.code;
CREATE INDEX ON pa (code);
-- n: how many points a unit holds (a grid of one building point cannot be split).
CREATE TEMP TABLE pc ON COMMIT DROP AS SELECT code, sum(h)::bigint AS h, sum(p)::bigint AS p, count(*) AS n FROM pa GROUP BY code;

-- Areal interpolation from count areas: each area's counts are
-- shared among the units it overlaps, by the households of the
-- building points in each part when the area holds any, else by
-- area.
-- step: interpolation
CREATE TEMP TABLE ic ON COMMIT DROP AS
SELECT code, round(sum(h * w))::bigint AS h, round(sum(p * w))::bigint AS p, bool_or(by_h) AS by_h FROM (
	SELECT u.code, a.households AS h, a.population AS p, coalesce(ap.ph, 0) > 0 AS by_h,
		CASE WHEN coalesce(ap.ph, 0) > 0 THEN coalesce(up.ph, 0)::float8 / ap.ph
		     ELSE ST_Area(ST_Intersection(u.geom, a.geom)::geography) / nullif(a.area_m2, 0) END AS w
	FROM au u JOIN count_areas a ON u.geom && a.geom AND ST_Intersects(u.geom, a.geom)
	LEFT JOIN LATERAL (SELECT sum(pt.households) AS ph FROM points pt WHERE ST_Intersects(a.geom, pt.geom)) ap ON true
	LEFT JOIN LATERAL (SELECT sum(pa.h) AS ph FROM pa JOIN points pt ON pt.id = pa.id
		WHERE pa.code = u.code AND ST_Intersects(a.geom, pt.geom)) up ON true
	WHERE NOT u.ctx AND (u.level IN ('community', 'grid')
	   OR u.level = 'street' AND NOT EXISTS (SELECT 1 FROM au c WHERE c.parent_code = u.code AND c.level = 'community'))) x
GROUP BY code;

-- Each count comes from the unit's attributes, else its points,
-- else interpolation; counts_method says which.
-- step: counts
CREATE TEMP TABLE cnt ON COMMIT DROP AS
SELECT code, level, parent_code, ctx, h, p,
	CASE WHEN ctx THEN ctx_method WHEN hm IS NOT DISTINCT FROM pm THEN hm
	     WHEN pm IS NULL THEN hm || ' (households)'
	     WHEN hm IS NULL THEN pm || ' (population)'
	     ELSE hm || ' (households), ' || pm || ' (population)' END AS method
FROM (SELECT u.code, u.level, u.parent_code, u.ctx, u.ctx_method,
		CASE WHEN u.ctx THEN u.ctx_h ELSE coalesce(u.h, pc.h, ic.h) END AS h,
		CASE WHEN u.ctx THEN u.ctx_p ELSE coalesce(u.p, pc.p, ic.p) END AS p,
		CASE WHEN u.h IS NOT NULL THEN 'attribute' WHEN pc.h IS NOT NULL THEN 'points'
		     WHEN ic.h IS NOT NULL THEN CASE WHEN ic.by_h THEN 'interpolated by households' ELSE 'interpolated by area' END END AS hm,
		CASE WHEN u.p IS NOT NULL THEN 'attribute' WHEN pc.p IS NOT NULL THEN 'points'
		     WHEN ic.p IS NOT NULL THEN CASE WHEN ic.by_h THEN 'interpolated by households' ELSE 'interpolated by area' END END AS pm
	FROM au u LEFT JOIN pc USING (code) LEFT JOIN ic USING (code)) x;

-- Communities without counts of their own (no attribute, no points, no
-- count area) take the sum of their grids, streets the sum of their
-- communities, districts the sum of their streets.
-- step: community sums
UPDATE cnt c SET h = x.h, p = x.p, method = 'sum of grids' FROM (
	SELECT parent_code, sum(h)::bigint AS h, sum(p)::bigint AS p FROM cnt WHERE level = 'grid' GROUP BY parent_code) x
WHERE c.level = 'community' AND NOT c.ctx AND c.method IS NULL AND x.parent_code = c.code AND (x.h IS NOT NULL OR x.p IS NOT NULL);

-- step: street sums
UPDATE cnt s SET h = x.h, p = x.p, method = 'sum of communities' FROM (
	SELECT parent_code, sum(h)::bigint AS h, sum(p)::bigint AS p FROM cnt WHERE level = 'community' GROUP BY parent_code) x
WHERE s.level = 'street' AND NOT s.ctx AND s.method IS NULL AND x.parent_code = s.code AND (x.h IS NOT NULL OR x.p IS NOT NULL);

-- step: district sums
UPDATE cnt d SET h = x.h, p = x.p, method = 'sum of streets' FROM (
	SELECT parent_code, sum(h)::bigint AS h, sum(p)::bigint AS p FROM cnt WHERE level = 'street' GROUP BY parent_code) x
WHERE d.level = 'district' AND NOT d.ctx AND d.method IS NULL AND x.parent_code = d.code AND (x.h IS NOT NULL OR x.p IS NOT NULL);

-- Parents whose children do not add up exactly (1 m² tolerance on
-- the ellipsoidal areas) or poke out of the parent's bounding box.
-- step: suspect parents
CREATE TEMP TABLE suspect ON COMMIT DROP AS
SELECT p.code, p.level FROM au p JOIN au c ON c.parent_code = p.code AND c.parent_level = p.level
WHERE NOT p.ctx
GROUP BY p.code, p.level, p.area_m2, p.geom
HAVING abs(sum(c.area_m2) - p.area_m2) > 1 OR bool_or(NOT (p.geom ~ c.geom)) OR bool_or(ST_NumGeometries(c.geom) > 1);

-- Units to compare pairwise: children of suspect parents, and units
-- with no loaded parent (the top loaded level, orphans); context units
-- as they were.
-- step: suspect units
CREATE TEMP TABLE cand ON COMMIT DROP AS
SELECT c.code FROM au c JOIN suspect s ON s.code = c.parent_code AND s.level = c.parent_level
UNION SELECT u.code FROM au u WHERE NOT u.ctx AND NOT EXISTS (SELECT 1 FROM au p WHERE p.code = u.parent_code AND p.level = u.parent_level)
UNION SELECT code FROM au WHERE ctx_cand;
CREATE INDEX ON cand (code); ANALYZE cand;

-- step: zones: crosses_parent
CREATE TEMP TABLE zraw ON COMMIT DROP AS
SELECT 'crosses_parent'::text AS kind, c.level, ARRAY[c.code] AS codes, 0 AS part,
	ST_Multi(ST_CollectionExtract(ST_Difference(c.geom, p.geom), 3)) AS geom, c.area_m2 AS unit_area
FROM suspect s JOIN au p ON p.code = s.code AND p.level = s.level
JOIN au c ON c.parent_code = p.code AND c.parent_level = p.level
WHERE NOT ST_Covers(p.geom, c.geom);

-- Driven from the suspects, each pair once.
-- step: zones: overlap
INSERT INTO zraw
SELECT 'overlap', a.level, ARRAY[a.code, b.code], 0, ST_Multi(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3)), NULL
FROM (SELECT DISTINCT least(a.code, b.code) AS ca, greatest(a.code, b.code) AS cb
	FROM cand x JOIN au a ON a.code = x.code
	JOIN au b ON b.level = a.level AND b.code <> a.code AND a.geom && b.geom) pairs
JOIN au a ON a.code = pairs.ca JOIN au b ON b.code = pairs.cb
WHERE ST_Relate(a.geom, b.geom, '2********');

-- A street (district) is checked for gaps only when some of its
-- communities (streets) are loaded, a community only when some of its
-- grids are: its ground no grid covers is unowned (属地兜底: the
-- community keeps it), not a gap.
-- step: zones: gap
INSERT INTO zraw
SELECT CASE s.level WHEN 'community' THEN 'unowned' ELSE 'gap' END, s.level, ARRAY[s.code], coalesce((d).path[1], 1), ST_Multi((d).geom), NULL FROM (
	SELECT s.code, s.level, ST_Dump(ST_CollectionExtract(ST_Difference(s.geom, ST_Union(c.geom)), 3)) AS d
	FROM suspect x JOIN au s ON s.code = x.code AND s.level = x.level
	JOIN au c ON c.parent_code = s.code AND c.parent_level = s.level
	GROUP BY s.code, s.level, s.geom) s;

-- Parts that touch (even at a point) are one piece; a unit in more
-- than one piece is non-contiguous and each piece is listed.
-- step: zones: noncontiguous
INSERT INTO zraw
SELECT 'noncontiguous', level, ARRAY[code], cid + 1, ST_Multi(ST_Union(g)), NULL FROM (
	SELECT code, level, g, ST_ClusterDBSCAN(g, 0, 1) OVER (PARTITION BY code) AS cid FROM (
		SELECT code, level, (ST_Dump(geom)).geom AS g FROM au WHERE NOT ctx AND ST_NumGeometries(geom) > 1) parts) c
GROUP BY code, level, cid;

-- step: zones: orphan
INSERT INTO zraw
SELECT 'orphan', u.level, ARRAY[u.code], 0, u.geom, NULL FROM au u
WHERE NOT u.ctx AND u.parent_level IS NOT NULL
  AND u.parent_level IN (SELECT level FROM lv)
  AND NOT EXISTS (SELECT 1 FROM au p WHERE p.code = u.parent_code AND p.level = u.parent_level);

-- A region keeps the zones of the units it re-analyses; the others'
-- are kept from the run being advanced.
-- step: zones: region
DELETE FROM zraw z WHERE NOT EXISTS (SELECT 1 FROM unnest(z.codes) c JOIN au x ON x.code = c WHERE NOT x.ctx);

-- step: zones: area
ALTER TABLE zraw ADD COLUMN area_m2 double precision;
UPDATE zraw SET area_m2 = coalesce(ST_Area(geom::geography), 0);

-- Non-contiguous: keep only units that really fall into several pieces.
-- step: zones: single pieces
DELETE FROM zraw z WHERE kind = 'noncontiguous'
AND (SELECT count(*) FROM zraw y WHERE y.kind = 'noncontiguous' AND y.codes = z.codes) < 2;

-- step: zones: store
INSERT INTO zones (run_id, id, kind, level, codes, part, area_m2, households, population, geom)
SELECT $1, z.kind || ':' || array_to_string(z.codes, '+') || CASE WHEN z.part > 0 THEN ':' || z.part ELSE '' END,
	z.kind, z.level, z.codes, z.part, z.area_m2, pts.h, pts.p, z.geom
FROM zraw z LEFT JOIN LATERAL (
	SELECT sum(pt.households)::bigint AS h, sum(pt.population)::bigint AS p FROM points pt WHERE ST_Intersects(z.geom, pt.geom)) pts ON true
WHERE z.area_m2 >= $2 AND (z.kind <> 'crosses_parent' OR z.area_m2 >= $3 * z.unit_area);

-- Slivers: zones under the tolerance, counted not listed.
-- step: zones: slivers
INSERT INTO analysis_slivers (run_id, kind, codes, part)
SELECT $1, z.kind, z.codes, z.part FROM zraw z
WHERE z.area_m2 > 0 AND NOT (z.area_m2 >= $2 AND (z.kind <> 'crosses_parent' OR z.area_m2 >= $3 * z.unit_area));
