-- Least privilege for the application's role (jiedao_app): it inserts
-- versions and closes them, but cannot rewrite a version in place (its
-- geometry, counts, code, approval) nor raise an API key's role; the
-- owner runs migrations. Column grants say what may change; a trigger
-- keeps a closed version closed, whoever connects.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jiedao_app') THEN
        REVOKE UPDATE ON units FROM jiedao_app;
        GRANT UPDATE (valid_to, retired_approval) ON units TO jiedao_app;
        REVOKE UPDATE ON api_keys FROM jiedao_app;
        GRANT UPDATE (revoked_at) ON api_keys TO jiedao_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON count_areas TO jiedao_app;
    END IF;
END $$;

-- A version's validity ends once: a closed version (valid_to set) keeps
-- its end, so history cannot be rewritten by a later update.
CREATE FUNCTION units_closed_once() RETURNS trigger AS $$
BEGIN
    IF OLD.valid_to IS NOT NULL AND NEW.valid_to IS DISTINCT FROM OLD.valid_to THEN
        RAISE EXCEPTION 'version % of % is closed (valid_to %); versions are never rewritten', OLD.version_id, OLD.code, OLD.valid_to
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER units_closed_once BEFORE UPDATE ON units FOR EACH ROW EXECUTE FUNCTION units_closed_once();

-- The one way the application may change a key's role: audited in the
-- same statement. SECURITY DEFINER runs it with the owner's rights.
CREATE FUNCTION jiedao_set_key_role(key_name text, new_role text, by_key text) RETURNS void AS $$
DECLARE old_role text;
BEGIN
    SELECT role INTO old_role FROM api_keys WHERE name = key_name AND revoked_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no active key %', key_name USING ERRCODE = 'no_data_found';
    END IF;
    UPDATE api_keys SET role = new_role WHERE name = key_name;
    INSERT INTO audit (key_name, action, detail)
        VALUES (by_key, 'key_role', jsonb_build_object('key', key_name, 'from', old_role, 'to', new_role));
END $$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE ALL ON FUNCTION jiedao_set_key_role(text, text, text) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jiedao_app') THEN
        GRANT EXECUTE ON FUNCTION jiedao_set_key_role(text, text, text) TO jiedao_app;
    END IF;
END $$;
