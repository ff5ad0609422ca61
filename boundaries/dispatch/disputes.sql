-- Disputed ground: the reassignments of tickets of the period [$1, $2),
-- grouped where they happened, ranked by tickets. $3 is the day whose
-- boundaries the spots are drawn with.
--
--   gap      the ticket fell in no community: the part of its street that
--            no community covers, holding the point (a polygon);
--   overlap  the two units overlap: their intersection (a polygon);
--   boundary the units share a boundary: the shared line;
--   apart    the units do not touch: the tickets' points.
WITH d AS (
    SELECT t.id, t.category, t.ambiguity, t.geom, t.street AS t_street, x.level, x.from_code, x.to_code
    FROM ticket_disputes x JOIN tickets t ON t.id = x.ticket_id
    WHERE t.time >= $1 AND t.time < $2
),
gap_streets AS (
    SELECT DISTINCT t_street AS code FROM d WHERE ambiguity = 'gap' AND t_street IS NOT NULL
),
gap_parts AS (
    SELECT s.code AS street, coalesce(g.path[1], 1) AS part, g.geom
    FROM gap_streets gs
    JOIN units s ON s.code = gs.code AND s.level = 'street' AND s.valid_from <= $3 AND (s.valid_to IS NULL OR s.valid_to > $3)
    CROSS JOIN LATERAL ST_Dump(ST_Difference(s.geom, coalesce(
        (SELECT ST_Union(c.geom) FROM units c WHERE c.level = 'community' AND c.valid_from <= $3
            AND (c.valid_to IS NULL OR c.valid_to > $3) AND c.geom && s.geom),
        ST_GeomFromText('POLYGON EMPTY', 4326)))) g
    WHERE ST_Area(g.geom) > 0
),
in_gap AS (
    SELECT DISTINCT ON (d.id, d.to_code) d.id, d.to_code, gp.street, gp.part, gp.geom
    FROM d JOIN gap_parts gp ON gp.street = d.t_street AND ST_DWithin(gp.geom, d.geom, 1e-6)
    WHERE d.ambiguity = 'gap'
    ORDER BY d.id, d.to_code, ST_Distance(gp.geom, d.geom), gp.part
),
keyed AS (
    SELECT d.id, d.category, d.level, d.geom AS pt,
        CASE WHEN g.id IS NOT NULL THEN 'gap:' || g.street || ':' || g.part
             WHEN d.from_code IS NULL THEN 'gap:' || coalesce(d.t_street, '') || ':' || d.to_code
             ELSE d.level || ':' || least(d.from_code, d.to_code) || ':' || greatest(d.from_code, d.to_code) END AS key,
        g.geom AS gap_geom, g.street AS gap_street,
        CASE WHEN d.from_code IS NULL THEN NULL ELSE least(d.from_code, d.to_code) END AS a,
        CASE WHEN d.from_code IS NULL THEN NULL ELSE greatest(d.from_code, d.to_code) END AS b,
        d.from_code, d.to_code, d.t_street
    FROM d LEFT JOIN in_gap g ON g.id = d.id AND g.to_code = d.to_code
),
groups AS (
    SELECT key, min(level) AS level, count(DISTINCT id)::int AS tickets, count(*)::int AS disputes,
        (array_agg(gap_geom) FILTER (WHERE gap_geom IS NOT NULL))[1] AS gap_geom,
        min(a) AS a, min(b) AS b, ST_Collect(pt) AS pts
    FROM keyed GROUP BY key
),
codes AS (
    SELECT key, array_agg(DISTINCT c) AS codes
    FROM keyed CROSS JOIN LATERAL unnest(ARRAY[from_code, to_code, gap_street, CASE WHEN from_code IS NULL THEN t_street END]) AS c
    WHERE c IS NOT NULL GROUP BY key
),
cats AS (
    SELECT key, jsonb_object_agg(category, n ORDER BY category) AS categories
    FROM (SELECT key, category, count(DISTINCT id) AS n FROM keyed GROUP BY key, category) c GROUP BY key
),
shapes AS (
    SELECT g.key, g.level, g.tickets, g.disputes, k.codes, g.pts, g.gap_geom,
        CASE WHEN g.gap_geom IS NOT NULL OR g.a IS NULL THEN NULL ELSE ST_Intersection(ua.geom, ub.geom) END AS shared
    FROM groups g JOIN codes k USING (key)
    LEFT JOIN units ua ON ua.code = g.a AND ua.valid_from <= $3 AND (ua.valid_to IS NULL OR ua.valid_to > $3)
    LEFT JOIN units ub ON ub.code = g.b AND ub.valid_from <= $3 AND (ub.valid_to IS NULL OR ub.valid_to > $3)
),
spots AS (
    SELECT s.*,
        CASE WHEN s.gap_geom IS NOT NULL THEN 'gap'
             WHEN s.key LIKE 'gap:%' THEN 'gap'
             WHEN s.shared IS NOT NULL AND ST_Area(ST_CollectionExtract(s.shared, 3)) > 0 THEN 'overlap'
             WHEN s.shared IS NOT NULL AND ST_Length(ST_CollectionExtract(s.shared, 2)) > 0 THEN 'boundary'
             ELSE 'apart' END AS kind
    FROM shapes s
)
SELECT s.key, s.kind, s.level, s.tickets, s.disputes, coalesce(s.codes, '{}'),
    coalesce((SELECT array_agg(DISTINCT CASE WHEN u.level = 'street' THEN u.code ELSE u.parent_code END)
        FROM units u WHERE u.code = ANY(s.codes) AND u.level IN ('street', 'community') AND (u.level = 'street' OR u.parent_code IS NOT NULL)
            AND u.valid_from <= $3 AND (u.valid_to IS NULL OR u.valid_to > $3)), '{}'),
    c.categories,
    ST_AsGeoJSON(CASE s.kind WHEN 'gap' THEN coalesce(s.gap_geom, ST_ConvexHull(s.pts))
                             WHEN 'overlap' THEN ST_CollectionExtract(s.shared, 3)
                             WHEN 'boundary' THEN ST_LineMerge(ST_CollectionExtract(s.shared, 2))
                             ELSE s.pts END, 7),
    ST_X(ST_Centroid(s.pts)), ST_Y(ST_Centroid(s.pts))
FROM spots s JOIN cats c USING (key)
ORDER BY s.tickets DESC, s.key COLLATE "C"
LIMIT $4
