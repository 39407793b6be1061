-- Resend and background jobs (sql/jobs.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- name: requeue_delivery
UPDATE deliveries
SET status = 'pending', next_attempt_at = :now, scheduled_at = :now, lease_owner = NULL,
    manual = :manual, updated_at = :now
WHERE id = :id;

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

-- name: message_expunged
SELECT expunged FROM messages WHERE id = :id;
