-- hookline schema, version 3: the inbound gateway.

-- A source receives one provider's webhooks at /in/<token> and turns each into a
-- message of its application. The token is stored as its digest (for lookup) and
-- sealed (to show the URL again); secrets are sealed like endpoint secrets.
CREATE TABLE sources (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    uid             TEXT,
    name            TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    token           TEXT NOT NULL,
    verifier        TEXT NOT NULL,
    config          TEXT NOT NULL DEFAULT '{}',
    secrets         TEXT NOT NULL DEFAULT '[]',
    dedup_window    REAL NOT NULL,
    forward_headers INTEGER NOT NULL DEFAULT 1,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    UNIQUE (app_id, uid)
);
CREATE INDEX sources_app ON sources (app_id, id);

-- One row per provider event id seen within its source's window; the primary key
-- is what makes concurrent copies of one event store it once.
CREATE TABLE inbound_dedup (
    source_id   TEXT NOT NULL,
    dedup_key   TEXT NOT NULL,
    msg_id      TEXT NOT NULL,
    expires_at  REAL NOT NULL,
    PRIMARY KEY (source_id, dedup_key)
);
CREATE INDEX inbound_dedup_expiry ON inbound_dedup (expires_at);

-- How far a backfill run got: an interrupted run resumes from here.
CREATE TABLE backfill_checkpoints (
    source_id   TEXT NOT NULL,
    run_key     TEXT NOT NULL,
    position    REAL,
    done_count  INTEGER NOT NULL DEFAULT 0,
    finished    INTEGER NOT NULL DEFAULT 0,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (source_id, run_key)
);

-- An inbound message keeps the headers it arrived with (forwarded with it) and its source.
ALTER TABLE messages ADD COLUMN headers TEXT;
ALTER TABLE messages ADD COLUMN source_id TEXT;
