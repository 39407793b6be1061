-- The audit trail (sql/audit.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

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
