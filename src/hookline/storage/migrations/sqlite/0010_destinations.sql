-- hookline schema, version 10: destinations beyond HTTP, and the consumers of pollers.
--
-- A destination (a broker, a database, a poller) is an endpoint row with a kind, so
-- retries, attempts, the circuit, rate limits, filters, batching, recover and resend
-- apply to it unchanged. destination_kind: the svix SDK's type name (rabbitMq,
-- postgres, pollingEndpoint, fifoEndpoint) or hookline's own (redis, nats, mqtt); NULL
-- for an HTTP endpoint. destination_config: its configuration as JSON, sealed whole
-- (enc:v1:..., bound to endpoint:<id>:destination_config) since it holds passwords and
-- credentials inside URIs.
ALTER TABLE endpoints ADD COLUMN destination_kind TEXT;
ALTER TABLE endpoints ADD COLUMN destination_config TEXT;

-- Where each consumer of a polling destination stands: the iterator its next read
-- starts after (consumer_poll moves it on; consumer_seek sets it).
CREATE TABLE poller_consumers (
    endpoint_id  TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    consumer_id  TEXT NOT NULL,
    position     TEXT NOT NULL,
    updated_at   REAL NOT NULL,
    PRIMARY KEY (endpoint_id, consumer_id)
);

-- A poller is read, never delivered to: its kind is routing, so changing it must give
-- the application a new routes_version (as the other routing columns do, migration 6).
DROP TRIGGER endpoints_routes_updated;

-- begin block
CREATE TRIGGER endpoints_routes_updated AFTER UPDATE ON endpoints
WHEN OLD.app_id IS NOT NEW.app_id OR OLD.disabled IS NOT NEW.disabled
    OR OLD.filter_types IS NOT NEW.filter_types OR OLD.channels IS NOT NEW.channels
    OR OLD.paused IS NOT NEW.paused OR OLD.controls IS NOT NEW.controls
    OR OLD.destination_kind IS NOT NEW.destination_kind
BEGIN
    UPDATE applications SET routes_version = random()
    WHERE id IN (OLD.app_id, NEW.app_id);
END;
-- end block
