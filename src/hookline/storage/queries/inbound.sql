-- Inbound sources, received events, counts and checkpoints (sql/inbound.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- name: routes_version
SELECT routes_version FROM applications WHERE id = :id;

-- name: insert_source
INSERT INTO sources (id, app_id, uid, name, token_hash, token, verifier, config, secrets, dedup_window,
                     forward_headers, created_at, updated_at, allowed_networks, rate_limit)
VALUES (:id, :app_id, :uid, :name, :token_hash, :token, :verifier, :config, :secrets, :dedup_window,
        :forward_headers, :created_at, :updated_at, :allowed_networks, :rate_limit);

-- name: get_source
SELECT id, app_id, uid, name, token, verifier, config, secrets, dedup_window, forward_headers,
       created_at, updated_at, allowed_networks, rate_limit
FROM sources WHERE app_id = :app_id AND (id = :key OR uid = :key)
ORDER BY id = :key DESC LIMIT 1;

-- name: get_source_by_token
SELECT id, app_id, uid, name, token, verifier, config, secrets, dedup_window, forward_headers,
       created_at, updated_at, allowed_networks, rate_limit
FROM sources WHERE token_hash = :token_hash;

-- name: list_sources
SELECT id, app_id, uid, name, token, verifier, config, secrets, dedup_window, forward_headers,
       created_at, updated_at, allowed_networks, rate_limit
FROM sources WHERE app_id = :app_id AND id > :after AND id < :before ORDER BY id DESC LIMIT :limit;

-- name: update_source
UPDATE sources
SET uid = :uid, name = :name, token_hash = :token_hash, token = :token, verifier = :verifier,
    config = :config, secrets = :secrets, dedup_window = :dedup_window,
    forward_headers = :forward_headers, updated_at = :updated_at,
    allowed_networks = :allowed_networks, rate_limit = :rate_limit
WHERE id = :id;

-- name: delete_source
DELETE FROM sources WHERE id = :id;

-- name: claim_dedup_key
-- First sight of a provider's event id within the window: a row is inserted (or an
-- expired one taken over) and the count is 1. A repeat inside the window changes
-- nothing and counts 0. The primary key serialises concurrent copies.
INSERT INTO inbound_dedup (source_id, dedup_key, msg_id, expires_at)
VALUES (:source_id, :dedup_key, :msg_id, :expires_at)
ON CONFLICT (source_id, dedup_key) DO UPDATE
SET msg_id = excluded.msg_id, expires_at = excluded.expires_at
WHERE inbound_dedup.expires_at <= :now;

-- name: get_dedup_msg
SELECT msg_id FROM inbound_dedup WHERE source_id = :source_id AND dedup_key = :dedup_key;

-- name: get_checkpoint
SELECT position, done_count, finished FROM backfill_checkpoints
WHERE source_id = :source_id AND run_key = :run_key;

-- name: save_checkpoint
INSERT INTO backfill_checkpoints (source_id, run_key, position, done_count, finished, updated_at)
VALUES (:source_id, :run_key, :position, :done_count, :finished, :updated_at)
ON CONFLICT (source_id, run_key) DO UPDATE
SET position = excluded.position, done_count = excluded.done_count, finished = excluded.finished,
    updated_at = excluded.updated_at;

-- name: count_source_traffic
-- :rows is [[source id, received, duplicates, rejected, at, forbidden, limited], ...].
INSERT INTO source_stats (source_id, received, duplicates, rejected, last_received_at, forbidden,
                          limited)
SELECT value ->> 0, CAST(value ->> 1 AS INTEGER), CAST(value ->> 2 AS INTEGER),
       CAST(value ->> 3 AS INTEGER), CAST(value ->> 4 AS DOUBLE PRECISION),
       CAST(value ->> 5 AS INTEGER), CAST(value ->> 6 AS INTEGER)
FROM json_rows(:rows) WHERE true
ON CONFLICT (source_id) DO UPDATE
SET received = source_stats.received + excluded.received,
    duplicates = source_stats.duplicates + excluded.duplicates,
    rejected = source_stats.rejected + excluded.rejected,
    forbidden = source_stats.forbidden + excluded.forbidden,
    limited = source_stats.limited + excluded.limited,
    last_received_at = COALESCE(excluded.last_received_at, source_stats.last_received_at);

-- name: source_stats
SELECT source_id, received, duplicates, rejected, last_received_at, forbidden, limited
FROM source_stats
WHERE source_id IN (SELECT value FROM json_each(:ids));
