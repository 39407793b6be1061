-- Applications and event types (sql/applications.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

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

-- name: delete_app_tokens
DELETE FROM api_tokens WHERE app_id = :id;

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
