-- Incremental analysis: after a unit write only the units it can change
-- are re-analysed and the rest of the day's run is kept. That needs to know
-- which codes each units version changed, and, from the run being
-- advanced, what the analysis of the untouched units cannot recompute
-- without their whole neighbourhood: whether a unit was a candidate for
-- the pairwise overlap search, and the slivers (zones under tolerance).

-- The units version a change belongs to: the feed's rows are written at
-- commit, after the writer bumped meta.units_version in the same
-- transaction (meta's row lock orders concurrent writers).
ALTER TABLE changes ADD COLUMN units_version bigint;
CREATE INDEX changes_units_version ON changes (units_version);

CREATE OR REPLACE FUNCTION units_change_feed() RETURNS trigger AS $$
DECLARE
    prev bigint;
    uv bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7347010);
    SELECT units_version INTO uv FROM meta;
    IF TG_OP = 'INSERT' THEN
        SELECT version_id INTO prev FROM units
            WHERE code = NEW.code AND version_id <> NEW.version_id AND valid_to = NEW.valid_from
            ORDER BY valid_from DESC, version_id DESC LIMIT 1;
        INSERT INTO changes (kind, code, level, version_id, old_version_id, valid_from, import_id, units_version)
            VALUES (CASE WHEN prev IS NULL THEN 'created' ELSE 'changed' END,
                    NEW.code, NEW.level, NEW.version_id, prev, NEW.valid_from, NEW.import_id, uv);
    ELSIF OLD.valid_to IS NULL AND NEW.valid_to IS NOT NULL THEN
        -- A closed version followed by a new one is a change (recorded by
        -- the insert); without a successor it is a retirement.
        -- A successor is newer: after two edits on one day the first
        -- edit's version also starts where the retired one ends.
        IF NOT EXISTS (SELECT 1 FROM units WHERE code = NEW.code AND version_id > NEW.version_id
                       AND valid_from = NEW.valid_to) THEN
            INSERT INTO changes (kind, code, level, version_id, valid_from, units_version)
                VALUES ('retired', NEW.code, NEW.level, NEW.version_id, NEW.valid_to, uv);
        END IF;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

-- Candidates of the overlap search, and runs that stored them (runs made
-- before this migration did not, so they cannot be advanced).
ALTER TABLE analysis_units ADD COLUMN cand boolean NOT NULL DEFAULT false;
ALTER TABLE analysis_runs ADD COLUMN reusable boolean NOT NULL DEFAULT false;
-- How many times a run was advanced by an incremental analysis, and when
-- it was first made (generated_at is the last advance).
ALTER TABLE analysis_runs ADD COLUMN advanced integer NOT NULL DEFAULT 0;

CREATE TABLE analysis_slivers (
    run_id bigint NOT NULL REFERENCES analysis_runs (id) ON DELETE CASCADE,
    kind   text NOT NULL,
    codes  text[] NOT NULL,
    part   integer NOT NULL
);
CREATE INDEX analysis_slivers_run ON analysis_slivers (run_id);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jiedao_app') THEN
        GRANT SELECT, INSERT, DELETE ON analysis_slivers TO jiedao_app;
    END IF;
END $$;
