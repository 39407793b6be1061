-- PostgreSQL's own versions of queries.

-- name: claim_due
-- SKIP LOCKED lets many workers claim side by side without waiting on each other's rows.
UPDATE deliveries SET next_attempt_at = :lease_until, lease_owner = :worker
WHERE id IN (
    SELECT id FROM deliveries
    WHERE status = 'pending' AND next_attempt_at <= :now
      AND endpoint_id NOT IN (SELECT value FROM json_each(:exclude))
    ORDER BY next_attempt_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
RETURNING id;
