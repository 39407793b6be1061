-- SQLite's own versions of queries (its writer is single, so no row locks are needed).
-- Claims answer in one row of JSON, not a row per delivery: Python's sqlite3 re-takes
-- the GIL for every row it steps, and each re-take waits behind the busy event loop.

-- name: claim_ids
-- Highest priority first, then oldest due first, but at most :cap in flight per endpoint:
-- :busy maps endpoint ids to what this worker already has in flight to them. Each
-- priority is a range of the due index, and a window of :scan rows bounds the cost.
SELECT json_group_array(json_object('id', id, 'endpoint_id', endpoint_id, 'order_key', order_key))
       AS found FROM (
    SELECT id, endpoint_id, order_key FROM (
        SELECT id, endpoint_id, priority, next_attempt_at, order_key,
               ROW_NUMBER() OVER (PARTITION BY endpoint_id ORDER BY priority, next_attempt_at) AS rank,
               COALESCE(json_extract(:busy, '$."' || endpoint_id || '"'), 0) AS busy
        FROM (
            SELECT * FROM (
                SELECT id, endpoint_id, priority, next_attempt_at, order_key FROM deliveries
                WHERE status = 'pending' AND priority = 0 AND next_attempt_at <= :now
                  AND endpoint_id NOT IN (SELECT value FROM json_each(:exclude))
                ORDER BY next_attempt_at LIMIT :scan)
            UNION ALL SELECT * FROM (
                SELECT id, endpoint_id, priority, next_attempt_at, order_key FROM deliveries
                WHERE status = 'pending' AND priority = 1 AND next_attempt_at <= :now
                  AND endpoint_id NOT IN (SELECT value FROM json_each(:exclude))
                ORDER BY next_attempt_at LIMIT :scan)
            UNION ALL SELECT * FROM (
                SELECT id, endpoint_id, priority, next_attempt_at, order_key FROM deliveries
                WHERE status = 'pending' AND priority = 2 AND next_attempt_at <= :now
                  AND endpoint_id NOT IN (SELECT value FROM json_each(:exclude))
                ORDER BY next_attempt_at LIMIT :scan)
            LIMIT :scan
        )
    )
    WHERE rank + busy <= :cap
    ORDER BY priority, next_attempt_at
    LIMIT :limit
);

-- name: claim_details
-- One JSON object per leased delivery, keyed by column name.
SELECT json_group_array(json_object(
    'id', d.id, 'msg_id', d.msg_id, 'endpoint_id', d.endpoint_id, 'app_id', d.app_id,
    'attempts', d.attempts, 'scheduled_at', d.scheduled_at, 'manual', d.manual,
    'event_type', m.event_type, 'payload', CAST(m.payload AS TEXT), 'url', e.url,
    'disabled', e.disabled, 'headers', e.headers, 'secret', e.secret,
    'old_secrets', e.old_secrets, 'retry_schedule', e.retry_schedule,
    'failing_since', e.failing_since, 'message_headers', m.headers, 'version', e.version,
    'controls', e.controls, 'versioning', et.versioning, 'order_key', d.order_key,
    'rate_limit', e.rate_limit, 'trace_parent', m.trace_parent, 'auth', e.auth,
    'destination_kind', e.destination_kind, 'destination_config', e.destination_config)) AS found
FROM deliveries d
JOIN messages m ON m.id = d.msg_id
JOIN endpoints e ON e.id = d.endpoint_id
LEFT JOIN event_types et ON et.name = m.event_type
WHERE d.lease_owner = :worker AND d.id IN (SELECT value FROM json_each(:ids));
