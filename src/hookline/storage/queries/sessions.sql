-- Web sessions (sql/sessions.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- name: insert_web_session
INSERT INTO web_sessions (id_hash, kind, token, csrf, expires_at)
VALUES (:id_hash, :kind, :token, :csrf, :expires_at);

-- name: get_web_session
SELECT kind, token, csrf, expires_at FROM web_sessions WHERE id_hash = :id_hash;

-- name: touch_web_session
UPDATE web_sessions SET expires_at = :expires_at WHERE id_hash = :id_hash;

-- name: delete_web_session
DELETE FROM web_sessions WHERE id_hash = :id_hash;
