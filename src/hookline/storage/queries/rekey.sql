-- Re-keying (hookline rekey) walks the endpoints and sources by id, a batch at a time (sql/rekey.py).
-- Parameters are written :name; the PostgreSQL backend rewrites them to its own style
-- when it loads this file. Rows are read by column name: a computed column has an alias.

-- Re-keying (hookline rekey) walks the endpoints by id, a batch at a time.

-- name: endpoint_secrets_after
SELECT id, secret, old_secrets, destination_config FROM endpoints
WHERE id > :after ORDER BY id LIMIT :limit;

-- name: reseal_endpoint_secrets
-- Only if the secrets are still what was read: a rotation that landed meanwhile wins.
UPDATE endpoints SET secret = :new_secret, old_secrets = :new_old_secrets,
    destination_config = :new_destination_config
WHERE id = :id AND secret = :secret AND old_secrets = :old_secrets
  AND COALESCE(destination_config, '') = :destination_config;

-- name: source_secrets_after
SELECT id, token, secrets FROM sources WHERE id > :after ORDER BY id LIMIT :limit;

-- name: reseal_source_secrets
-- Only if the sealed values are still what was read: a change that landed meanwhile wins.
UPDATE sources SET token = :new_token, secrets = :new_secrets
WHERE id = :id AND token = :token AND secrets = :secrets;

-- name: endpoint_auth_after
SELECT id, auth FROM endpoints WHERE id > :after AND auth IS NOT NULL ORDER BY id LIMIT :limit;

-- name: reseal_endpoint_auth
-- Only if the credentials are still what was read: a change that landed meanwhile wins.
UPDATE endpoints SET auth = :new_auth WHERE id = :id AND auth = :auth;
