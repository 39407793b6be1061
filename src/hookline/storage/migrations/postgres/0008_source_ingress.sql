-- hookline schema, version 8: who may send to an inbound source, and how often.
--
-- allowed_networks: a JSON list of CIDRs the provider sends from ('[]': anyone).
-- rate_limit: requests per second the gateway takes for the source (NULL: no limit).
-- source_stats counts the requests refused for either: forbidden (not on the
-- allowlist, 403) and limited (over the rate, 429).
ALTER TABLE sources ADD COLUMN allowed_networks TEXT NOT NULL DEFAULT '[]';
ALTER TABLE sources ADD COLUMN rate_limit INTEGER;
ALTER TABLE source_stats ADD COLUMN forbidden INTEGER NOT NULL DEFAULT 0;
ALTER TABLE source_stats ADD COLUMN limited INTEGER NOT NULL DEFAULT 0;
