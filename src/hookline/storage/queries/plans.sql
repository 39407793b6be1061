-- Plans, applications' plans and the usage counters of their quotas (sql/plans.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- name: upsert_plan
INSERT INTO plans (name, limits, created_at, updated_at) VALUES (:name, :limits, :now, :now)
ON CONFLICT (name) DO UPDATE SET limits = excluded.limits, updated_at = excluded.updated_at;

-- name: get_plan
SELECT name, limits, created_at, updated_at FROM plans WHERE name = :name;

-- name: all_plans
SELECT name, limits, created_at, updated_at FROM plans ORDER BY name LIMIT 1000;

-- name: plan_in_use
SELECT id FROM applications WHERE plan = :name LIMIT 1;

-- name: delete_plan
DELETE FROM plans WHERE name = :name;

-- name: set_application_plan
UPDATE applications SET plan = :plan, plan_overrides = :overrides, updated_at = :now WHERE id = :id;

-- name: application_plan
SELECT a.plan, a.plan_overrides, p.limits AS plan_limits
FROM applications a LEFT JOIN plans p ON p.name = a.plan WHERE a.id = :id;

-- name: usage_add
-- One more (or, to give back a refused message, one less) message in a period; the
-- row's new count. PostgreSQL locks the row until the publish commits: exact counts.
INSERT INTO usage_counters (app_id, period, messages) VALUES (:app_id, :period, :n)
ON CONFLICT (app_id, period) DO UPDATE SET messages = usage_counters.messages + excluded.messages
RETURNING messages;

-- name: usage_of
SELECT period, messages FROM usage_counters
WHERE app_id = :app_id AND period IN (SELECT value FROM json_each(:periods));
