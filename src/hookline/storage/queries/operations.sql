-- The rest of Svix's operations on the log, and the jobs over applications (sql/operations.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- name: attempt_counts
-- An endpoint's attempts made in [:low, :high) by id (ids sort by time): the
-- attempts_endpoint index (endpoint_id, id) gives the range.
SELECT COALESCE(SUM(CASE WHEN status = 0 THEN 1 ELSE 0 END), 0) AS success,
       COALESCE(SUM(CASE WHEN status <> 0 THEN 1 ELSE 0 END), 0) AS fail
FROM attempts WHERE endpoint_id = :endpoint_id AND id >= :low AND id < :high;

-- name: list_destinations
-- A message's deliveries with their endpoints, a page by endpoint id.
SELECT e.id, e.app_id, e.uid, e.url, e.description, e.version, e.disabled, e.filter_types,
       e.channels, e.headers, e.metadata, e.rate_limit, e.retry_schedule, e.secret, e.old_secrets,
       e.failing_since, e.created_at, e.updated_at, e.controls, e.paused, e.auth,
       e.destination_kind, e.destination_config,
       d.status AS delivery_status, d.lease_owner, d.next_attempt_at
FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
WHERE d.msg_id = :msg_id AND d.endpoint_id > :after AND d.endpoint_id < :before
ORDER BY d.endpoint_id DESC LIMIT :limit;

-- name: message_ids_by_keys
-- The messages of an application that the keys (ids or eventIds) name.
SELECT id, event_id FROM messages
WHERE app_id = :app_id
  AND (id IN (SELECT value FROM json_each(:keys)) OR event_id IN (SELECT value FROM json_each(:keys)));

-- name: expunge_attempt_content
UPDATE attempts SET response = '', request_body = NULL
WHERE app_id = :app_id AND msg_id = :msg_id AND id = :id;

-- name: purge_candidates
-- An application's messages that still hold a payload, after where the job got to.
SELECT id FROM messages
WHERE app_id = :app_id AND id > :after_id AND expunged = 0
ORDER BY id LIMIT :limit;

-- name: applications_after
-- The applications after where a job got to (or only those named), by id.
SELECT id, uid FROM applications
WHERE id > :after_id AND id <> 'app_0000000000000000operational'
  AND (CAST(:app_ids AS TEXT) IS NULL OR id IN (SELECT value FROM json_each(:app_ids)))
ORDER BY id LIMIT :limit;

-- name: message_destinations
-- How many deliveries (message destinations) the application's messages made in
-- [:low, :high) by id fanned out to: messages_app (app_id, id), then each message's deliveries.
SELECT COUNT(*) AS destinations
FROM messages m JOIN deliveries d ON d.msg_id = m.id
WHERE m.app_id = :app_id AND m.id >= :low AND m.id < :high;

-- name: endpoint_event_types
-- The event types each endpoint of the applications listens to (NULL: every type).
SELECT app_id, filter_types FROM endpoints
WHERE app_id IN (SELECT value FROM json_each(:app_ids))
ORDER BY app_id, id;

