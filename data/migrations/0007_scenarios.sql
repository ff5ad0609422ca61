-- Plans (proposals kept for the API) and scenarios (named sets of proposed
-- community geometries). Neither touches units until a scenario is adopted.
CREATE TABLE plans (
    id          bigserial PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    options     jsonb NOT NULL,
    plan        jsonb NOT NULL,
    geojson     jsonb NOT NULL             -- FeatureCollection of the resulting units
);

CREATE TABLE scenarios (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    created_at  timestamptz NOT NULL DEFAULT now(),
    profile     text NOT NULL,
    plan        jsonb NOT NULL,            -- summary of the plan it came from
    adopted_at  timestamptz,
    approval    text,                      -- 批复文号 of the adoption
    valid_from  date                       -- of the adopted versions
);

CREATE TABLE scenario_units (
    scenario_id bigint NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
    code        text NOT NULL,
    name        text NOT NULL,
    level       text NOT NULL DEFAULT 'community',
    parent_code text,
    households  integer CHECK (households >= 0),
    population  integer CHECK (population >= 0),
    provisional boolean NOT NULL DEFAULT false,
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    -- Current version when the scenario was made (NULL: a new code);
    -- adoption refuses a unit that has changed since.
    base_version_id bigint,
    PRIMARY KEY (scenario_id, code)
);

-- Live communities the scenario merges away (retired on adoption).
CREATE TABLE scenario_removed (
    scenario_id bigint NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
    code        text NOT NULL,
    base_version_id bigint,
    PRIMARY KEY (scenario_id, code)
);
