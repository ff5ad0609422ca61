-- The JSON API: API keys, an append-only audit log, a change feed other
-- systems sync from, and the application's database role.

-- API keys. Only the SHA-256 of a key is stored (see boundaries/keys.go for
-- why a fast hash is right for 256-bit random keys); the key itself is shown
-- once by `jiedao keys create`.
CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    role        text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    key_hash    bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Audit log of every write made through the API. Append-only: the trigger
-- below refuses UPDATE, DELETE and TRUNCATE whatever role connects (even a
-- superuser, who ignores privileges), and the REVOKE keeps ordinary roles
-- from trying.
CREATE TABLE audit (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    key_name       text NOT NULL,
    action         text NOT NULL,              -- create, update, retire, import
    code           text,
    old_version_id bigint,
    new_version_id bigint,
    request_id     text,
    client         text,                       -- client address
    detail         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_code ON audit (code);

CREATE FUNCTION audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM PUBLIC;

-- Change feed: one row per created, changed or retired unit version, from
-- imports and API writes alike (triggers on units, so no writer can forget).
-- The rows are written by deferred triggers, i.e. at commit, under a
-- transaction-level advisory lock: ids are therefore handed out in commit
-- order and a reader polling "id > last seen" never skips a row that
-- commits late with a smaller id.
CREATE TABLE changes (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind           text NOT NULL CHECK (kind IN ('created', 'changed', 'retired')),
    code           text NOT NULL,
    level          text NOT NULL,
    version_id     bigint NOT NULL,            -- the new version; the closed one when retired
    old_version_id bigint,                     -- the version closed by a change
    valid_from     date NOT NULL,              -- the day the change takes effect
    import_id      bigint
);
CREATE INDEX changes_at ON changes (at);

CREATE FUNCTION units_change_feed() RETURNS trigger AS $$
DECLARE
    prev bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7347010);
    IF TG_OP = 'INSERT' THEN
        SELECT version_id INTO prev FROM units
            WHERE code = NEW.code AND version_id <> NEW.version_id AND valid_to = NEW.valid_from
            ORDER BY valid_from DESC, version_id DESC LIMIT 1;
        INSERT INTO changes (kind, code, level, version_id, old_version_id, valid_from, import_id)
            VALUES (CASE WHEN prev IS NULL THEN 'created' ELSE 'changed' END,
                    NEW.code, NEW.level, NEW.version_id, prev, NEW.valid_from, NEW.import_id);
    ELSIF OLD.valid_to IS NULL AND NEW.valid_to IS NOT NULL THEN
        -- A closed version followed by a new one is a change (recorded by
        -- the insert); without a successor it is a retirement.
        IF NOT EXISTS (SELECT 1 FROM units WHERE code = NEW.code AND version_id <> NEW.version_id
                       AND valid_from = NEW.valid_to) THEN
            INSERT INTO changes (kind, code, level, version_id, valid_from)
                VALUES ('retired', NEW.code, NEW.level, NEW.version_id, NEW.valid_to);
        END IF;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER units_change_insert AFTER INSERT ON units
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION units_change_feed();
CREATE CONSTRAINT TRIGGER units_change_close AFTER UPDATE OF valid_to ON units
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION units_change_feed();

-- Units present before this migration are the feed's starting point.
INSERT INTO changes (kind, code, level, version_id, valid_from, import_id)
    SELECT 'created', code, level, version_id, valid_from, import_id FROM units ORDER BY version_id;

-- The application's role: what `jiedao serve` needs and no more. Grant it
-- to the login role the server uses (GRANT jiedao_app TO <login>). Roles
-- are cluster-wide and creating one needs CREATEROLE, so a database owner
-- without it just gets a notice.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jiedao_app') THEN
        CREATE ROLE jiedao_app NOLOGIN;
    END IF;
EXCEPTION
    WHEN insufficient_privilege THEN
        RAISE NOTICE 'role jiedao_app not created (needs CREATEROLE): %', SQLERRM;
    WHEN duplicate_object OR unique_violation THEN
        NULL; -- created concurrently by another database's migration
END $$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jiedao_app') THEN
        GRANT SELECT, INSERT, UPDATE ON units, imports, meta, points, analysis_runs, analysis_units, zones TO jiedao_app;
        GRANT DELETE ON points, analysis_runs, analysis_units, zones TO jiedao_app;
        GRANT SELECT, INSERT, UPDATE ON api_keys TO jiedao_app;
        GRANT SELECT, INSERT ON audit, changes TO jiedao_app;
        GRANT SELECT ON schema_migrations TO jiedao_app;
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO jiedao_app;
    END IF;
END $$;

-- A retirement's approval (批复文号): the closed version keeps its own
-- approval, so the document that ended it needs a column of its own.
ALTER TABLE units ADD COLUMN retired_approval text;
