-- Analysis: building/address points, analysis runs with per-unit results
-- and zones (boundary problems) as geometries.

-- units_version counts writes to units only; analysis results are keyed on
-- it. data_version counts every write (analysis runs too) for caches.
ALTER TABLE meta ADD COLUMN units_version bigint NOT NULL DEFAULT 0;

CREATE TABLE points (
    id          bigserial PRIMARY KEY,
    geom        geometry(Point, 4326) NOT NULL,
    households  integer CHECK (households >= 0),
    population  integer CHECK (population >= 0),
    import_id   bigint REFERENCES imports (id)
);
CREATE INDEX points_geom ON points USING gist (geom);

CREATE TABLE analysis_runs (
    id            bigserial PRIMARY KEY,
    profile       text NOT NULL,
    profile_hash  text NOT NULL,
    at            date NOT NULL,
    units_version bigint NOT NULL,
    generated_at  timestamptz NOT NULL DEFAULT now(),
    seconds       double precision,
    summary       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX analysis_runs_key ON analysis_runs (profile_hash, at, units_version);

CREATE TABLE analysis_units (
    run_id           bigint NOT NULL REFERENCES analysis_runs (id) ON DELETE CASCADE,
    code             text NOT NULL,
    level            text NOT NULL,
    households       bigint,
    population       bigint,
    counts_method    text,
    area_km2         double precision NOT NULL,
    density          double precision,
    household_density double precision,
    ratio_to_normal  double precision,
    staff_min        integer,
    staff_max        integer,
    outside_share    double precision,
    status           text NOT NULL CHECK (status IN ('undersized', 'normal', 'oversized', 'unknown')),
    reasons          text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, code)
);

CREATE TABLE zones (
    run_id     bigint NOT NULL REFERENCES analysis_runs (id) ON DELETE CASCADE,
    id         text NOT NULL,                 -- stable: kind, codes and part
    kind       text NOT NULL CHECK (kind IN ('crosses_parent', 'overlap', 'gap', 'noncontiguous', 'orphan')),
    level      text NOT NULL,
    codes      text[] NOT NULL,
    part       integer NOT NULL DEFAULT 0,
    area_m2    double precision NOT NULL,
    households bigint,
    population bigint,
    geom       geometry(MultiPolygon, 4326) NOT NULL,
    PRIMARY KEY (run_id, id)
);
CREATE INDEX zones_geom ON zones USING gist (geom);
