-- Incremental analysis: the region of units a set of changes can affect,
-- for Advance. "-- step: NAME" starts a step, as in steps.sql. Parameters:
-- $1 the day, $2 the run advanced, $3 its units version, $4 the current
-- units version. Only units valid on the day count.

-- The codes changed since the run, and every version of them that was or
-- is valid on the day: the old geometry matters as much as the new. Each
-- temp table is analysed: the planner must know they are small, or it
-- scans every unit (a national table holds 640,000) to join them.
-- step: changed
CREATE TEMP TABLE dc ON COMMIT DROP AS
SELECT DISTINCT code FROM changes WHERE units_version > $3 AND units_version <= $4;
ANALYZE dc;
CREATE TEMP TABLE dvid ON COMMIT DROP AS
SELECT version_id AS id FROM changes WHERE units_version > $3 AND units_version <= $4
UNION SELECT old_version_id FROM changes WHERE units_version > $3 AND units_version <= $4 AND old_version_id IS NOT NULL
UNION SELECT u.version_id FROM dc JOIN units u ON u.code = dc.code WHERE (u.valid_from <= $1 AND (u.valid_to IS NULL OR u.valid_to > $1));
ANALYZE dvid;
CREATE TEMP TABLE dv ON COMMIT DROP AS
SELECT u.code, u.level, u.parent_code, u.geom FROM dvid JOIN units u ON u.version_id = dvid.id WHERE u.valid_from <= $1;
ANALYZE dv;

-- Units whose own results can change: the changed ones; the children of
-- a changed unit or of a parent whose children changed (the parent's
-- overlay test, their crossings and candidacy); units of the same level
-- overlapping an old or new geometry (building points on shared edges go
-- to one of them; overlaps); and for a street that may have gained or
-- lost its first community, its neighbours (which of them takes a point
-- on their shared edge). Then everything above them, for the sums.
-- step: seeds
CREATE TEMP TABLE gp ON COMMIT DROP AS
SELECT code FROM dc UNION SELECT parent_code FROM dv WHERE parent_code IS NOT NULL;
ANALYZE gp;
CREATE TEMP TABLE seeds ON COMMIT DROP AS
SELECT u.code FROM dc JOIN units u ON u.code = dc.code WHERE (u.valid_from <= $1 AND (u.valid_to IS NULL OR u.valid_to > $1))
UNION SELECT u.code FROM gp JOIN units u ON u.parent_code = gp.code AND u.level IN ('street', 'community', 'grid')
	WHERE (u.valid_from <= $1 AND (u.valid_to IS NULL OR u.valid_to > $1))
UNION SELECT u.code FROM dv JOIN units u ON u.level = dv.level AND u.geom && dv.geom
	WHERE (u.valid_from <= $1 AND (u.valid_to IS NULL OR u.valid_to > $1))
UNION SELECT n.code FROM gp JOIN units s ON s.code = gp.code AND s.level = 'street'
	JOIN units n ON n.level = 'street' AND n.geom && s.geom
	WHERE (s.valid_from <= $1 AND (s.valid_to IS NULL OR s.valid_to > $1))
	  AND (n.valid_from <= $1 AND (n.valid_to IS NULL OR n.valid_to > $1))
	  AND NOT EXISTS (SELECT 1 FROM units c WHERE c.parent_code = s.code AND c.level = 'community'
		AND (c.valid_from <= $1 AND (c.valid_to IS NULL OR c.valid_to > $1)) AND NOT EXISTS (SELECT 1 FROM dc WHERE dc.code = c.code));
ANALYZE seeds;

-- step: region
CREATE TEMP TABLE rc ON COMMIT DROP AS
WITH RECURSIVE up(code, parent_code, parent_level) AS (
	SELECT u.code, u.parent_code, CASE u.level WHEN 'grid' THEN 'community' WHEN 'community' THEN 'street' WHEN 'street' THEN 'district' END
	FROM seeds JOIN units u ON u.code = seeds.code WHERE (u.valid_from <= $1 AND (u.valid_to IS NULL OR u.valid_to > $1))
	UNION
	SELECT p.code, p.parent_code, CASE p.level WHEN 'grid' THEN 'community' WHEN 'community' THEN 'street' WHEN 'street' THEN 'district' END
	FROM up JOIN units p ON p.code = up.parent_code AND p.level = up.parent_level
	WHERE (p.valid_from <= $1 AND (p.valid_to IS NULL OR p.valid_to > $1)))
SELECT DISTINCT code FROM up;
CREATE UNIQUE INDEX ON rc (code); ANALYZE rc;

-- The region analysed: the units above, and as context their children
-- (for their parents' sums and overlay tests) and the units of the same
-- level touching their boxes (for overlaps and building points), with
-- what the run being advanced says of them.
-- step: context
CREATE TEMP TABLE region ON COMMIT DROP AS
SELECT u.*, false AS ctx, false AS ctx_cand, false AS ctx_pts,
	NULL::bigint AS ctx_h, NULL::bigint AS ctx_p, NULL::text AS ctx_method
FROM rc JOIN units u ON u.code = rc.code WHERE (u.valid_from <= $1 AND (u.valid_to IS NULL OR u.valid_to > $1));
ANALYZE region;
CREATE TEMP TABLE xc ON COMMIT DROP AS
SELECT c.code FROM region r JOIN units c ON c.parent_code = r.code
	AND c.level = CASE r.level WHEN 'district' THEN 'street' WHEN 'street' THEN 'community' WHEN 'community' THEN 'grid' END
	WHERE (c.valid_from <= $1 AND (c.valid_to IS NULL OR c.valid_to > $1))
UNION SELECT n.code FROM region r JOIN units n ON n.level = r.level AND n.geom && r.geom
	WHERE (n.valid_from <= $1 AND (n.valid_to IS NULL OR n.valid_to > $1));
DELETE FROM xc WHERE code IN (SELECT code FROM rc);
ANALYZE xc;
INSERT INTO region
SELECT u.*, true, coalesce(a.cand, false),
	u.level IN ('community', 'grid') OR u.level = 'street' AND NOT EXISTS (SELECT 1 FROM units c WHERE c.parent_code = u.code
		AND c.level = 'community' AND (c.valid_from <= $1 AND (c.valid_to IS NULL OR c.valid_to > $1))),
	a.households, a.population, a.counts_method
FROM (SELECT DISTINCT code FROM xc) x JOIN units u ON u.code = x.code
-- LIMIT keeps this a lookup by key per unit: joined, a run's stale
-- statistics can make the planner read all of its rows for each.
LEFT JOIN LATERAL (SELECT r.cand, r.households, r.population, r.counts_method FROM analysis_units r
	WHERE r.run_id = $2 AND r.code = u.code LIMIT 1) a ON true
WHERE (u.valid_from <= $1 AND (u.valid_to IS NULL OR u.valid_to > $1));

-- The levels loaded, of all units (orphans are judged against them).
-- step: levels
CREATE TEMP TABLE lv ON COMMIT DROP AS
SELECT l AS level FROM unnest(ARRAY['district', 'street', 'community', 'grid']) l
WHERE EXISTS (SELECT 1 FROM units u WHERE u.level = l AND (u.valid_from <= $1 AND (u.valid_to IS NULL OR u.valid_to > $1)));
