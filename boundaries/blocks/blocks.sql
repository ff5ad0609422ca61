-- Blocks, step by step: Build runs these statements in order in the
-- caller's transaction, over all the units of pb_unit at once (made from
-- the caller's query before the first step). "-- step: NAME" starts a
-- step; $1, where a step has it, is the minimum block area in m² (such a
-- step is one statement: parameters take the extended protocol).
-- Working tables are pb_*; the results are pblock and pblock_link.

-- step: index units
CREATE INDEX ON pb_unit USING gist (geom); CREATE INDEX ON pb_unit (key); ANALYZE pb_unit;
CREATE TEMP TABLE IF NOT EXISTS pblock (key text NOT NULL, id int NOT NULL, geom geometry NOT NULL,
	households float8 NOT NULL, population float8 NOT NULL, area_m2 float8 NOT NULL, perim_m float8 NOT NULL,
	x float8 NOT NULL, y float8 NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE IF NOT EXISTS pblock_link (key text NOT NULL, a int NOT NULL, b int NOT NULL,
	length_m float8 NOT NULL, class text NOT NULL) ON COMMIT DROP;
CREATE INDEX IF NOT EXISTS pblock_key ON pblock (key, id);
CREATE INDEX IF NOT EXISTS pblock_link_key ON pblock_link (key, a, b);
DELETE FROM pblock WHERE key IN (SELECT key FROM pb_unit);
DELETE FROM pblock_link WHERE key IN (SELECT key FROM pb_unit);

-- The barriers near each unit, clipped to its box grown by ~1 m: a line
-- keeps its crossing of the boundary, so the noding below computes the
-- crossing point instead of receiving an end point that misses the
-- boundary by a rounding error (and would dangle, cutting nothing).
-- Lines that stay outside the unit only make faces outside it.
-- step: lines
CREATE TEMP TABLE pb_line ON COMMIT DROP AS
SELECT u.key, b.class, ST_ClipByBox2D(b.geom, ST_Expand(u.geom, 1e-5)::box2d) AS geom
FROM pb_unit u JOIN barriers b ON b.geom && ST_Expand(u.geom, 1e-5) AND ST_Intersects(u.geom, b.geom);
DELETE FROM pb_line WHERE ST_IsEmpty(geom) OR ST_Dimension(geom) <> 1;
CREATE INDEX ON pb_line USING gist (geom); CREATE INDEX ON pb_line (key); ANALYZE pb_line;

-- The unit's outline and its barriers noded together (ST_UnaryUnion splits
-- every line where lines meet): the edges of the arrangement, each with a
-- point halfway along it that lies on it and on no other edge.
-- step: edges
CREATE TEMP TABLE pb_edge ON COMMIT DROP AS
SELECT key, row_number() OVER () AS eid, geom, ST_LineInterpolatePoint(geom, 0.5) AS mid FROM (
	SELECT u.key, (ST_Dump(ST_UnaryUnion(ST_Collect(ST_Boundary(u.geom), l.geom)))).geom
	FROM pb_unit u JOIN (SELECT key, ST_Collect(geom) AS geom FROM pb_line GROUP BY key) l USING (key)) x
WHERE ST_Length(geom) > 0;
CREATE INDEX ON pb_edge (key); ANALYZE pb_edge;

-- Faces: the edges polygonized (dangles bound nothing, so a road that
-- stops inside the unit cuts nothing), kept when inside the unit (holes
-- and faces outside it are not). A unit no barrier touches is its own
-- faces, one per part. fid is unique over all units and ordered by key
-- and position, so every later choice is deterministic.
-- step: faces
CREATE TEMP TABLE pb_face ON COMMIT DROP AS
SELECT key, row_number() OVER (ORDER BY key, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)) AS fid,
	geom, ST_Area(geom::geography) AS area
FROM (
	SELECT f.key, f.geom FROM (SELECT key, (ST_Dump(ST_Polygonize(geom))).geom FROM pb_edge GROUP BY key) f
	JOIN pb_unit u USING (key) WHERE ST_Intersects(u.geom, ST_PointOnSurface(f.geom))
	UNION ALL
	SELECT u.key, d.geom FROM pb_unit u CROSS JOIN LATERAL ST_Dump(u.geom) d
	WHERE NOT EXISTS (SELECT 1 FROM pb_line l WHERE l.key = u.key) AND ST_Area(d.geom) > 0) f;
CREATE INDEX ON pb_face USING gist (geom); CREATE INDEX ON pb_face (fid); ANALYZE pb_face;

-- Interior edges: an edge with a face on each side (its midpoint is on
-- both faces' boundaries; faces meeting only at an end point are half
-- the edge away). Its class is the barrier it lies on; where several
-- coincide (a road along a river), the hardest to cross.
-- step: interior edges
CREATE TEMP TABLE pb_iedge ON COMMIT DROP AS
WITH ef AS (
	SELECT e.eid, min(f.fid) AS a, max(f.fid) AS b
	FROM pb_edge e JOIN pb_face f ON f.key = e.key AND ST_DWithin(f.geom, e.mid, 1e-9)
	GROUP BY e.eid HAVING min(f.fid) <> max(f.fid))
SELECT e.key, ef.a, ef.b, ST_Length(e.geom::geography) AS len,
	coalesce((SELECT l.class FROM pb_line l WHERE l.key = e.key AND ST_DWithin(l.geom, e.mid, 1e-8)
		ORDER BY array_position(ARRAY['river', 'rail', 'trunk', 'primary', 'secondary', 'wall', 'residential', 'alley'], l.class)
		LIMIT 1), '') AS class
FROM ef JOIN pb_edge e USING (eid);
CREATE INDEX ON pb_iedge (a); CREATE INDEX ON pb_iedge (b); ANALYZE pb_iedge;

-- Faces under $1 m² are slivers, merged into the neighbour they share
-- the longest edge with: a block if they touch one, else a larger sliver
-- (area, then fid), which is merged in turn. Each merge goes to a larger
-- face, so following the targets ends (at a block, or at a sliver with no
-- larger neighbour: a unit smaller than $1 is one block): that face is
-- the root of every face merged into it.
-- step: roots
CREATE TEMP TABLE pb_root ON COMMIT DROP AS
WITH RECURSIVE adj AS (SELECT a, b, sum(len) AS len FROM pb_iedge GROUP BY a, b),
nb AS (SELECT a AS f, b AS n, len FROM adj UNION ALL SELECT b, a, len FROM adj),
tgt AS (
	SELECT DISTINCT ON (s.fid) s.fid, nb.n AS target
	FROM pb_face s JOIN nb ON nb.f = s.fid JOIN pb_face t ON t.fid = nb.n
	WHERE s.area < $1 AND (t.area >= $1 OR (t.area, t.fid) > (s.area, s.fid))
	ORDER BY s.fid, t.area >= $1 DESC, nb.len DESC, nb.n),
walk AS (
	SELECT f.fid, f.fid AS root FROM pb_face f WHERE NOT EXISTS (SELECT 1 FROM tgt WHERE tgt.fid = f.fid)
	UNION ALL
	SELECT t.fid, w.root FROM tgt t JOIN walk w ON t.target = w.fid)
SELECT fid, root FROM walk;

-- Blocks: the faces of each root together (a face alone is kept as it
-- is), numbered within the unit by position.
-- step: blocks
CREATE INDEX ON pb_root (fid); ANALYZE pb_root;
CREATE TEMP TABLE pb_blk ON COMMIT DROP AS
SELECT key, root, row_number() OVER (PARTITION BY key ORDER BY ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom), root)::int AS id,
	geom, area
FROM (SELECT f.key, r.root, sum(f.area) AS area,
		CASE WHEN count(*) = 1 THEN ST_GeometryN(ST_Collect(f.geom), 1) ELSE ST_UnaryUnion(ST_Collect(f.geom)) END AS geom
	FROM pb_face f JOIN pb_root r USING (fid) GROUP BY f.key, r.root) x;
CREATE INDEX ON pb_blk (root); ANALYZE pb_blk;
INSERT INTO pblock (key, id, geom, households, population, area_m2, perim_m, x, y)
SELECT key, id, geom, 0, 0, area, ST_Perimeter(geom::geography), ST_X(pt), ST_Y(pt)
FROM (SELECT *, ST_PointOnSurface(geom) AS pt FROM pb_blk) b;

-- Links: blocks sharing edges of positive length (a corner shares none),
-- the length summed, the class the one covering most of it ('' when no
-- barrier does).
-- step: links
INSERT INTO pblock_link (key, a, b, length_m, class)
WITH m AS (SELECT r.fid, b.id FROM pb_root r JOIN pb_blk b ON b.root = r.root),
e AS (
	SELECT ie.key, least(ma.id, mb.id) AS a, greatest(ma.id, mb.id) AS b, ie.class, sum(ie.len) AS len
	FROM pb_iedge ie JOIN m ma ON ma.fid = ie.a JOIN m mb ON mb.fid = ie.b
	WHERE ma.id <> mb.id GROUP BY 1, 2, 3, 4)
SELECT key, a, b, sum(len), coalesce((array_agg(class ORDER BY len DESC, class) FILTER (WHERE class <> ''))[1], '')
FROM e GROUP BY key, a, b HAVING sum(len) > 0;

-- Counts (run after the blocks, and after loading cached ones): the
-- building points inside each block (a point on a shared edge goes to the
-- lower id), or, for a unit without points giving the count, the unit's
-- own count shared by area. Households and population each on their own.
-- step: counts
WITH pt AS (
	SELECT DISTINCT ON (b.key, x.id) b.key, b.id, x.h, x.p
	FROM pblock b JOIN pb_unit u USING (key)
	CROSS JOIN LATERAL (SELECT pt.id, pt.households AS h, pt.population AS p FROM points pt WHERE ST_Intersects(b.geom, pt.geom)) x
	ORDER BY b.key, x.id, b.id),
has AS (SELECT key, bool_or(h IS NOT NULL) AS h, bool_or(p IS NOT NULL) AS p FROM pt GROUP BY key),
bp AS (SELECT key, id, sum(h) AS h, sum(p) AS p FROM pt GROUP BY key, id),
ta AS (SELECT b.key, sum(b.area_m2) AS area FROM pblock b JOIN pb_unit u USING (key) GROUP BY b.key),
v AS (
	SELECT b.key, b.id,
		CASE WHEN has.h THEN coalesce(bp.h, 0) ELSE coalesce(u.h, 0) * b.area_m2 / nullif(ta.area, 0) END AS h,
		CASE WHEN has.p THEN coalesce(bp.p, 0) ELSE coalesce(u.p, 0) * b.area_m2 / nullif(ta.area, 0) END AS p
	FROM pblock b JOIN pb_unit u USING (key) JOIN ta USING (key) LEFT JOIN has USING (key)
	LEFT JOIN bp ON bp.key = b.key AND bp.id = b.id)
UPDATE pblock b SET households = coalesce(v.h, 0), population = coalesce(v.p, 0) FROM v WHERE v.key = b.key AND v.id = b.id;
