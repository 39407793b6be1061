-- PostgreSQL's own versions of queries.

-- name: claim_due
-- As SQLite's, plus SKIP LOCKED: many workers claim side by side without waiting on
-- each other's rows (rows scanned but not claimed are unlocked when the claim commits).
UPDATE deliveries SET next_attempt_at = :lease_until, lease_owner = :worker
WHERE id IN (
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
)
RETURNING id;
