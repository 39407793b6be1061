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
