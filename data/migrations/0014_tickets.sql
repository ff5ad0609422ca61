-- Citizen requests (12345 hotline tickets) dispatched to the street and
-- community responsible for their place (boundaries/dispatch), and the
-- reassignments (改派/退单) that say where that answer was disputed.

-- One row per ticket id: a second dispatch of the same id with the same
-- point and time is answered from this row and adds nothing. street and
-- community are the answer given at dispatch; assigned_street and
-- assigned_community follow the reassignments (the ticket's owner now).
CREATE TABLE tickets (
    id                 text PRIMARY KEY CHECK (id <> '' AND length(id) <= 128),
    time               timestamptz NOT NULL,
    lon                double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat                double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    -- WGS84, after any GCJ-02/BD-09 shift was undone; lon/lat are kept
    -- exactly so a resent ticket compares equal bit for bit.
    geom               geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED,
    category           text NOT NULL DEFAULT '',
    district           text,
    street             text,
    community          text,
    grid               text,
    rule               text NOT NULL,
    ambiguity          text NOT NULL
                       CHECK (ambiguity IN ('outside', 'gap', 'overlap', 'on_boundary', 'near_boundary', 'none')),
    grid_ambiguity     text,
    distance_m         double precision,          -- to the street of an outside ticket
    candidates         jsonb NOT NULL DEFAULT '[]',
    units_version      bigint NOT NULL,           -- meta.units_version the answer was read from
    units_day          date NOT NULL,             -- the day whose boundaries decided
    dispatched_at      timestamptz NOT NULL DEFAULT now(),
    assigned_street    text,
    assigned_community text
);
CREATE INDEX tickets_geom ON tickets USING gist (geom);
CREATE INDEX tickets_time ON tickets (time);

-- Reassignments, append-only like the audit log: who sent a ticket from
-- which unit to which, and why. level is the level of to_code (from_code
-- is the ticket's owner at that level before, NULL when it had none, as in
-- a gap); after_* is the owner once it was applied.
CREATE TABLE ticket_disputes (
    id              bigserial PRIMARY KEY,
    ticket_id       text NOT NULL REFERENCES tickets (id),
    level           text NOT NULL CHECK (level IN ('street', 'community')),
    from_code       text,
    to_code         text NOT NULL,
    reason          text NOT NULL CHECK (reason <> ''),
    at              timestamptz NOT NULL DEFAULT now(),
    actor           text NOT NULL,
    after_street    text,
    after_community text
);
CREATE INDEX ticket_disputes_ticket ON ticket_disputes (ticket_id, id);
CREATE INDEX ticket_disputes_at ON ticket_disputes (at);

CREATE TRIGGER ticket_disputes_no_update BEFORE UPDATE OR DELETE ON ticket_disputes
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER ticket_disputes_no_truncate BEFORE TRUNCATE ON ticket_disputes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON ticket_disputes FROM PUBLIC;

-- The application dispatches and reassigns: it inserts tickets and moves
-- only their current owner, and appends disputes (as audit, 0004/0010).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jiedao_app') THEN
        GRANT SELECT, INSERT ON tickets, ticket_disputes TO jiedao_app;
        GRANT UPDATE (assigned_street, assigned_community) ON tickets TO jiedao_app;
        GRANT USAGE ON SEQUENCE ticket_disputes_id_seq TO jiedao_app;
    END IF;
END $$;
