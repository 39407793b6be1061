-- Retention: payloads, attempts, expired keys and sessions (sql/retention.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- name: expire_idempotency
DELETE FROM idempotency_keys WHERE created_at < :before;

-- name: expire_dedup_keys
DELETE FROM inbound_dedup WHERE expires_at <= :before;

-- name: expired_messages
-- Payloads past their retention, of messages with nothing left to send.
SELECT id FROM messages m
WHERE expires_at IS NOT NULL AND expires_at <= :now
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id
                  AND d.status IN ('pending', 'waiting', 'queued'))
ORDER BY expires_at LIMIT :limit;

-- name: expunge_messages
UPDATE messages SET payload = :empty, headers = NULL, expunged = 1, expires_at = NULL
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: expunge_attempt_bodies
-- A reshaped body sent is the payload in another shape: it goes with the payload.
UPDATE attempts SET request_body = NULL
WHERE msg_id IN (SELECT value FROM json_each(:ids)) AND request_body IS NOT NULL;

-- name: expunge_message
UPDATE messages SET payload = :empty, headers = NULL, expunged = 1, expires_at = NULL
WHERE id = :id;

-- name: old_attempt_ids
SELECT id FROM attempts WHERE id < :before ORDER BY id LIMIT :limit;

-- name: delete_attempts
DELETE FROM attempts WHERE id IN (SELECT value FROM json_each(:ids));

-- name: expire_web_sessions
DELETE FROM web_sessions WHERE expires_at < :now;
