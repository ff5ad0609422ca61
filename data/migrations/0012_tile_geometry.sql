-- Tile-ready columns: live vector tiles read the geometry already in
-- EPSG:3857 and the attributes already in the form a tile encodes, instead
-- of transforming and formatting every feature of every request. Stored
-- generated columns are computed once per write, so the importers, the API
-- edits and the analysis's COPY (which all name their columns) are
-- unchanged. Scenario tiles read units made by a query (scenario.UnitsSQL)
-- and keep computing both.

-- One table rewrite for both columns. area_m2 is itself generated, and a
-- generated column cannot read another, so the tile area repeats its
-- expression (the same function, so the same value).
ALTER TABLE units
    ADD COLUMN geom_3857 geometry(MultiPolygon, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
    ADD COLUMN tile_area_km2 double precision
        GENERATED ALWAYS AS (round((ST_Area(geom::geography) / 1e6)::numeric, 4)::float8) STORED;
-- A tile reads one level, so one index per level: a community tile does
-- not fetch and discard the streets and districts whose boxes overlap it.
CREATE INDEX units_geom_3857_district ON units USING gist (geom_3857) WHERE level = 'district';
CREATE INDEX units_geom_3857_street ON units USING gist (geom_3857) WHERE level = 'street';
CREATE INDEX units_geom_3857_community ON units USING gist (geom_3857) WHERE level = 'community';

-- array_to_string is STABLE because some element types' text forms depend
-- on settings; a text[] joined into text does not, so this wrapper may be
-- IMMUTABLE, which a generated column requires.
CREATE FUNCTION jiedao_join_text(parts text[], sep text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT array_to_string(parts, sep) $$;

-- A tile holds numbers, strings and booleans only (no numeric, no arrays):
-- the density rounded for display, the reasons joined.
ALTER TABLE analysis_units
    ADD COLUMN tile_density double precision GENERATED ALWAYS AS (round(density::numeric, 4)::float8) STORED,
    ADD COLUMN tile_reasons text GENERATED ALWAYS AS (jiedao_join_text(reasons, '; ')) STORED;

-- jiedao_app's SELECT and INSERT on both tables are table-wide (0004), so
-- they cover the new columns; writing analysis_units evaluates the function.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jiedao_app') THEN
        GRANT EXECUTE ON FUNCTION jiedao_join_text(text[], text) TO jiedao_app;
    END IF;
END $$;
