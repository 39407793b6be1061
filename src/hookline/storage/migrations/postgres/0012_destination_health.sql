-- hookline schema, version 12: what a destination's nextRetryAt is read from.
--
-- Only deliveries waiting for a retry (pending after at least one attempt) are in it,
-- so first tries and finished history cost it nothing; DestinationOut's nextRetryAt is
-- the least next_attempt_at of one endpoint's entries (storage/queries/destinations.sql).
CREATE INDEX deliveries_retrying ON deliveries (endpoint_id, next_attempt_at)
WHERE status = 'pending' AND attempts > 0;
