-- SQLite's own versions of queries (its writer is single, so no row locks are needed).

-- name: claim_due
-- Oldest due first, but at most :cap in flight per endpoint: :busy maps endpoint ids to
-- what this worker already has in flight, and a window of :scan rows bounds the cost.
UPDATE deliveries SET next_attempt_at = :lease_until, lease_owner = :worker
WHERE id IN (
    SELECT id FROM (
        SELECT id, next_attempt_at,
               ROW_NUMBER() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at) AS rank,
               COALESCE(json_extract(:busy, '$."' || endpoint_id || '"'), 0) AS busy
        FROM (
            SELECT id, endpoint_id, next_attempt_at FROM deliveries
            WHERE status = 'pending' AND next_attempt_at <= :now
              AND endpoint_id NOT IN (SELECT value FROM json_each(:exclude))
            ORDER BY next_attempt_at
            LIMIT :scan
        )
    )
    WHERE rank + busy <= :cap
    ORDER BY next_attempt_at
    LIMIT :limit
)
RETURNING id;
