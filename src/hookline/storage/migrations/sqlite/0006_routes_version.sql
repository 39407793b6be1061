-- hookline schema, version 6: a version number for each application's routing.
--
-- Publishing reads an application's routing (its endpoints' event types, channels,
-- filters, pause and circuit states) for every message; each process keeps it in
-- memory and trusts it while routes_version is unchanged. These triggers give it a new
-- value on every change that can alter routing, whichever process or path makes it: a
-- random one, never a count, so a rolled-back change cannot hand its number on to a
-- later, different change.
ALTER TABLE applications ADD COLUMN routes_version INTEGER NOT NULL DEFAULT 0;

-- begin block
CREATE TRIGGER endpoints_routes_added AFTER INSERT ON endpoints
BEGIN
    UPDATE applications SET routes_version = random() WHERE id = NEW.app_id;
END;
-- end block

-- begin block
CREATE TRIGGER endpoints_routes_deleted AFTER DELETE ON endpoints
BEGIN
    UPDATE applications SET routes_version = random() WHERE id = OLD.app_id;
END;
-- end block

-- begin block
CREATE TRIGGER endpoints_routes_updated AFTER UPDATE ON endpoints
WHEN OLD.app_id IS NOT NEW.app_id OR OLD.disabled IS NOT NEW.disabled
    OR OLD.filter_types IS NOT NEW.filter_types OR OLD.channels IS NOT NEW.channels
    OR OLD.paused IS NOT NEW.paused OR OLD.controls IS NOT NEW.controls
BEGIN
    UPDATE applications SET routes_version = random()
    WHERE id IN (OLD.app_id, NEW.app_id);
END;
-- end block

-- Only whether a circuit is closed matters to routing (open and half-open hold alike).
-- begin block
CREATE TRIGGER endpoint_state_routes_added AFTER INSERT ON endpoint_state
WHEN NEW.circuit <> 'closed'
BEGIN
    UPDATE applications SET routes_version = random()
    WHERE id = (SELECT app_id FROM endpoints WHERE id = NEW.endpoint_id);
END;
-- end block

-- begin block
CREATE TRIGGER endpoint_state_routes_updated AFTER UPDATE OF circuit ON endpoint_state
WHEN (OLD.circuit <> 'closed') IS NOT (NEW.circuit <> 'closed')
BEGIN
    UPDATE applications SET routes_version = random()
    WHERE id = (SELECT app_id FROM endpoints WHERE id = NEW.endpoint_id);
END;
-- end block

-- begin block
CREATE TRIGGER endpoint_state_routes_deleted AFTER DELETE ON endpoint_state
WHEN OLD.circuit <> 'closed'
BEGIN
    UPDATE applications SET routes_version = random()
    WHERE id = (SELECT app_id FROM endpoints WHERE id = OLD.endpoint_id);
END;
-- end block
