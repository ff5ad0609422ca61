-- Every change of the data version is announced, so servers keep their
-- cached copy of it current without asking per request.
CREATE FUNCTION meta_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('jiedao_data_version', NEW.data_version::text);
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER meta_notify AFTER UPDATE ON meta FOR EACH ROW EXECUTE FUNCTION meta_notify();
