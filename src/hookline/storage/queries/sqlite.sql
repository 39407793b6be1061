-- SQLite's own versions of queries (its writer is single, so no row locks are needed).

-- name: claim_due
UPDATE deliveries SET next_attempt_at = :lease_until, lease_owner = :worker
WHERE id IN (
    SELECT id FROM deliveries
    WHERE status = 'pending' AND next_attempt_at <= :now
      AND endpoint_id NOT IN (SELECT value FROM json_each(:exclude))
    ORDER BY next_attempt_at
    LIMIT :limit
)
RETURNING id;
