-- The geodesic area (WGS84 ellipsoid, PostGIS geography) of every version,
-- computed once when the version is written: analysis, exports, tiles and
-- the API read it instead of recomputing it.
ALTER TABLE units ADD COLUMN area_m2 double precision GENERATED ALWAYS AS (ST_Area(geom::geography)) STORED;
