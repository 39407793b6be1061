-- Named queries shared by every SQL backend. Parameters are written :name;
-- the PostgreSQL backend rewrites them to its own style when it loads this file.

-- name: insert_application
INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
VALUES (:id, :uid, :name, :rate_limit, :metadata, :created_at, :updated_at);

-- name: get_application
-- (The reserved operational-webhooks application is not one of the operator's.)
SELECT id, uid, name, rate_limit, metadata, created_at, updated_at
FROM applications WHERE (id = :key OR uid = :key) AND id <> 'app_0000000000000000operational'
ORDER BY id = :key DESC LIMIT 1;

-- name: update_application
UPDATE applications
SET uid = :uid, name = :name, rate_limit = :rate_limit, metadata = :metadata, updated_at = :updated_at
WHERE id = :id;

-- name: delete_application
DELETE FROM applications WHERE id = :id;

-- Lists are written newest (or last) first; the loader derives "<name>.asc" from each.

-- name: list_applications
SELECT id, uid, name, rate_limit, metadata, created_at, updated_at
FROM applications
WHERE id > :after AND id < :before AND id <> 'app_0000000000000000operational'
ORDER BY id DESC LIMIT :limit;

-- name: insert_event_type
INSERT INTO event_types (name, description, archived, deprecated, schemas, feature_flags, group_name,
                         created_at, updated_at, versioning)
VALUES (:name, :description, :archived, :deprecated, :schemas, :feature_flags, :group_name,
        :created_at, :updated_at, :versioning);

-- name: get_event_type
SELECT name, description, archived, deprecated, schemas, feature_flags, group_name, created_at, updated_at,
       versioning
FROM event_types WHERE name = :name;

-- name: update_event_type
UPDATE event_types
SET description = :description, archived = :archived, deprecated = :deprecated, schemas = :schemas,
    feature_flags = :feature_flags, group_name = :group_name, updated_at = :updated_at,
    versioning = :versioning
WHERE name = :name;

-- name: delete_event_type
DELETE FROM event_types WHERE name = :name;

-- name: list_event_types
SELECT name, description, archived, deprecated, schemas, feature_flags, group_name, created_at, updated_at,
       versioning
FROM event_types
WHERE name > :after AND name < :before AND (archived = 0 OR :include_archived = 1)
ORDER BY name DESC LIMIT :limit;

-- name: insert_endpoint
INSERT INTO endpoints (id, app_id, uid, url, description, version, disabled, filter_types, channels,
                       headers, metadata, rate_limit, retry_schedule, secret, old_secrets,
                       failing_since, created_at, updated_at, controls, paused)
VALUES (:id, :app_id, :uid, :url, :description, :version, :disabled, :filter_types, :channels,
        :headers, :metadata, :rate_limit, :retry_schedule, :secret, :old_secrets,
        :failing_since, :created_at, :updated_at, :controls, :paused);

-- name: get_endpoint
SELECT id, app_id, uid, url, description, version, disabled, filter_types, channels, headers, metadata,
       rate_limit, retry_schedule, secret, old_secrets, failing_since, created_at, updated_at,
       controls, paused
FROM endpoints WHERE app_id = :app_id AND (id = :key OR uid = :key)
ORDER BY id = :key DESC LIMIT 1;

-- name: publish_application
-- The application a publish names (by id or uid), and the version of its routing.
SELECT id, routes_version
FROM applications WHERE (id = :key OR uid = :key) AND id <> 'app_0000000000000000operational'
ORDER BY id = :key DESC LIMIT 1;

-- name: routes_version
SELECT routes_version FROM applications WHERE id = :id;

-- name: route_targets
SELECT e.id, e.disabled, e.filter_types, e.channels, e.paused, e.controls, s.circuit
FROM endpoints e LEFT JOIN endpoint_state s ON s.endpoint_id = e.id
WHERE e.app_id = :app_id;

-- name: update_endpoint
UPDATE endpoints
SET uid = :uid, url = :url, description = :description, version = :version, disabled = :disabled,
    filter_types = :filter_types, channels = :channels, headers = :headers, metadata = :metadata,
    rate_limit = :rate_limit, retry_schedule = :retry_schedule, secret = :secret,
    old_secrets = :old_secrets, failing_since = :failing_since, updated_at = :updated_at,
    controls = :controls, paused = :paused
WHERE id = :id;

-- name: delete_endpoint
DELETE FROM endpoints WHERE id = :id;

-- name: list_endpoints
SELECT id, app_id, uid, url, description, version, disabled, filter_types, channels, headers, metadata,
       rate_limit, retry_schedule, secret, old_secrets, failing_since, created_at, updated_at,
       controls, paused
FROM endpoints WHERE app_id = :app_id AND id > :after AND id < :before ORDER BY id DESC LIMIT :limit;

-- Re-keying (hookline rekey) walks the endpoints by id, a batch at a time.

-- name: endpoint_secrets_after
SELECT id, secret, old_secrets FROM endpoints WHERE id > :after ORDER BY id LIMIT :limit;

-- name: reseal_endpoint_secrets
-- Only if the secrets are still what was read: a rotation that landed meanwhile wins.
UPDATE endpoints SET secret = :new_secret, old_secrets = :new_old_secrets
WHERE id = :id AND secret = :secret AND old_secrets = :old_secrets;

-- name: insert_message
INSERT INTO messages (id, app_id, event_type, event_id, payload, channels, tags, created_at, headers,
                      source_id, priority, expires_at, trace_parent)
VALUES (:id, :app_id, :event_type, :event_id, :payload, :channels, :tags, :created_at, :headers,
        :source_id, :priority, :expires_at, :trace_parent);

-- name: get_message
SELECT id, app_id, event_type, event_id, payload, channels, tags, created_at, priority
FROM messages WHERE app_id = :app_id AND (id = :key OR event_id = :key)
ORDER BY id = :key DESC LIMIT 1;

-- name: list_messages
SELECT id, app_id, event_type, event_id, payload, channels, tags, created_at, priority
FROM messages
WHERE app_id = :app_id AND id < :before AND id > :after
  AND (CAST(:event_types AS TEXT) IS NULL OR event_type IN (SELECT value FROM json_each(:event_types)))
  AND (CAST(:channel AS TEXT) IS NULL
       OR (channels IS NOT NULL AND :channel IN (SELECT value FROM json_each(channels))))
  AND (CAST(:tag AS TEXT) IS NULL
       OR (tags IS NOT NULL AND :tag IN (SELECT value FROM json_each(tags))))
  AND created_at >= :since AND created_at < :until
ORDER BY id DESC LIMIT :limit;

-- name: insert_delivery
INSERT INTO deliveries (id, msg_id, endpoint_id, app_id, status, attempts, next_attempt_at, scheduled_at,
                        lease_owner, manual, created_at, updated_at, priority, order_key)
VALUES (:id, :msg_id, :endpoint_id, :app_id, :status, 0, :next_attempt_at, :next_attempt_at,
        NULL, 0, :created_at, :created_at, :priority, :order_key);

-- name: claim_mark
UPDATE deliveries SET next_attempt_at = :lease_until, lease_owner = :worker
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: release_delivery
UPDATE deliveries SET next_attempt_at = scheduled_at, lease_owner = NULL
WHERE id = :id AND lease_owner = :worker AND status = 'pending';

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

-- name: next_due
-- One index seek per priority (the due index leads with it), not a scan of it.
SELECT MIN(due) FROM (
    SELECT MIN(next_attempt_at) AS due FROM deliveries WHERE status = 'pending' AND priority = 0
    UNION ALL
    SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending' AND priority = 1
    UNION ALL
    SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending' AND priority = 2
) AS by_priority;

-- name: get_delivery
SELECT id, msg_id, endpoint_id, app_id, status, attempts, next_attempt_at, created_at, updated_at
FROM deliveries WHERE msg_id = :msg_id AND endpoint_id = :endpoint_id;

-- name: requeue_delivery
UPDATE deliveries
SET status = 'pending', next_attempt_at = :now, scheduled_at = :now, lease_owner = NULL,
    manual = :manual, updated_at = :now
WHERE id = :id;

-- name: recover_endpoint
UPDATE deliveries
SET status = CASE WHEN order_key IS NULL THEN 'pending' ELSE 'queued' END,
    next_attempt_at = :now, scheduled_at = :now, lease_owner = NULL, manual = 1, updated_at = :now
WHERE endpoint_id = :endpoint_id AND status IN ('failed', 'held')
  AND created_at >= :since AND created_at < :until;

-- name: hold_endpoint_backlog
UPDATE deliveries SET status = 'held', next_attempt_at = NULL, scheduled_at = NULL, updated_at = :now
WHERE endpoint_id = :endpoint_id AND status IN ('pending', 'waiting', 'queued') AND lease_owner IS NULL;

-- name: endpoint_stats
SELECT
  SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END),
  SUM(CASE WHEN status IN ('pending', 'waiting', 'queued') AND lease_owner IS NULL THEN 1 ELSE 0 END),
  SUM(CASE WHEN status = 'pending' AND lease_owner IS NOT NULL THEN 1 ELSE 0 END),
  SUM(CASE WHEN status IN ('failed', 'held') THEN 1 ELSE 0 END)
FROM deliveries
WHERE endpoint_id = :endpoint_id AND created_at >= :since AND created_at < :until;

-- name: get_attempt
SELECT id, delivery_id, msg_id, endpoint_id, app_id, url, status, response_status_code, response,
       response_headers, duration_ms, error_class, trigger_type, created_at, request_headers,
       request_body
FROM attempts WHERE app_id = :app_id AND msg_id = :msg_id AND id = :id;

-- name: list_attempts
SELECT a.id, a.delivery_id, a.msg_id, a.endpoint_id, a.app_id, a.url, a.status, a.response_status_code,
       a.response, a.response_headers, a.duration_ms, a.error_class, a.trigger_type, a.created_at,
       a.request_headers, a.request_body
FROM attempts a
JOIN messages m ON m.id = a.msg_id
WHERE a.app_id = :app_id
  AND (CAST(:event_types AS TEXT) IS NULL OR m.event_type IN (SELECT value FROM json_each(:event_types)))
  AND (CAST(:channel AS TEXT) IS NULL
       OR (m.channels IS NOT NULL AND :channel IN (SELECT value FROM json_each(m.channels))))
  AND (CAST(:tag AS TEXT) IS NULL
       OR (m.tags IS NOT NULL AND :tag IN (SELECT value FROM json_each(m.tags))))
  AND (CAST(:msg_id AS TEXT) IS NULL OR a.msg_id = :msg_id)
  AND (CAST(:endpoint_id AS TEXT) IS NULL OR a.endpoint_id = :endpoint_id)
  AND a.id < :before AND a.id > :after
  AND (CAST(:status AS INTEGER) IS NULL OR a.status = :status)
  AND (CAST(:code_low AS INTEGER) IS NULL
       OR (a.response_status_code >= :code_low AND a.response_status_code < :code_high))
  AND a.created_at >= :since AND a.created_at < :until
ORDER BY a.id DESC LIMIT :limit;

-- name: list_endpoint_messages
SELECT m.id, m.app_id, m.event_type, m.event_id, m.payload, m.channels, m.tags, m.created_at,
       m.priority, d.status, d.lease_owner, d.next_attempt_at
FROM deliveries d
JOIN messages m ON m.id = d.msg_id
WHERE d.endpoint_id = :endpoint_id AND d.msg_id > :after AND d.msg_id < :before
  AND (CAST(:status AS INTEGER) IS NULL OR :status = CASE
        WHEN d.status = 'success' THEN 0
        WHEN d.status IN ('pending', 'waiting', 'queued') AND d.lease_owner IS NULL THEN 1
        WHEN d.status = 'pending' THEN 3
        ELSE 2 END)
  AND m.created_at >= :since AND m.created_at < :until
ORDER BY d.msg_id DESC LIMIT :limit;

-- name: get_idempotency
SELECT fingerprint, status_code, body, created_at FROM idempotency_keys WHERE key = :key;

-- name: put_idempotency
-- Completes a pending claim (status_code 0); a finished answer is never overwritten.
INSERT INTO idempotency_keys (key, fingerprint, status_code, body, created_at)
VALUES (:key, :fingerprint, :status_code, :body, :created_at)
ON CONFLICT (key) DO UPDATE
SET fingerprint = excluded.fingerprint, status_code = excluded.status_code, body = excluded.body,
    created_at = excluded.created_at
WHERE idempotency_keys.status_code = 0;

-- name: claim_idempotency
INSERT INTO idempotency_keys (key, fingerprint, status_code, body, created_at)
VALUES (:key, :fingerprint, 0, :body, :created_at)
ON CONFLICT (key) DO NOTHING;

-- name: delete_idempotency
DELETE FROM idempotency_keys WHERE key = :key;

-- name: release_idempotency
DELETE FROM idempotency_keys WHERE key = :key AND status_code = 0;

-- name: expire_idempotency
DELETE FROM idempotency_keys WHERE created_at < :before;

-- name: delete_app_attempts
DELETE FROM attempts WHERE app_id = :id;

-- name: delete_app_deliveries
DELETE FROM deliveries WHERE app_id = :id;

-- name: delete_app_messages
DELETE FROM messages WHERE app_id = :id;

-- name: delete_app_endpoint_states
DELETE FROM endpoint_state WHERE endpoint_id IN (SELECT id FROM endpoints WHERE app_id = :id);

-- name: delete_app_endpoints
DELETE FROM endpoints WHERE app_id = :id;

-- name: delete_endpoint_attempts
DELETE FROM attempts WHERE endpoint_id = :id;

-- name: delete_endpoint_deliveries
DELETE FROM deliveries WHERE endpoint_id = :id;

-- name: delete_endpoint_state
DELETE FROM endpoint_state WHERE endpoint_id = :id;

-- name: insert_task
INSERT INTO background_tasks (id, app_id, task, status, data, created_at, updated_at, params)
VALUES (:id, :app_id, :task, :status, :data, :created_at, :updated_at, :params);

-- name: get_task
SELECT id, app_id, task, status, data, created_at, updated_at FROM background_tasks WHERE id = :id;

-- name: list_tasks
SELECT id, app_id, task, status, data, created_at, updated_at
FROM background_tasks
WHERE id > :after AND id < :before
  AND (CAST(:app_id AS TEXT) IS NULL OR app_id = :app_id)
  AND (CAST(:status AS TEXT) IS NULL OR status = :status)
  AND (CAST(:task AS TEXT) IS NULL OR task = :task)
ORDER BY id DESC LIMIT :limit;

-- name: insert_token
INSERT INTO api_tokens (id, name, token_hash, prefix, app_id, read_only, session_id, created_by,
                        created_at, expires_at, revoked_at)
VALUES (:id, :name, :token_hash, :prefix, :app_id, :read_only, :session_id, :created_by,
        :created_at, :expires_at, :revoked_at);

-- name: insert_token_if_absent
INSERT INTO api_tokens (id, name, token_hash, prefix, app_id, read_only, session_id, created_by,
                        created_at, expires_at, revoked_at)
VALUES (:id, :name, :token_hash, :prefix, :app_id, :read_only, :session_id, :created_by,
        :created_at, :expires_at, :revoked_at)
ON CONFLICT (id) DO NOTHING;

-- name: get_token_by_hash
SELECT id, name, token_hash, prefix, app_id, read_only, session_id, created_by, created_at,
       expires_at, revoked_at
FROM api_tokens WHERE token_hash = :token_hash;

-- name: get_token
SELECT id, name, token_hash, prefix, app_id, read_only, session_id, created_by, created_at,
       expires_at, revoked_at
FROM api_tokens WHERE id = :id;

-- name: list_tokens
SELECT id, name, token_hash, prefix, app_id, read_only, session_id, created_by, created_at,
       expires_at, revoked_at
FROM api_tokens
WHERE id > :after AND id < :before AND (CAST(:app_id AS TEXT) IS NULL OR app_id = :app_id)
ORDER BY id DESC LIMIT :limit;

-- name: revoke_token
UPDATE api_tokens SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL;

-- name: expire_app_tokens
-- Svix's "expire all": the application's tokens (of the named sessions, if any) stop
-- working at :at; tokens that already end sooner keep their own end.
UPDATE api_tokens SET expires_at = :at
WHERE app_id = :app_id AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > :at)
  AND (CAST(:sessions AS TEXT) IS NULL OR session_id IN (SELECT value FROM json_each(:sessions)));

-- name: delete_app_tokens
DELETE FROM api_tokens WHERE app_id = :id;

-- name: insert_audit
INSERT INTO audit_log (id, app_id, actor, action, resource_type, resource_id, before_state,
                       after_state, created_at)
VALUES (:id, :app_id, :actor, :action, :resource_type, :resource_id, :before_state, :after_state,
        :created_at);

-- name: list_audit
SELECT id, app_id, actor, action, resource_type, resource_id, before_state, after_state, created_at
FROM audit_log
WHERE id > :after AND id < :before AND (CAST(:app_id AS TEXT) IS NULL OR app_id = :app_id)
ORDER BY id DESC LIMIT :limit;

-- name: insert_source
INSERT INTO sources (id, app_id, uid, name, token_hash, token, verifier, config, secrets, dedup_window,
                     forward_headers, created_at, updated_at)
VALUES (:id, :app_id, :uid, :name, :token_hash, :token, :verifier, :config, :secrets, :dedup_window,
        :forward_headers, :created_at, :updated_at);

-- name: get_source
SELECT id, app_id, uid, name, token, verifier, config, secrets, dedup_window, forward_headers,
       created_at, updated_at
FROM sources WHERE app_id = :app_id AND (id = :key OR uid = :key)
ORDER BY id = :key DESC LIMIT 1;

-- name: get_source_by_token
SELECT id, app_id, uid, name, token, verifier, config, secrets, dedup_window, forward_headers,
       created_at, updated_at
FROM sources WHERE token_hash = :token_hash;

-- name: list_sources
SELECT id, app_id, uid, name, token, verifier, config, secrets, dedup_window, forward_headers,
       created_at, updated_at
FROM sources WHERE app_id = :app_id AND id > :after AND id < :before ORDER BY id DESC LIMIT :limit;

-- name: update_source
UPDATE sources
SET uid = :uid, name = :name, token_hash = :token_hash, token = :token, verifier = :verifier,
    config = :config, secrets = :secrets, dedup_window = :dedup_window,
    forward_headers = :forward_headers, updated_at = :updated_at
WHERE id = :id;

-- name: delete_source
DELETE FROM sources WHERE id = :id;

-- name: delete_app_source_data
-- What an application's sources left behind: their counts, dedup keys and checkpoints.
DELETE FROM source_stats WHERE source_id IN (SELECT id FROM sources WHERE app_id = :id);

-- name: delete_app_dedup_keys
DELETE FROM inbound_dedup WHERE source_id IN (SELECT id FROM sources WHERE app_id = :id);

-- name: delete_app_checkpoints
DELETE FROM backfill_checkpoints WHERE source_id IN (SELECT id FROM sources WHERE app_id = :id);

-- name: delete_app_tasks
DELETE FROM background_tasks WHERE app_id = :id;

-- name: delete_app_sources
DELETE FROM sources WHERE app_id = :id;

-- name: claim_dedup_key
-- First sight of a provider's event id within the window: a row is inserted (or an
-- expired one taken over) and the count is 1. A repeat inside the window changes
-- nothing and counts 0. The primary key serialises concurrent copies.
INSERT INTO inbound_dedup (source_id, dedup_key, msg_id, expires_at)
VALUES (:source_id, :dedup_key, :msg_id, :expires_at)
ON CONFLICT (source_id, dedup_key) DO UPDATE
SET msg_id = excluded.msg_id, expires_at = excluded.expires_at
WHERE inbound_dedup.expires_at <= :now;

-- name: get_dedup_msg
SELECT msg_id FROM inbound_dedup WHERE source_id = :source_id AND dedup_key = :dedup_key;

-- name: expire_dedup_keys
DELETE FROM inbound_dedup WHERE expires_at <= :before;

-- name: get_checkpoint
SELECT position, done_count, finished FROM backfill_checkpoints
WHERE source_id = :source_id AND run_key = :run_key;

-- name: save_checkpoint
INSERT INTO backfill_checkpoints (source_id, run_key, position, done_count, finished, updated_at)
VALUES (:source_id, :run_key, :position, :done_count, :finished, :updated_at)
ON CONFLICT (source_id, run_key) DO UPDATE
SET position = excluded.position, done_count = excluded.done_count, finished = excluded.finished,
    updated_at = excluded.updated_at;

-- name: source_secrets_after
SELECT id, token, secrets FROM sources WHERE id > :after ORDER BY id LIMIT :limit;

-- name: reseal_source_secrets
-- Only if the sealed values are still what was read: a change that landed meanwhile wins.
UPDATE sources SET token = :new_token, secrets = :new_secrets
WHERE id = :id AND token = :token AND secrets = :secrets;

-- name: queue_stats
-- Pending rows only (the partial index's rows): due now, scheduled later, leased.
SELECT
    COALESCE(SUM(CASE WHEN next_attempt_at <= :now THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN next_attempt_at > :now AND lease_owner IS NULL THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN next_attempt_at > :now AND lease_owner IS NOT NULL THEN 1 ELSE 0 END), 0),
    MIN(CASE WHEN next_attempt_at <= :now THEN scheduled_at END),
    (SELECT COUNT(*) FROM endpoints WHERE disabled = 1),
    (SELECT COUNT(*) FROM endpoints WHERE paused = 1),
    (SELECT COUNT(*) FROM endpoint_state WHERE circuit = 'open'),
    (SELECT COUNT(*) FROM endpoint_state WHERE circuit = 'half_open'),
    (SELECT COUNT(*) FROM deliveries w WHERE w.status = 'waiting'),
    (SELECT COUNT(*) FROM deliveries q WHERE q.status = 'queued')
FROM deliveries WHERE status = 'pending';

-- Routing and delivery controls ------------------------------------------------

-- name: endpoint_controls
-- What the claim needs to gate and pace the endpoints of its candidates (:ids, JSON).
SELECT e.id, e.rate_limit, e.paused, e.controls, s.tat, s.throttled_at, s.throttled_rate,
       s.circuit, s.probe_id
FROM endpoints e LEFT JOIN endpoint_state s ON s.endpoint_id = e.id
WHERE e.id IN (SELECT value FROM json_each(:ids));

-- name: ensure_endpoint_state
-- (WHERE true: SQLite needs it to parse an upsert whose rows come from a SELECT.)
INSERT INTO endpoint_state (endpoint_id) SELECT value FROM json_each(:ids) WHERE true
ON CONFLICT (endpoint_id) DO NOTHING;

-- name: in_flight
-- Leased and not expired, across every worker.
SELECT endpoint_id, COUNT(*) FROM deliveries
WHERE lease_owner IS NOT NULL AND endpoint_id IN (SELECT value FROM json_each(:ids))
  AND status = 'pending' AND next_attempt_at > :now
GROUP BY endpoint_id;

-- name: recent_attempts
-- Attempts at an endpoint since :since (an attempt id floor), whichever worker made them:
-- the rate the endpoint was sent at, when a 429 asks for less.
SELECT COUNT(*) FROM attempts WHERE endpoint_id = :endpoint_id AND id >= :since;

-- name: save_pace
UPDATE endpoint_state SET tat = :tat, throttled_at = :throttled_at, throttled_rate = :throttled_rate
WHERE endpoint_id = :endpoint_id;

-- name: postpone_deliveries
-- :rows is [[id, due], ...]: candidates the pace holds back, each to its own slot.
UPDATE deliveries SET next_attempt_at = CAST(j.value ->> 1 AS DOUBLE PRECISION)
FROM (SELECT value FROM json_rows(:rows)) AS j
WHERE deliveries.id = j.value ->> 0 AND deliveries.status = 'pending';

-- name: park_deliveries
-- Candidates of a paused endpoint, or of one whose circuit is open: they wait.
UPDATE deliveries SET status = 'waiting', lease_owner = NULL, updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'pending';

-- name: park_endpoint
UPDATE deliveries SET status = 'waiting', updated_at = :now
WHERE endpoint_id = :endpoint_id AND status = 'pending' AND lease_owner IS NULL;

-- name: park_gated
-- Retries recorded for an endpoint that is paused or open by now: they wait with the rest.
UPDATE deliveries SET status = 'waiting'
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'pending'
  AND (EXISTS (SELECT 1 FROM endpoints e WHERE e.id = deliveries.endpoint_id AND e.paused = 1)
       OR EXISTS (SELECT 1 FROM endpoint_state s
                  WHERE s.endpoint_id = deliveries.endpoint_id AND s.circuit <> 'closed'));

-- name: unpark_endpoint
-- Resume or a closed circuit: waiting work goes out again, FIFO work back to its queue.
UPDATE deliveries
SET status = CASE WHEN order_key IS NULL THEN 'pending' ELSE 'queued' END, updated_at = :now
WHERE endpoint_id = :endpoint_id AND status = 'waiting';

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

-- name: order_keys_of
SELECT id, endpoint_id, order_key FROM deliveries
WHERE id IN (SELECT value FROM json_each(:ids)) AND order_key IS NOT NULL;

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

-- name: throttle_endpoint
UPDATE endpoint_state SET tat = :tat, throttled_at = :throttled_at, throttled_rate = :throttled_rate
WHERE endpoint_id = :endpoint_id;

-- name: circuits_to_probe
-- (A paused endpoint is probed after its resume.)
SELECT s.endpoint_id FROM endpoint_state s JOIN endpoints e ON e.id = s.endpoint_id
WHERE s.circuit = 'open' AND s.probe_at <= :now AND e.paused = 0;

-- name: first_waiting
SELECT id FROM deliveries WHERE endpoint_id = :endpoint_id AND status = 'waiting' ORDER BY id LIMIT 1;

-- name: make_probe
UPDATE deliveries SET status = 'pending', next_attempt_at = :now, updated_at = :now
WHERE id = :id AND status = 'waiting';

-- name: endpoint_state
SELECT s.tat, s.throttled_at, s.throttled_rate, s.circuit, s.circuit_since, s.probe_at, s.probe_id,
       s.cooldown, s.window_start, s.window_total, s.window_failed,
       (SELECT COUNT(*) FROM deliveries w WHERE w.endpoint_id = :endpoint_id AND w.status = 'waiting'),
       (SELECT COUNT(*) FROM deliveries q WHERE q.endpoint_id = :endpoint_id AND q.status = 'queued'),
       (SELECT COUNT(*) FROM deliveries f WHERE f.endpoint_id = :endpoint_id
          AND f.lease_owner IS NOT NULL AND f.status = 'pending' AND f.next_attempt_at > :now)
FROM (SELECT CAST(:endpoint_id AS TEXT) AS endpoint_id) AS one
LEFT JOIN endpoint_state s ON s.endpoint_id = one.endpoint_id;

-- name: batch_ready
-- Unsent first attempts of a batching endpoint, made within its wait (:since): its batch so far.
SELECT COUNT(*) FROM deliveries
WHERE endpoint_id = :endpoint_id AND created_at >= :since AND status = 'pending' AND attempts = 0
  AND lease_owner IS NULL;

-- name: batch_flush
UPDATE deliveries SET next_attempt_at = :now, scheduled_at = :now
WHERE endpoint_id = :endpoint_id AND created_at >= :since AND status = 'pending' AND attempts = 0
  AND lease_owner IS NULL AND next_attempt_at > :now;

-- name: batch_fill_ids
-- More of a batching endpoint's unsent first attempts, to fill a batch being claimed.
SELECT id FROM deliveries
WHERE endpoint_id = :endpoint_id AND created_at >= :since AND status = 'pending' AND attempts = 0
  AND lease_owner IS NULL AND id NOT IN (SELECT value FROM json_each(:exclude))
ORDER BY id LIMIT :limit;

-- name: set_paused
UPDATE endpoints SET paused = :paused, updated_at = :now WHERE id = :id;

-- Operational webhooks --------------------------------------------------------

-- name: has_operational_endpoints
SELECT 1 FROM endpoints WHERE app_id = 'app_0000000000000000operational' LIMIT 1;

-- name: operational_context
-- What attempt events name beside the ids: the application's uid and the message's eventId.
SELECT m.id, a.uid, m.event_id FROM messages m JOIN applications a ON a.id = m.app_id
WHERE m.id IN (SELECT value FROM json_each(:ids));

-- name: endpoint_uids
SELECT e.id, e.uid, a.uid, e.failing_since FROM endpoints e JOIN applications a ON a.id = e.app_id
WHERE e.id IN (SELECT value FROM json_each(:ids));

-- Dashboard figures -------------------------------------------------------------

-- name: count_source_traffic
-- :rows is [[source id, received, duplicates, rejected, at], ...].
INSERT INTO source_stats (source_id, received, duplicates, rejected, last_received_at)
SELECT value ->> 0, CAST(value ->> 1 AS INTEGER), CAST(value ->> 2 AS INTEGER),
       CAST(value ->> 3 AS INTEGER), CAST(value ->> 4 AS DOUBLE PRECISION)
FROM json_rows(:rows) WHERE true
ON CONFLICT (source_id) DO UPDATE
SET received = source_stats.received + excluded.received,
    duplicates = source_stats.duplicates + excluded.duplicates,
    rejected = source_stats.rejected + excluded.rejected,
    last_received_at = COALESCE(excluded.last_received_at, source_stats.last_received_at);

-- name: source_stats
SELECT source_id, received, duplicates, rejected, last_received_at FROM source_stats
WHERE source_id IN (SELECT value FROM json_each(:ids));

-- name: attempt_points
-- Attempts made in [:low, :high) by id (ids sort by time), at most :limit of them.
SELECT created_at, status, duration_ms FROM attempts
WHERE id >= :low AND id < :high AND (CAST(:app_id AS TEXT) IS NULL OR app_id = :app_id)
ORDER BY id LIMIT :limit;

-- Background jobs -----------------------------------------------------------------

-- name: claim_task
-- The oldest running job nobody holds (or whose holder's lease ran out).
UPDATE background_tasks SET lease_owner = :owner, lease_until = :lease_until
WHERE id = (SELECT id FROM background_tasks
            WHERE status = 'running' AND (lease_until IS NULL OR lease_until < :now)
            ORDER BY id LIMIT 1)
  AND status = 'running' AND (lease_until IS NULL OR lease_until < :now)
RETURNING id;

-- name: get_task_job
SELECT id, app_id, task, status, data, created_at, updated_at, params, lease_owner
FROM background_tasks WHERE id = :id;

-- name: save_task_progress
-- Only while this runner holds the job, and only if nobody cancelled it meanwhile.
UPDATE background_tasks
SET status = :status, data = :data, params = :params, updated_at = :now, lease_until = :lease_until,
    lease_owner = CASE WHEN :status = 'running' THEN lease_owner ELSE NULL END
WHERE id = :id AND lease_owner = :owner AND status = 'running';

-- name: cancel_task
UPDATE background_tasks
SET status = 'failed', data = :data, updated_at = :now, lease_owner = NULL, lease_until = NULL
WHERE id = :id AND status = 'running';

-- name: resend_candidates
-- An endpoint's deliveries in [:since, :until) of the statuses asked, after where the
-- job got to, with their message's filters (expired payloads cannot be re-sent).
SELECT d.id, d.created_at FROM deliveries d JOIN messages m ON m.id = d.msg_id
WHERE d.endpoint_id = :endpoint_id AND d.status IN (SELECT value FROM json_each(:statuses))
  AND d.created_at >= :since AND d.created_at < :until
  AND (d.created_at > :after_at OR (d.created_at = :after_at AND d.id > :after_id))
  AND m.expunged = 0
  AND (CAST(:event_types AS TEXT) IS NULL OR m.event_type IN (SELECT value FROM json_each(:event_types)))
  AND (CAST(:channel AS TEXT) IS NULL
       OR (m.channels IS NOT NULL AND :channel IN (SELECT value FROM json_each(m.channels))))
ORDER BY d.created_at, d.id LIMIT :limit;

-- name: resend_many
UPDATE deliveries
SET status = CASE WHEN order_key IS NULL THEN 'pending' ELSE 'queued' END,
    next_attempt_at = :now, scheduled_at = :now, lease_owner = NULL, manual = 1, updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND status IN (SELECT value FROM json_each(:statuses));

-- name: replay_candidates
-- An application's messages made in [:low, :high) (by id), after where the job got to.
SELECT id, app_id, event_type, event_id, payload, channels, tags, created_at, priority, headers
FROM messages
WHERE app_id = :app_id AND id >= :low AND id < :high AND id > :after_id AND expunged = 0
  AND (CAST(:event_types AS TEXT) IS NULL OR event_type IN (SELECT value FROM json_each(:event_types)))
ORDER BY id LIMIT :limit;

-- name: insert_delivery_if_absent
INSERT INTO deliveries (id, msg_id, endpoint_id, app_id, status, attempts, next_attempt_at, scheduled_at,
                        lease_owner, manual, created_at, updated_at, priority, order_key)
VALUES (:id, :msg_id, :endpoint_id, :app_id, :status, 0, :next_attempt_at, :next_attempt_at,
        NULL, 1, :created_at, :created_at, :priority, :order_key)
ON CONFLICT (msg_id, endpoint_id) DO NOTHING;

-- Retention ---------------------------------------------------------------------------

-- name: expired_messages
-- Payloads past their retention, of messages with nothing left to send.
SELECT id FROM messages m
WHERE expires_at IS NOT NULL AND expires_at <= :now
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id
                  AND d.status IN ('pending', 'waiting', 'queued'))
ORDER BY expires_at LIMIT :limit;

-- name: expunge_messages
UPDATE messages SET payload = :empty, headers = NULL, expunged = 1, expires_at = NULL
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: expunge_attempt_bodies
-- A reshaped body sent is the payload in another shape: it goes with the payload.
UPDATE attempts SET request_body = NULL
WHERE msg_id IN (SELECT value FROM json_each(:ids)) AND request_body IS NOT NULL;

-- name: expunge_message
UPDATE messages SET payload = :empty, headers = NULL, expunged = 1, expires_at = NULL
WHERE id = :id;

-- name: message_expunged
SELECT expunged FROM messages WHERE id = :id;

-- name: old_attempt_ids
SELECT id FROM attempts WHERE id < :before ORDER BY id LIMIT :limit;

-- name: delete_attempts
DELETE FROM attempts WHERE id IN (SELECT value FROM json_each(:ids));

-- Web sessions ----------------------------------------------------------------------

-- name: insert_web_session
INSERT INTO web_sessions (id_hash, kind, token, csrf, expires_at)
VALUES (:id_hash, :kind, :token, :csrf, :expires_at);

-- name: get_web_session
SELECT kind, token, csrf, expires_at FROM web_sessions WHERE id_hash = :id_hash;

-- name: touch_web_session
UPDATE web_sessions SET expires_at = :expires_at WHERE id_hash = :id_hash;

-- name: delete_web_session
DELETE FROM web_sessions WHERE id_hash = :id_hash;

-- name: expire_web_sessions
DELETE FROM web_sessions WHERE expires_at < :now;
