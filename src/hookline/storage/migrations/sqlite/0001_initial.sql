-- hookline schema, version 1 (SQLite).
-- Times are REAL seconds since the Unix epoch; JSON values are TEXT.

CREATE TABLE applications (
    id          TEXT PRIMARY KEY,
    uid         TEXT UNIQUE,
    name        TEXT NOT NULL,
    rate_limit  INTEGER,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);

CREATE TABLE event_types (
    name          TEXT PRIMARY KEY,
    description   TEXT NOT NULL DEFAULT '',
    archived      INTEGER NOT NULL DEFAULT 0,
    deprecated    INTEGER NOT NULL DEFAULT 0,
    schemas       TEXT,
    feature_flags TEXT,
    group_name    TEXT,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL
);

CREATE TABLE endpoints (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    uid             TEXT,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    version         INTEGER NOT NULL DEFAULT 1,
    disabled        INTEGER NOT NULL DEFAULT 0,
    filter_types    TEXT,
    channels        TEXT,
    headers         TEXT NOT NULL DEFAULT '{}',
    metadata        TEXT NOT NULL DEFAULT '{}',
    rate_limit      INTEGER,
    retry_schedule  TEXT,
    secret          TEXT NOT NULL,
    old_secrets     TEXT NOT NULL DEFAULT '[]',
    failing_since   REAL,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    UNIQUE (app_id, uid)
);
CREATE INDEX endpoints_app ON endpoints (app_id, id);

CREATE TABLE messages (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    event_type  TEXT NOT NULL,
    event_id    TEXT,
    payload     BLOB NOT NULL,
    channels    TEXT,
    tags        TEXT,
    created_at  REAL NOT NULL,
    UNIQUE (app_id, event_id)
);
CREATE INDEX messages_app ON messages (app_id, id);

-- The queue: one row per (message, endpoint). A worker claims a due row by
-- moving next_attempt_at to the end of its lease, so a crashed worker's rows
-- fall due again by themselves; scheduled_at keeps the true due time.
CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    msg_id           TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    endpoint_id      TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    app_id           TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  REAL,
    scheduled_at     REAL,
    lease_owner      TEXT,
    manual           INTEGER NOT NULL DEFAULT 0,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    UNIQUE (msg_id, endpoint_id)
);
-- Only pending rows are in the claim index, so finished history costs claims nothing.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
-- Without the status column, a delivery changing state does not move its entry here.
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at);

CREATE TABLE attempts (
    id                    TEXT PRIMARY KEY,
    delivery_id           TEXT NOT NULL,
    msg_id                TEXT NOT NULL,
    endpoint_id           TEXT NOT NULL,
    app_id                TEXT NOT NULL,
    url                   TEXT NOT NULL,
    status                INTEGER NOT NULL,
    response_status_code  INTEGER NOT NULL,
    response              TEXT NOT NULL,
    response_headers      TEXT NOT NULL,
    duration_ms           INTEGER NOT NULL,
    error_class           TEXT,
    trigger_type          INTEGER NOT NULL,
    created_at            REAL NOT NULL
);
CREATE INDEX attempts_msg ON attempts (msg_id, id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);

CREATE TABLE idempotency_keys (
    key          TEXT PRIMARY KEY,
    fingerprint  TEXT NOT NULL,
    status_code  INTEGER NOT NULL,
    body         BLOB NOT NULL,
    created_at   REAL NOT NULL
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

-- Long-running operations (recover...) as Svix background tasks.
CREATE TABLE background_tasks (
    id          TEXT PRIMARY KEY,
    app_id      TEXT,
    task        TEXT NOT NULL,
    status      TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
