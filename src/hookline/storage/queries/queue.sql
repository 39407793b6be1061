-- The delivery queue: claims, admission, batch fills, probes, releases (sql/queue.py).
-- Claims' own statements (claim_ids, claim_details) differ by dialect: sqlite.sql, postgres.sql.
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- name: claim_mark
UPDATE deliveries SET next_attempt_at = :lease_until, lease_owner = :worker
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: release_delivery
UPDATE deliveries SET next_attempt_at = scheduled_at, lease_owner = NULL
WHERE id = :id AND lease_owner = :worker AND status = 'pending';

-- name: next_due
-- One index seek per priority (the due index leads with it), not a scan of it.
SELECT MIN(due) AS due FROM (
    SELECT MIN(next_attempt_at) AS due FROM deliveries WHERE status = 'pending' AND priority = 0
    UNION ALL
    SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending' AND priority = 1
    UNION ALL
    SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending' AND priority = 2
) AS by_priority;

-- name: endpoint_controls
-- What the claim needs to gate and pace the endpoints of its candidates (:ids, JSON).
SELECT e.id, e.rate_limit, e.paused, e.controls, s.tat, s.throttled_at, s.throttled_rate,
       s.circuit, s.probe_id
FROM endpoints e LEFT JOIN endpoint_state s ON s.endpoint_id = e.id
WHERE e.id IN (SELECT value FROM json_each(:ids));

-- name: in_flight
-- Leased and not expired, across every worker.
SELECT endpoint_id, COUNT(*) AS in_flight FROM deliveries
WHERE lease_owner IS NOT NULL AND endpoint_id IN (SELECT value FROM json_each(:ids))
  AND status = 'pending' AND next_attempt_at > :now
GROUP BY endpoint_id;

-- name: postpone_deliveries
-- :rows is [[id, due], ...]: candidates the pace holds back, each to its own slot.
UPDATE deliveries SET next_attempt_at = CAST(j.value ->> 1 AS DOUBLE PRECISION)
FROM (SELECT value FROM json_rows(:rows)) AS j
WHERE deliveries.id = j.value ->> 0 AND deliveries.status = 'pending';

-- name: park_deliveries
-- Candidates of a paused endpoint, or of one whose circuit is open: they wait.
UPDATE deliveries SET status = 'waiting', lease_owner = NULL, updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'pending';

-- name: fifo_earlier_open
-- Candidates (:ids) with an earlier open delivery of their key: not heads after all.
SELECT d.id, d.endpoint_id, d.order_key FROM deliveries d
WHERE d.id IN (SELECT value FROM json_each(:ids)) AND d.order_key IS NOT NULL
  AND (EXISTS (SELECT 1 FROM deliveries e
               WHERE e.endpoint_id = d.endpoint_id AND e.order_key = d.order_key
                 AND e.status = 'pending' AND e.order_key IS NOT NULL AND e.id < d.id)
       OR EXISTS (SELECT 1 FROM deliveries q
                  WHERE q.endpoint_id = d.endpoint_id AND q.order_key = d.order_key
                    AND q.status = 'queued' AND q.id < d.id));

-- name: fifo_demote
UPDATE deliveries SET status = 'queued', lease_owner = NULL
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'pending';

-- name: circuits_to_probe
-- (A paused endpoint is probed after its resume.)
SELECT s.endpoint_id FROM endpoint_state s JOIN endpoints e ON e.id = s.endpoint_id
WHERE s.circuit = 'open' AND s.probe_at <= :now AND e.paused = 0;

-- name: first_waiting
SELECT id FROM deliveries WHERE endpoint_id = :endpoint_id AND status = 'waiting' ORDER BY id LIMIT 1;

-- name: make_probe
UPDATE deliveries SET status = 'pending', next_attempt_at = :now, updated_at = :now
WHERE id = :id AND status = 'waiting';

-- name: batch_fill_ids
-- More of a batching endpoint's unsent first attempts, to fill a batch being claimed.
SELECT id FROM deliveries
WHERE endpoint_id = :endpoint_id AND created_at >= :since AND status = 'pending' AND attempts = 0
  AND lease_owner IS NULL AND id NOT IN (SELECT value FROM json_each(:exclude))
ORDER BY id LIMIT :limit;
