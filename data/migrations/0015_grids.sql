-- The grid level (网格) below communities: the basic unit of local
-- management (Beijing's 2019 opinion on street work, item 8). Grids are
-- units like the others (versions, history, the change feed); their codes
-- are the community's 12 digits and a 3-digit sequence (DB11/T 2157-2023).
ALTER TABLE units DROP CONSTRAINT units_level_check;
ALTER TABLE units ADD CONSTRAINT units_level_check CHECK (level IN ('district', 'street', 'community', 'grid'));
CREATE INDEX units_geom_3857_grid ON units USING gist (geom_3857) WHERE level = 'grid';

-- unowned: community ground no grid covers (属地兜底: the community keeps it).
ALTER TABLE zones DROP CONSTRAINT zones_kind_check;
ALTER TABLE zones ADD CONSTRAINT zones_kind_check
    CHECK (kind IN ('crosses_parent', 'overlap', 'gap', 'unowned', 'noncontiguous', 'orphan'));

-- A grid code once given is never given again, even after the grid is
-- retired: the mapping old → new stays readable in history.
CREATE TABLE grid_codes (
    code        text PRIMARY KEY CHECK (code ~ '^[0-9]{15}$' OR code ~ '^P'),
    community   text NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    replaced_by text[]
);
CREATE INDEX grid_codes_community ON grid_codes (community);
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jiedao_app') THEN
        GRANT SELECT, INSERT, UPDATE ON grid_codes TO jiedao_app;
    END IF;
END $$;

-- A scenario's grid may take over live grids (re-coded, or regenerated
-- where a community change cuts them): their codes, so adoption records
-- grid_codes.replaced_by (old → new).
ALTER TABLE scenario_units ADD COLUMN replaces text[];
