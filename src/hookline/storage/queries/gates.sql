-- Endpoint state: circuits, paces, parking (sql/gates.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- name: ensure_endpoint_state
-- (WHERE true: SQLite needs it to parse an upsert whose rows come from a SELECT.)
INSERT INTO endpoint_state (endpoint_id) SELECT value FROM json_each(:ids) WHERE true
ON CONFLICT (endpoint_id) DO NOTHING;

-- name: save_pace
UPDATE endpoint_state SET tat = :tat, throttled_at = :throttled_at, throttled_rate = :throttled_rate
WHERE endpoint_id = :endpoint_id;

-- name: park_endpoint
UPDATE deliveries SET status = 'waiting', updated_at = :now
WHERE endpoint_id = :endpoint_id AND status = 'pending' AND lease_owner IS NULL;

-- name: unpark_endpoint
-- Resume or a closed circuit: waiting work goes out again, FIFO work back to its queue.
UPDATE deliveries
SET status = CASE WHEN order_key IS NULL THEN 'pending' ELSE 'queued' END, updated_at = :now
WHERE endpoint_id = :endpoint_id AND status = 'waiting';

-- name: get_circuits
SELECT endpoint_id, circuit, circuit_since, probe_at, probe_id, cooldown, window_start,
       window_total, window_failed
FROM endpoint_state WHERE endpoint_id IN (SELECT value FROM json_each(:ids));

-- name: save_circuit
UPDATE endpoint_state
SET circuit = :circuit, circuit_since = :since, probe_at = :probe_at, probe_id = :probe_id,
    cooldown = :cooldown, window_start = :window_start, window_total = :window_total,
    window_failed = :window_failed
WHERE endpoint_id = :endpoint_id;
