-- Fan-out: messages, their deliveries, routing, FIFO heads, batches (sql/fanout.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- name: route_targets
-- A poller reads the stored messages: it gets no deliveries of its own.
SELECT e.id, e.disabled, e.filter_types, e.channels, e.paused, e.controls, s.circuit
FROM endpoints e LEFT JOIN endpoint_state s ON s.endpoint_id = e.id
WHERE e.app_id = :app_id
  AND (e.destination_kind IS NULL OR e.destination_kind <> 'pollingEndpoint');

-- name: insert_message
INSERT INTO messages (id, app_id, event_type, event_id, payload, channels, tags, created_at, headers,
                      source_id, priority, expires_at, trace_parent)
VALUES (:id, :app_id, :event_type, :event_id, :payload, :channels, :tags, :created_at, :headers,
        :source_id, :priority, :expires_at, :trace_parent);

-- name: insert_delivery
INSERT INTO deliveries (id, msg_id, endpoint_id, app_id, status, attempts, next_attempt_at, scheduled_at,
                        lease_owner, manual, created_at, updated_at, priority, order_key)
VALUES (:id, :msg_id, :endpoint_id, :app_id, :status, 0, :next_attempt_at, :next_attempt_at,
        NULL, 0, :created_at, :created_at, :priority, :order_key);

-- name: fifo_keys_of_endpoint
SELECT DISTINCT order_key FROM deliveries WHERE endpoint_id = :endpoint_id AND status = 'queued';

-- name: fifo_promote
-- The earliest queued delivery of one ordering key becomes due, unless one is pending.
UPDATE deliveries SET status = 'pending', updated_at = :now
WHERE id = (SELECT id FROM deliveries
            WHERE endpoint_id = :endpoint_id AND order_key = :order_key AND status = 'queued'
            ORDER BY id LIMIT 1)
  AND NOT EXISTS (SELECT 1 FROM deliveries
                  WHERE endpoint_id = :endpoint_id AND order_key = :order_key
                    AND status = 'pending' AND order_key IS NOT NULL);

-- name: batch_ready
-- Unsent first attempts of a batching endpoint, made within its wait (:since): its batch so far.
SELECT COUNT(*) AS waiting FROM deliveries
WHERE endpoint_id = :endpoint_id AND created_at >= :since AND status = 'pending' AND attempts = 0
  AND lease_owner IS NULL;

-- name: batch_flush
UPDATE deliveries SET next_attempt_at = :now, scheduled_at = :now
WHERE endpoint_id = :endpoint_id AND created_at >= :since AND status = 'pending' AND attempts = 0
  AND lease_owner IS NULL AND next_attempt_at > :now;

-- name: has_operational_endpoints
SELECT 1 FROM endpoints WHERE app_id = 'app_0000000000000000operational' LIMIT 1;
