-- PostgreSQL's own versions of queries.

-- name: claim_ids
-- As SQLite's, plus SKIP LOCKED: many workers claim side by side without waiting on
-- each other's rows (rows scanned but not claimed are unlocked when the claim commits).
WITH high AS (
    SELECT id, endpoint_id, priority, next_attempt_at, order_key FROM deliveries
    WHERE status = 'pending' AND priority = 0 AND next_attempt_at <= :now
      AND endpoint_id NOT IN (SELECT value FROM json_each(:exclude))
    ORDER BY next_attempt_at LIMIT :scan
    FOR UPDATE SKIP LOCKED
), normal AS (
    SELECT id, endpoint_id, priority, next_attempt_at, order_key FROM deliveries
    WHERE status = 'pending' AND priority = 1 AND next_attempt_at <= :now
      AND endpoint_id NOT IN (SELECT value FROM json_each(:exclude))
    ORDER BY next_attempt_at LIMIT :scan
    FOR UPDATE SKIP LOCKED
), low AS (
    SELECT id, endpoint_id, priority, next_attempt_at, order_key FROM deliveries
    WHERE status = 'pending' AND priority = 2 AND next_attempt_at <= :now
      AND endpoint_id NOT IN (SELECT value FROM json_each(:exclude))
    ORDER BY next_attempt_at LIMIT :scan
    FOR UPDATE SKIP LOCKED
)
SELECT COALESCE(json_agg(chosen), '[]') AS found FROM (
    SELECT id, endpoint_id, order_key FROM (
        SELECT id, endpoint_id, priority, next_attempt_at, order_key,
               ROW_NUMBER() OVER (PARTITION BY endpoint_id ORDER BY priority, next_attempt_at) AS rank,
               COALESCE(CAST(CAST(:busy AS json) ->> endpoint_id AS INTEGER), 0) AS busy
        FROM (
            SELECT * FROM high UNION ALL SELECT * FROM normal UNION ALL SELECT * FROM low
            LIMIT :scan
        ) AS window_rows
    ) AS ranked
    WHERE rank + busy <= :cap
    ORDER BY priority, next_attempt_at
    LIMIT :limit
) AS chosen;

-- name: claim_details
-- One JSON object per leased delivery, keyed by its column names (json_agg of the rows:
-- as fast as arrays, where json_build_object with the names spelt out is slower).
SELECT COALESCE(json_agg(claimed), '[]') AS found FROM (
    SELECT d.id, d.msg_id, d.endpoint_id, d.app_id, d.attempts, d.scheduled_at, d.manual,
           m.event_type, convert_from(m.payload, 'UTF8') AS payload, e.url, e.disabled,
           e.headers, e.secret, e.old_secrets, e.retry_schedule, e.failing_since,
           m.headers AS message_headers, e.version, e.controls, et.versioning, d.order_key,
           e.rate_limit, m.trace_parent, e.auth, e.destination_kind, e.destination_config
    FROM deliveries d
    JOIN messages m ON m.id = d.msg_id
    JOIN endpoints e ON e.id = d.endpoint_id
    LEFT JOIN event_types et ON et.name = m.event_type
    WHERE d.lease_owner = :worker AND d.id IN (SELECT value FROM json_each(:ids))
) AS claimed;

-- name: batch_fill_ids
-- As SQLite's, with SKIP LOCKED: two workers never fill their batches with the same rows.
SELECT id FROM deliveries
WHERE endpoint_id = :endpoint_id AND created_at >= :since AND status = 'pending' AND attempts = 0
  AND lease_owner IS NULL AND id NOT IN (SELECT value FROM json_each(:exclude))
ORDER BY id LIMIT :limit
FOR UPDATE SKIP LOCKED;

-- name: lock_endpoint_states
-- Publishers and recorders that change an endpoint's state take turns on its row.
SELECT endpoint_id FROM endpoint_state
WHERE endpoint_id IN (SELECT value FROM json_each(:ids)) ORDER BY endpoint_id FOR UPDATE;

-- name: try_lock_endpoint_states
-- Claims take turns on the state row of an endpoint they pace, so the pace holds across
-- workers; but a claim never waits for one (it holds delivery rows that a recorder may
-- be waiting for): an endpoint whose row is busy is left for the next claim.
SELECT endpoint_id FROM endpoint_state
WHERE endpoint_id IN (SELECT value FROM json_each(:ids)) ORDER BY endpoint_id
FOR UPDATE SKIP LOCKED;
