-- Draft scenarios edited unit by unit (OGC API Features Part 4 from QGIS):
-- every write is kept in the draft's history, so "last writer wins"
-- without If-Match loses nothing, and the adjustment report can list it.
CREATE TABLE scenario_edits (
    id          bigserial PRIMARY KEY,
    scenario_id bigint NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    key_name    text,
    op          text NOT NULL CHECK (op IN ('create', 'replace', 'update', 'delete')),
    level       text NOT NULL,
    code        text NOT NULL,
    before      jsonb,                     -- the unit before (null: none)
    after       jsonb                      -- the unit after (null: removed)
);
CREATE INDEX scenario_edits_scenario ON scenario_edits (scenario_id, id);

-- A draft is a scenario edited in place; one made from a plan is not.
ALTER TABLE scenarios ADD COLUMN draft boolean NOT NULL DEFAULT false;

DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jiedao_app') THEN
        GRANT SELECT, INSERT ON scenario_edits TO jiedao_app;
        GRANT USAGE ON SEQUENCE scenario_edits_id_seq TO jiedao_app;
        -- A draft's unit is replaced or removed in place.
        GRANT DELETE ON scenario_units, scenario_removed TO jiedao_app;
    END IF;
END $$;
