-- API tokens (sql/tokens.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- name: insert_token
INSERT INTO api_tokens (id, name, token_hash, prefix, app_id, read_only, session_id, created_by,
                        created_at, expires_at, revoked_at)
VALUES (:id, :name, :token_hash, :prefix, :app_id, :read_only, :session_id, :created_by,
        :created_at, :expires_at, :revoked_at);

-- name: insert_token_if_absent
INSERT INTO api_tokens (id, name, token_hash, prefix, app_id, read_only, session_id, created_by,
                        created_at, expires_at, revoked_at)
VALUES (:id, :name, :token_hash, :prefix, :app_id, :read_only, :session_id, :created_by,
        :created_at, :expires_at, :revoked_at)
ON CONFLICT (id) DO NOTHING;

-- name: get_token_by_hash
SELECT id, name, token_hash, prefix, app_id, read_only, session_id, created_by, created_at,
       expires_at, revoked_at
FROM api_tokens WHERE token_hash = :token_hash;

-- name: get_token
SELECT id, name, token_hash, prefix, app_id, read_only, session_id, created_by, created_at,
       expires_at, revoked_at
FROM api_tokens WHERE id = :id;

-- name: list_tokens
SELECT id, name, token_hash, prefix, app_id, read_only, session_id, created_by, created_at,
       expires_at, revoked_at
FROM api_tokens
WHERE id > :after AND id < :before AND (CAST(:app_id AS TEXT) IS NULL OR app_id = :app_id)
ORDER BY id DESC LIMIT :limit;

-- name: revoke_token
UPDATE api_tokens SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL;

-- name: expire_app_tokens
-- Svix's "expire all": the application's tokens (of the named sessions, if any) stop
-- working at :at; tokens that already end sooner keep their own end.
UPDATE api_tokens SET expires_at = :at
WHERE app_id = :app_id AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > :at)
  AND (CAST(:sessions AS TEXT) IS NULL OR session_id IN (SELECT value FROM json_each(:sessions)));
