-- Barriers: the roads, rivers, railways and walls that residents cannot
-- (or do not) cross, loaded by `jiedao import-barriers`. A unit's blocks are
-- the faces the barriers cut it into; new boundaries should follow them.

-- barriers_version counts barrier imports: blocks derived from the barriers
-- are keyed on it, so a new file is seen by the next build without a purge.
ALTER TABLE meta ADD COLUMN barriers_version bigint NOT NULL DEFAULT 0;

CREATE TABLE barriers (
    id          bigserial PRIMARY KEY,
    class       text NOT NULL
                CHECK (class IN ('trunk', 'primary', 'secondary', 'residential', 'alley', 'river', 'rail', 'wall')),
    name        text,
    geom        geometry(MultiLineString, 4326) NOT NULL,
    import_id   bigint REFERENCES imports (id),
    -- Tiles read the geometry already in EPSG:3857, as for units (0012).
    geom_3857   geometry(MultiLineString, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED
);
CREATE INDEX barriers_geom ON barriers USING gist (geom);
CREATE INDEX barriers_geom_3857 ON barriers USING gist (geom_3857);

-- The blocks of live unit versions, derived from a version's geometry and
-- the barriers of one barriers_version under one minimum block area: a
-- second build of the same inputs is a read. Counts are not cached (they
-- follow the building points, which are replaced on their own), so a row
-- here stays right until the version or the barriers change. Never edited
-- by hand: rows of older barriers versions are dropped by the next build.
CREATE TABLE blocks_cache (
    version_id       bigint NOT NULL REFERENCES units (version_id) ON DELETE CASCADE,
    barriers_version bigint NOT NULL,
    min_block_m2     double precision NOT NULL,
    built_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (version_id, barriers_version, min_block_m2)
);

CREATE TABLE blocks_cache_block (
    version_id       bigint NOT NULL,
    barriers_version bigint NOT NULL,
    min_block_m2     double precision NOT NULL,
    id               integer NOT NULL,
    geom             geometry NOT NULL,
    area_m2          double precision NOT NULL,
    perim_m          double precision NOT NULL,
    x                double precision NOT NULL,
    y                double precision NOT NULL,
    PRIMARY KEY (version_id, barriers_version, min_block_m2, id),
    FOREIGN KEY (version_id, barriers_version, min_block_m2)
        REFERENCES blocks_cache (version_id, barriers_version, min_block_m2) ON DELETE CASCADE
);

CREATE TABLE blocks_cache_link (
    version_id       bigint NOT NULL,
    barriers_version bigint NOT NULL,
    min_block_m2     double precision NOT NULL,
    a                integer NOT NULL,
    b                integer NOT NULL,
    length_m         double precision NOT NULL,
    class            text NOT NULL,
    PRIMARY KEY (version_id, barriers_version, min_block_m2, a, b),
    FOREIGN KEY (version_id, barriers_version, min_block_m2)
        REFERENCES blocks_cache (version_id, barriers_version, min_block_m2) ON DELETE CASCADE
);

-- The application loads barriers (imports through the API) and keeps the
-- cache, as it does points (0004) and count areas (0010).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jiedao_app') THEN
        GRANT SELECT, INSERT, DELETE ON barriers TO jiedao_app;
        GRANT SELECT, INSERT, DELETE ON blocks_cache, blocks_cache_block, blocks_cache_link TO jiedao_app;
        GRANT USAGE ON SEQUENCE barriers_id_seq TO jiedao_app;
    END IF;
END $$;
