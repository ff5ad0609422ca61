SELECT coalesce(ST_AsMVT(t, 'communities', 4096, 'geom'), ''::bytea) FROM (
	SELECT ST_AsMVTGeom(
			ST_SnapToGrid(ST_Transform(u.geom, 3857), -2.0037508342789244e+07, -2.0037508342789244e+07, $6::float8, $6::float8),
			ST_TileEnvelope($3::int, $4::int, $5::int), 4096, 64, true) AS geom,
		u.code AS "code",
		u.name AS "name",
		u.parent_code AS "parent_code",
		(coalesce(r.households, u.households))::bigint AS "households",
		(coalesce(r.population, u.population))::bigint AS "population",
		round((u.area_m2 / 1e6)::numeric, 4)::float8 AS "area_km2",
		round((r.density)::numeric, 4)::float8 AS "density",
		coalesce(r.status, 'unknown') AS "status",
		array_to_string(coalesce(r.reasons, '{}'), '; ') AS "reasons",
		(r.staff_min)::bigint AS "staff_min",
		(r.staff_max)::bigint AS "staff_max",
		u.provisional AS "provisional",
		nullif(u.version_id IS NULL, false) AS "proposed"
	FROM units u LEFT JOIN analysis_units r ON r.run_id = $1 AND r.code = u.code
			WHERE u.level = 'community' AND (u.valid_from <= $2 AND (u.valid_to IS NULL OR u.valid_to > $2))
		AND u.geom && ST_Transform(ST_TileEnvelope($3::int, $4::int, $5::int, margin => 0.015625), 4326)
	ORDER BY u.code
) t WHERE t.geom IS NOT NULL
