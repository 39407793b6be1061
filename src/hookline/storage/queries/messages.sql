-- Publishing and the log of messages, deliveries and attempts (sql/messages.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- name: publish_application
-- The application a publish names (by id or uid), and the version of its routing.
-- Its plan's limits and its overrides too: an application with either has quotas to take.
SELECT a.id, a.routes_version, a.plan, a.plan_overrides, p.limits AS plan_limits
FROM applications a LEFT JOIN plans p ON p.name = a.plan
WHERE (a.id = :key OR a.uid = :key) AND a.id <> 'app_0000000000000000operational'
ORDER BY a.id = :key DESC LIMIT 1;

-- name: get_message
SELECT id, app_id, event_type, event_id, payload, channels, tags, created_at, priority
FROM messages WHERE app_id = :app_id AND (id = :key OR event_id = :key)
ORDER BY id = :key DESC LIMIT 1;

-- name: list_messages
SELECT id, app_id, event_type, event_id, payload, channels, tags, created_at, priority
FROM messages
WHERE app_id = :app_id AND id < :before AND id > :after
  AND (CAST(:event_types AS TEXT) IS NULL OR event_type IN (SELECT value FROM json_each(:event_types)))
  AND (CAST(:channel AS TEXT) IS NULL
       OR (channels IS NOT NULL AND :channel IN (SELECT value FROM json_each(channels))))
  AND (CAST(:tag AS TEXT) IS NULL
       OR (tags IS NOT NULL AND :tag IN (SELECT value FROM json_each(tags))))
  AND created_at >= :since AND created_at < :until
ORDER BY id DESC LIMIT :limit;

-- name: get_delivery
SELECT id, msg_id, endpoint_id, app_id, status, attempts, next_attempt_at, created_at, updated_at
FROM deliveries WHERE msg_id = :msg_id AND endpoint_id = :endpoint_id;

-- name: endpoint_stats
SELECT
  SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS success,
  SUM(CASE WHEN status IN ('pending', 'waiting', 'queued') AND lease_owner IS NULL THEN 1 ELSE 0 END) AS pending,
  SUM(CASE WHEN status = 'pending' AND lease_owner IS NOT NULL THEN 1 ELSE 0 END) AS sending,
  SUM(CASE WHEN status IN ('failed', 'held') THEN 1 ELSE 0 END) AS fail
FROM deliveries
WHERE endpoint_id = :endpoint_id AND created_at >= :since AND created_at < :until;

-- name: get_attempt
SELECT id, delivery_id, msg_id, endpoint_id, app_id, url, status, response_status_code, response,
       response_headers, duration_ms, error_class, trigger_type, created_at, request_headers,
       request_body
FROM attempts WHERE app_id = :app_id AND msg_id = :msg_id AND id = :id;

-- name: list_attempts
SELECT a.id, a.delivery_id, a.msg_id, a.endpoint_id, a.app_id, a.url, a.status, a.response_status_code,
       a.response, a.response_headers, a.duration_ms, a.error_class, a.trigger_type, a.created_at,
       a.request_headers, a.request_body
FROM attempts a
JOIN messages m ON m.id = a.msg_id
WHERE a.app_id = :app_id
  AND (CAST(:event_types AS TEXT) IS NULL OR m.event_type IN (SELECT value FROM json_each(:event_types)))
  AND (CAST(:channel AS TEXT) IS NULL
       OR (m.channels IS NOT NULL AND :channel IN (SELECT value FROM json_each(m.channels))))
  AND (CAST(:tag AS TEXT) IS NULL
       OR (m.tags IS NOT NULL AND :tag IN (SELECT value FROM json_each(m.tags))))
  AND (CAST(:msg_id AS TEXT) IS NULL OR a.msg_id = :msg_id)
  AND (CAST(:endpoint_id AS TEXT) IS NULL OR a.endpoint_id = :endpoint_id)
  AND a.id < :before AND a.id > :after
  AND (CAST(:status AS INTEGER) IS NULL OR a.status = :status)
  AND (CAST(:code_low AS INTEGER) IS NULL
       OR (a.response_status_code >= :code_low AND a.response_status_code < :code_high))
  AND a.created_at >= :since AND a.created_at < :until
ORDER BY a.id DESC LIMIT :limit;

-- name: list_endpoint_messages
SELECT m.id, m.app_id, m.event_type, m.event_id, m.payload, m.channels, m.tags, m.created_at,
       m.priority, d.status AS delivery_status, d.lease_owner, d.next_attempt_at
FROM deliveries d
JOIN messages m ON m.id = d.msg_id
WHERE d.endpoint_id = :endpoint_id AND d.msg_id > :after AND d.msg_id < :before
  AND (CAST(:status AS INTEGER) IS NULL OR :status = CASE
        WHEN d.status = 'success' THEN 0
        WHEN d.status IN ('pending', 'waiting', 'queued') AND d.lease_owner IS NULL THEN 1
        WHEN d.status = 'pending' THEN 3
        ELSE 2 END)
  AND m.created_at >= :since AND m.created_at < :until
  AND (CAST(:event_types AS TEXT) IS NULL OR m.event_type IN (SELECT value FROM json_each(:event_types)))
  AND (CAST(:channel AS TEXT) IS NULL
       OR (m.channels IS NOT NULL AND :channel IN (SELECT value FROM json_each(m.channels))))
  AND (CAST(:tag AS TEXT) IS NULL
       OR (m.tags IS NOT NULL AND :tag IN (SELECT value FROM json_each(m.tags))))
ORDER BY d.msg_id DESC LIMIT :limit;

-- name: queue_stats
-- Pending rows only (the partial index's rows): due now, scheduled later, leased.
SELECT
    COALESCE(SUM(CASE WHEN next_attempt_at <= :now THEN 1 ELSE 0 END), 0) AS due,
    COALESCE(SUM(CASE WHEN next_attempt_at > :now AND lease_owner IS NULL THEN 1 ELSE 0 END), 0) AS scheduled,
    COALESCE(SUM(CASE WHEN next_attempt_at > :now AND lease_owner IS NOT NULL THEN 1 ELSE 0 END), 0) AS leased,
    MIN(CASE WHEN next_attempt_at <= :now THEN scheduled_at END) AS oldest_due_at,
    (SELECT COUNT(*) FROM endpoints WHERE disabled = 1) AS endpoints_disabled,
    (SELECT COUNT(*) FROM endpoints WHERE paused = 1) AS endpoints_paused,
    (SELECT COUNT(*) FROM endpoint_state WHERE circuit = 'open') AS circuits_open,
    (SELECT COUNT(*) FROM endpoint_state WHERE circuit = 'half_open') AS circuits_half_open,
    (SELECT COUNT(*) FROM deliveries w WHERE w.status = 'waiting') AS waiting,
    (SELECT COUNT(*) FROM deliveries q WHERE q.status = 'queued') AS queued
FROM deliveries WHERE status = 'pending';

-- name: attempt_points
-- Attempts made in [:low, :high) by id (ids sort by time), at most :limit of them.
SELECT created_at, status, duration_ms FROM attempts
WHERE id >= :low AND id < :high AND (CAST(:app_id AS TEXT) IS NULL OR app_id = :app_id)
ORDER BY id LIMIT :limit;
