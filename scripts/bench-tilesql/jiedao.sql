SELECT coalesce(ST_AsMVT(t, 'communities', 4096, 'geom'), ''::bytea) FROM (
	SELECT ST_AsMVTGeom(
			ST_SnapToGrid(u.geom_3857, -2.0037508342789244e+07, -2.0037508342789244e+07, $6::float8, $6::float8),
			ST_TileEnvelope($3::int, $4::int, $5::int), 4096, 64, true) AS geom,
		u.code AS "code",
		u.name AS "name",
		u.parent_code AS "parent_code",
		(coalesce(r.households, u.households))::bigint AS "households",
		(coalesce(r.population, u.population))::bigint AS "population",
		u.tile_area_km2 AS "area_km2",
		r.tile_density AS "density",
		coalesce(r.status, 'unknown') AS "status",
		coalesce(r.tile_reasons, '') AS "reasons",
		(r.staff_min)::bigint AS "staff_min",
		(r.staff_max)::bigint AS "staff_max",
		u.provisional AS "provisional",
		NULL::boolean AS "proposed"
	FROM units u LEFT JOIN analysis_units r ON r.run_id = $1 AND r.code = u.code
			WHERE u.level = 'community' AND (u.valid_from <= $2 AND (u.valid_to IS NULL OR u.valid_to > $2))
		AND u.geom_3857 && ST_TileEnvelope($3::int, $4::int, $5::int, margin => 0.015625)
	ORDER BY u.code
) t
