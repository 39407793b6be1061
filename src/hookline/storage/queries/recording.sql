-- The record path: what follows an attempt (sql/recording.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- Outcomes are written a batch per statement: :rows is a JSON array of arrays. One
-- statement, not one per row, because Python's sqlite3 gives up and re-takes the GIL
-- for every row it steps, and each re-take waits behind the busy event loop.

-- name: finish_deliveries
UPDATE deliveries
SET status = j.value ->> 1, attempts = attempts + CAST(j.value ->> 2 AS INTEGER),
    next_attempt_at = CAST(j.value ->> 3 AS DOUBLE PRECISION),
    scheduled_at = CAST(j.value ->> 3 AS DOUBLE PRECISION),
    lease_owner = NULL, manual = 0, updated_at = :now
FROM (SELECT value FROM json_rows(:rows)) AS j
WHERE deliveries.id = j.value ->> 0 AND deliveries.lease_owner = :worker;

-- name: insert_attempts
INSERT INTO attempts (id, delivery_id, msg_id, endpoint_id, app_id, url, status, response_status_code,
                      response, response_headers, duration_ms, error_class, trigger_type, created_at,
                      request_headers, request_body)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
       CAST(value ->> 6 AS INTEGER), CAST(value ->> 7 AS INTEGER), value ->> 8, value ->> 9,
       CAST(value ->> 10 AS INTEGER), value ->> 11, CAST(value ->> 12 AS INTEGER),
       CAST(value ->> 13 AS DOUBLE PRECISION), value ->> 14, value ->> 15
FROM json_rows(:rows);

-- name: endpoint_succeeded
-- :ids is a JSON array: one statement for a batch's endpoints (a row each would step,
-- and on SQLite hand the GIL back and forth, once per endpoint).
UPDATE endpoints SET failing_since = NULL
WHERE id IN (SELECT value FROM json_each(:ids)) AND failing_since IS NOT NULL;

-- name: endpoint_failed
UPDATE endpoints SET failing_since = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND failing_since IS NULL;

-- name: endpoint_disable
UPDATE endpoints SET disabled = 1, updated_at = :now WHERE id = :id AND disabled = 0;

-- name: recent_attempts
-- Attempts at an endpoint since :since (an attempt id floor), whichever worker made them:
-- the rate the endpoint was sent at, when a 429 asks for less.
SELECT COUNT(*) AS attempts FROM attempts WHERE endpoint_id = :endpoint_id AND id >= :since;

-- name: park_gated
-- Retries recorded for an endpoint that is paused or open by now: they wait with the rest.
UPDATE deliveries SET status = 'waiting'
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'pending'
  AND (EXISTS (SELECT 1 FROM endpoints e WHERE e.id = deliveries.endpoint_id AND e.paused = 1)
       OR EXISTS (SELECT 1 FROM endpoint_state s
                  WHERE s.endpoint_id = deliveries.endpoint_id AND s.circuit <> 'closed'));

-- name: operational_context
-- What attempt events name beside the ids: the application's uid and the message's eventId.
SELECT m.id AS msg_id, a.uid AS app_uid, m.event_id FROM messages m JOIN applications a ON a.id = m.app_id
WHERE m.id IN (SELECT value FROM json_each(:ids));

-- name: endpoint_uids
SELECT e.id, e.uid, a.uid AS app_uid, e.failing_since FROM endpoints e JOIN applications a ON a.id = e.app_id
WHERE e.id IN (SELECT value FROM json_each(:ids));
