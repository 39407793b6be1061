-- hookline schema, version 2: API tokens and the audit trail.

-- Tokens are stored as their SHA-256 digest only; app_id NULL is an admin token.
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    app_id      TEXT,
    read_only   INTEGER NOT NULL DEFAULT 0,
    session_id  TEXT,
    created_by  TEXT,
    created_at  DOUBLE PRECISION NOT NULL,
    expires_at  DOUBLE PRECISION,
    revoked_at  DOUBLE PRECISION
);
CREATE INDEX api_tokens_app ON api_tokens (app_id, id);

-- Every change to applications, endpoints, event types, secrets and tokens.
-- Kept when its application is deleted: the trail is the operator's record.
CREATE TABLE audit_log (
    id             TEXT PRIMARY KEY,
    app_id         TEXT,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    before_state   TEXT,
    after_state    TEXT,
    created_at     DOUBLE PRECISION NOT NULL
);
CREATE INDEX audit_log_app ON audit_log (app_id, id);
