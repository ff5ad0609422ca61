-- jiedao schema v1: administrative units with full history, and imports.
CREATE EXTENSION IF NOT EXISTS postgis;
-- btree_gist lets one exclusion constraint forbid two versions of a code
-- valid on the same day.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE imports (
    id          bigserial PRIMARY KEY,
    file        text NOT NULL,
    checksum    text NOT NULL,            -- sha256 of the file bytes
    level       text NOT NULL,
    options     jsonb NOT NULL DEFAULT '{}',
    status      text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'committed', 'rejected', 'dry-run', 'failed')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    features    integer NOT NULL DEFAULT 0,
    created     integer NOT NULL DEFAULT 0,
    changed     integer NOT NULL DEFAULT 0,
    unchanged   integer NOT NULL DEFAULT 0,
    repaired    integer NOT NULL DEFAULT 0,
    rejected    integer NOT NULL DEFAULT 0,
    report      jsonb NOT NULL DEFAULT '{}'
);

-- One row per version of a unit. Rows are only ever inserted, and closed by
-- setting valid_to; nothing is overwritten or deleted.
CREATE TABLE units (
    version_id  bigserial PRIMARY KEY,
    code        text NOT NULL CHECK (code <> ''),
    name        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('district', 'street', 'community')),
    parent_code text,
    kind        text,
    households  integer CHECK (households >= 0),
    population  integer CHECK (population >= 0),
    provisional boolean NOT NULL DEFAULT false,
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    valid_from  date NOT NULL,
    valid_to    date,                      -- exclusive; NULL = current
    approval    text,                      -- 批复文号
    source      text,                      -- file name or API client
    import_id   bigint REFERENCES imports (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_to >= valid_from),
    EXCLUDE USING gist (code WITH =, daterange(valid_from, valid_to) WITH &&)
);

CREATE UNIQUE INDEX units_current_code ON units (code) WHERE valid_to IS NULL;
CREATE INDEX units_geom ON units USING gist (geom);
CREATE INDEX units_level_parent ON units (level, parent_code);
CREATE INDEX units_code_from ON units (code, valid_from);

-- data_version is bumped by every write so caches keyed on it never serve
-- stale results.
CREATE TABLE meta (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    data_version bigint NOT NULL DEFAULT 0
);
INSERT INTO meta DEFAULT VALUES;
