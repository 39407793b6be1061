-- Endpoints, their pause and their delivery state (sql/endpoints.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- name: insert_endpoint
INSERT INTO endpoints (id, app_id, uid, url, description, version, disabled, filter_types, channels,
                       headers, metadata, rate_limit, retry_schedule, secret, old_secrets,
                       failing_since, created_at, updated_at, controls, paused, auth,
                       destination_kind, destination_config)
VALUES (:id, :app_id, :uid, :url, :description, :version, :disabled, :filter_types, :channels,
        :headers, :metadata, :rate_limit, :retry_schedule, :secret, :old_secrets,
        :failing_since, :created_at, :updated_at, :controls, :paused, :auth, :destination_kind,
        :destination_config);

-- name: get_endpoint
SELECT id, app_id, uid, url, description, version, disabled, filter_types, channels, headers, metadata,
       rate_limit, retry_schedule, secret, old_secrets, failing_since, created_at, updated_at,
       controls, paused, auth, destination_kind, destination_config
FROM endpoints WHERE app_id = :app_id AND (id = :key OR uid = :key)
ORDER BY id = :key DESC LIMIT 1;

-- name: update_endpoint
UPDATE endpoints
SET uid = :uid, url = :url, description = :description, version = :version, disabled = :disabled,
    filter_types = :filter_types, channels = :channels, headers = :headers, metadata = :metadata,
    rate_limit = :rate_limit, retry_schedule = :retry_schedule, secret = :secret,
    old_secrets = :old_secrets, failing_since = :failing_since, updated_at = :updated_at,
    controls = :controls, paused = :paused, auth = :auth, destination_kind = :destination_kind,
    destination_config = :destination_config
WHERE id = :id;

-- name: delete_endpoint
DELETE FROM endpoints WHERE id = :id;

-- name: list_endpoints
SELECT id, app_id, uid, url, description, version, disabled, filter_types, channels, headers, metadata,
       rate_limit, retry_schedule, secret, old_secrets, failing_since, created_at, updated_at,
       controls, paused, auth, destination_kind, destination_config
FROM endpoints WHERE app_id = :app_id AND id > :after AND id < :before
  AND (:any_kind = 1 OR (CASE WHEN destination_kind IS NULL THEN 0 ELSE 1 END) = :destinations)
ORDER BY id DESC LIMIT :limit;

-- name: hold_endpoint_backlog
UPDATE deliveries SET status = 'held', next_attempt_at = NULL, scheduled_at = NULL, updated_at = :now
WHERE endpoint_id = :endpoint_id AND status IN ('pending', 'waiting', 'queued') AND lease_owner IS NULL;

-- name: delete_endpoint_attempts
DELETE FROM attempts WHERE endpoint_id = :id;

-- name: delete_endpoint_deliveries
DELETE FROM deliveries WHERE endpoint_id = :id;

-- name: delete_endpoint_state
DELETE FROM endpoint_state WHERE endpoint_id = :id;

-- name: endpoint_state
SELECT s.tat, s.throttled_at, s.throttled_rate, s.circuit, s.circuit_since, s.probe_at, s.probe_id,
       s.cooldown, s.window_start, s.window_total, s.window_failed,
       (SELECT COUNT(*) FROM deliveries w WHERE w.endpoint_id = :endpoint_id AND w.status = 'waiting') AS waiting,
       (SELECT COUNT(*) FROM deliveries q WHERE q.endpoint_id = :endpoint_id AND q.status = 'queued') AS queued,
       (SELECT COUNT(*) FROM deliveries f WHERE f.endpoint_id = :endpoint_id
          AND f.lease_owner IS NOT NULL AND f.status = 'pending' AND f.next_attempt_at > :now) AS in_flight
FROM (SELECT CAST(:endpoint_id AS TEXT) AS endpoint_id) AS one
LEFT JOIN endpoint_state s ON s.endpoint_id = one.endpoint_id;

-- name: set_paused
UPDATE endpoints SET paused = :paused, updated_at = :now WHERE id = :id;
