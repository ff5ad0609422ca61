SELECT ST_AsMVT(mvtgeom, 'public.anchor_communities', 4096, 'geom') FROM (
	SELECT ST_AsMVTGeom(
		ST_Transform(ST_Force2D(t."geom"), 3857),
		bounds.geom_clip,
		4096,
		64
	  ) AS "geom"
	  , "code", "name", "households", "population"
	FROM "public"."anchor_communities" t, (
		SELECT ST_TileEnvelope($3::int, $4::int, $5::int) AS geom_clip,
				ST_TileEnvelope($3::int, $4::int, $5::int, margin => 0.015625) AS geom_query
		) bounds
	WHERE ST_Intersects(t."geom",
						ST_Transform(bounds.geom_query, 4326))
	LIMIT 50000
) mvtgeom
