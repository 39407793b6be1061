-- hookline schema, version 6: a version number for each application's routing.
--
-- Publishing reads an application's routing (its endpoints' event types, channels,
-- filters, pause and circuit states) for every message; each process keeps it in
-- memory and trusts it while routes_version is unchanged. These triggers give it a new
-- value on every change that can alter routing, whichever process or path makes it:
-- from a sequence, which a rolled-back transaction does not give back, so a number is
-- never seen for two different routings (after 2^31 changes it wraps around).
ALTER TABLE applications ADD COLUMN routes_version INTEGER NOT NULL DEFAULT 0;
CREATE SEQUENCE routes_versions AS integer CYCLE;

-- begin block
CREATE FUNCTION hookline_routes_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'endpoints' THEN
        IF TG_OP <> 'INSERT' THEN
            UPDATE applications SET routes_version = nextval('routes_versions') WHERE id = OLD.app_id;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            UPDATE applications SET routes_version = nextval('routes_versions')
            WHERE id = NEW.app_id AND (TG_OP = 'INSERT' OR NEW.app_id IS DISTINCT FROM OLD.app_id);
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE applications SET routes_version = nextval('routes_versions')
        WHERE id = (SELECT app_id FROM endpoints WHERE id = OLD.endpoint_id);
    ELSE
        UPDATE applications SET routes_version = nextval('routes_versions')
        WHERE id = (SELECT app_id FROM endpoints WHERE id = NEW.endpoint_id);
    END IF;
    RETURN NULL;
END;
$$;
-- end block

-- Constraint triggers, deferred: each runs at commit, so the application's row is
-- the last lock its transaction takes. An endpoint change (endpoint, then its
-- deliveries and state) and a worker's record (state, deliveries) then never hold
-- it while waiting for each other's rows, and cannot deadlock on it.
CREATE CONSTRAINT TRIGGER endpoints_routes_added_or_deleted AFTER INSERT OR DELETE ON endpoints
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION hookline_routes_changed();

CREATE CONSTRAINT TRIGGER endpoints_routes_updated AFTER UPDATE ON endpoints
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (
    OLD.app_id IS DISTINCT FROM NEW.app_id OR OLD.disabled IS DISTINCT FROM NEW.disabled
    OR OLD.filter_types IS DISTINCT FROM NEW.filter_types
    OR OLD.channels IS DISTINCT FROM NEW.channels OR OLD.paused IS DISTINCT FROM NEW.paused
    OR OLD.controls IS DISTINCT FROM NEW.controls
) EXECUTE FUNCTION hookline_routes_changed();

-- Only whether a circuit is closed matters to routing (open and half-open hold alike).
CREATE CONSTRAINT TRIGGER endpoint_state_routes_added AFTER INSERT ON endpoint_state
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (NEW.circuit <> 'closed') EXECUTE FUNCTION hookline_routes_changed();

CREATE CONSTRAINT TRIGGER endpoint_state_routes_updated AFTER UPDATE OF circuit ON endpoint_state
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN ((OLD.circuit <> 'closed') IS DISTINCT FROM (NEW.circuit <> 'closed'))
EXECUTE FUNCTION hookline_routes_changed();

CREATE CONSTRAINT TRIGGER endpoint_state_routes_deleted AFTER DELETE ON endpoint_state
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (OLD.circuit <> 'closed') EXECUTE FUNCTION hookline_routes_changed();
