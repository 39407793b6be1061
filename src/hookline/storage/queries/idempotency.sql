-- Idempotency keys (sql/idempotency.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- name: get_idempotency
SELECT fingerprint, status_code, body, created_at FROM idempotency_keys WHERE key = :key;

-- name: put_idempotency
-- Completes a pending claim (status_code 0); a finished answer is never overwritten.
INSERT INTO idempotency_keys (key, fingerprint, status_code, body, created_at)
VALUES (:key, :fingerprint, :status_code, :body, :created_at)
ON CONFLICT (key) DO UPDATE
SET fingerprint = excluded.fingerprint, status_code = excluded.status_code, body = excluded.body,
    created_at = excluded.created_at
WHERE idempotency_keys.status_code = 0;

-- name: claim_idempotency
INSERT INTO idempotency_keys (key, fingerprint, status_code, body, created_at)
VALUES (:key, :fingerprint, 0, :body, :created_at)
ON CONFLICT (key) DO NOTHING;

-- name: delete_idempotency
DELETE FROM idempotency_keys WHERE key = :key;

-- name: release_idempotency
DELETE FROM idempotency_keys WHERE key = :key AND status_code = 0;
