-- hookline schema, version 5: operations (operational webhooks, inbound source counts).

-- The reserved application whose endpoints receive hookline's operational events
-- (endpoint.created, message.attempt.exhausted...). The application API never shows it.
INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
VALUES ('app_0000000000000000operational', NULL, 'hookline operational webhooks', NULL, '{}', 0, 0);

-- What each inbound source received: stored events, duplicate copies, and requests
-- that failed verification (counted by the gateway, written in batches).
CREATE TABLE source_stats (
    source_id        TEXT PRIMARY KEY,
    received         INTEGER NOT NULL DEFAULT 0,
    duplicates       INTEGER NOT NULL DEFAULT 0,
    rejected         INTEGER NOT NULL DEFAULT 0,
    last_received_at DOUBLE PRECISION
);

-- Background tasks (recover, replay, bulk replay) are jobs: a worker leases one and
-- does it a batch per transaction, keeping its place in data, so it survives restarts.
ALTER TABLE background_tasks ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
ALTER TABLE background_tasks ADD COLUMN lease_owner TEXT;
ALTER TABLE background_tasks ADD COLUMN lease_until DOUBLE PRECISION;
CREATE INDEX background_tasks_running ON background_tasks (lease_until) WHERE status = 'running';

-- Payload retention: when a message's payload is removed (NULL once it is).
ALTER TABLE messages ADD COLUMN expires_at DOUBLE PRECISION;
ALTER TABLE messages ADD COLUMN expunged INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;

-- Tracing (optional): the W3C traceparent of the publish, continued by each attempt.
ALTER TABLE messages ADD COLUMN trace_parent TEXT;

-- Signed-in browsers of the dashboard and the portal, so every API process knows them.
-- Found by the digest of the cookie's id; the token is sealed like other secrets.
CREATE TABLE web_sessions (
    id_hash     TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    token       TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
