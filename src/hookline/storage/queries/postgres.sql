-- PostgreSQL's own versions of queries.

-- name: claim_ids
-- As SQLite's, plus SKIP LOCKED: many workers claim side by side without waiting on
-- each other's rows (rows scanned but not claimed are unlocked when the claim commits).
SELECT COALESCE(json_agg(id), '[]') FROM (
    SELECT id FROM (
        SELECT id, next_attempt_at,
               ROW_NUMBER() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at) AS rank,
               COALESCE(CAST(CAST(:busy AS json) ->> endpoint_id AS INTEGER), 0) AS busy
        FROM (
            SELECT id, endpoint_id, next_attempt_at FROM deliveries
            WHERE status = 'pending' AND next_attempt_at <= :now
              AND endpoint_id NOT IN (SELECT value FROM json_each(:exclude))
            ORDER BY next_attempt_at
            LIMIT :scan
            FOR UPDATE SKIP LOCKED
        ) AS window_rows
    ) AS ranked
    WHERE rank + busy <= :cap
    ORDER BY next_attempt_at
    LIMIT :limit
) AS chosen;

-- name: claim_details
SELECT COALESCE(json_agg(json_build_array(
    d.id, d.msg_id, d.endpoint_id, d.app_id, d.attempts, d.scheduled_at, d.manual,
    m.event_type, convert_from(m.payload, 'UTF8'), m.created_at,
    e.url, e.disabled, e.headers, e.secret, e.old_secrets, e.retry_schedule, e.failing_since,
    m.headers)), '[]')
FROM deliveries d
JOIN messages m ON m.id = d.msg_id
JOIN endpoints e ON e.id = d.endpoint_id
WHERE d.lease_owner = :worker AND d.id IN (SELECT value FROM json_each(:ids));
