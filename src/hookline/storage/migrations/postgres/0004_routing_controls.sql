-- hookline schema, version 4: routing and delivery controls.

-- Per-endpoint controls (payload filter, transformation, batching, ordering, circuit
-- breaker, requests in flight) as one JSON document: they are read together, by
-- fan-out and by the claim, and never queried on their own.
ALTER TABLE endpoints ADD COLUMN controls TEXT NOT NULL DEFAULT '{}';
-- A paused endpoint's deliveries wait (status 'waiting') until it is resumed.
ALTER TABLE endpoints ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;

-- Versioning of an event type: its latest version, a transformation per older version
-- (to turn a payload into that shape), and whether publishing validates payloads.
ALTER TABLE event_types ADD COLUMN versioning TEXT;

-- 0 high, 1 normal, 2 low: the claim takes due work of a higher priority first.
ALTER TABLE messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 1;
ALTER TABLE deliveries ADD COLUMN priority INTEGER NOT NULL DEFAULT 1;
-- For an endpoint in FIFO mode: the ordering key ('' for one order per endpoint).
ALTER TABLE deliveries ADD COLUMN order_key TEXT;

-- The claim reads due work a priority at a time, each a range of this index.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (priority, next_attempt_at) WHERE status = 'pending';
-- What is in flight per endpoint, across workers (for maxInFlight): a small index,
-- since a row is in it only while leased.
CREATE INDEX deliveries_leased ON deliveries (endpoint_id) WHERE lease_owner IS NOT NULL;
-- FIFO: the open deliveries of each ordering key, in order. Only FIFO rows are here.
CREATE INDEX deliveries_fifo_pending ON deliveries (endpoint_id, order_key, id)
    WHERE status = 'pending' AND order_key IS NOT NULL;
CREATE INDEX deliveries_queued ON deliveries (endpoint_id, order_key, id) WHERE status = 'queued';
-- Deliveries parked while an endpoint is paused or its circuit is open.
CREATE INDEX deliveries_waiting ON deliveries (endpoint_id, id) WHERE status = 'waiting';

-- What workers learn about an endpoint at run time, shared by every worker: its pace
-- (GCRA's theoretical arrival time, and the slower rate a 429 imposed), and its
-- circuit breaker (state, the failure window, when to probe).
CREATE TABLE endpoint_state (
    endpoint_id     TEXT PRIMARY KEY,
    tat             DOUBLE PRECISION NOT NULL DEFAULT 0,
    throttled_at    DOUBLE PRECISION,
    throttled_rate  DOUBLE PRECISION,
    circuit         TEXT NOT NULL DEFAULT 'closed',
    circuit_since   DOUBLE PRECISION,
    probe_at        DOUBLE PRECISION,
    probe_id        TEXT,
    cooldown        DOUBLE PRECISION,
    window_start    DOUBLE PRECISION NOT NULL DEFAULT 0,
    window_total    INTEGER NOT NULL DEFAULT 0,
    window_failed   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX endpoint_state_probe ON endpoint_state (probe_at) WHERE circuit = 'open';
