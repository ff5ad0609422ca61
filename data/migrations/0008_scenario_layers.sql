-- Scenario layers: an analysis run can judge a scenario's boundaries (the
-- live units with the scenario's applied) instead of the live ones, so
-- tiles, OGC API collections and downloads can serve a scenario beside the
-- live map. Live runs keep scenario_id NULL.
ALTER TABLE analysis_runs ADD COLUMN scenario_id bigint REFERENCES scenarios (id) ON DELETE CASCADE;
DROP INDEX analysis_runs_key;
CREATE INDEX analysis_runs_key ON analysis_runs (profile_hash, at, units_version, scenario_id);

-- Geodesic area stored like units.area_m2, and a spatial index for tiles.
ALTER TABLE scenario_units ADD COLUMN area_m2 double precision GENERATED ALWAYS AS (ST_Area(geom::geography)) STORED;
CREATE INDEX scenario_units_geom ON scenario_units USING gist (geom);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jiedao_app') THEN
        GRANT SELECT, INSERT, UPDATE ON plans, scenarios, scenario_units, scenario_removed TO jiedao_app;
    END IF;
END $$;
