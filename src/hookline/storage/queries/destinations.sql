-- Destinations: pollers' reads of the message log and their consumers' positions
-- (sql/destinations.py). Parameters are written :name; the PostgreSQL backend rewrites
-- them to its own style when it loads this file. Rows are read by column name.

-- name: poll_messages
-- One window of an application's messages after an iterator, on the (app_id, id)
-- index; :before keeps out ids too young to be sure every earlier one has committed.
SELECT id, app_id, event_type, event_id, payload, channels, tags, created_at, priority, headers
FROM messages WHERE app_id = :app_id AND id > :after AND id < :before ORDER BY id LIMIT :limit;

-- name: consumer_position
SELECT position FROM poller_consumers WHERE endpoint_id = :endpoint_id AND consumer_id = :consumer_id;

-- name: set_consumer_position
INSERT INTO poller_consumers (endpoint_id, consumer_id, position, updated_at)
VALUES (:endpoint_id, :consumer_id, :position, :now)
ON CONFLICT (endpoint_id, consumer_id)
DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at;

-- name: delete_endpoint_consumers
DELETE FROM poller_consumers WHERE endpoint_id = :id;

-- name: delete_app_poller_consumers
DELETE FROM poller_consumers WHERE endpoint_id IN (SELECT id FROM endpoints WHERE app_id = :id);

-- name: destination_recent_attempts
-- A destination's latest attempts, newest first, on the (endpoint_id, id) index: its
-- failure reason is read from these, so a long history costs nothing.
SELECT status, response, response_status_code, error_class
FROM attempts WHERE endpoint_id = :endpoint_id ORDER BY id DESC LIMIT :limit;

-- name: next_retry
-- The earliest retry due among a destination's failed, not leased deliveries, on the
-- partial index deliveries_retrying (migration 12).
SELECT MIN(next_attempt_at) AS next_retry_at FROM deliveries
WHERE endpoint_id = :endpoint_id AND status = 'pending' AND attempts > 0
  AND lease_owner IS NULL;
