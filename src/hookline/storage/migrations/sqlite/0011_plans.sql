-- hookline schema, version 11: plans and quotas per application.
--
-- plans: named sets of limits (JSON, the names of domain/plans.py), managed by operators.
-- applications.plan names an application's plan (NULL: none); plan_overrides (JSON)
-- replaces any of its values for that application alone.
-- usage_counters: messages accepted per application and period ("day:2026-12-07",
-- "month:2026-12"), counted in the publish's own transaction, so every API process and
-- machine sees one exact count.
CREATE TABLE plans (
    name        TEXT PRIMARY KEY,
    limits      TEXT NOT NULL DEFAULT '{}',
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
ALTER TABLE applications ADD COLUMN plan TEXT;
ALTER TABLE applications ADD COLUMN plan_overrides TEXT;
CREATE TABLE usage_counters (
    app_id    TEXT NOT NULL,
    period    TEXT NOT NULL,
    messages  INTEGER NOT NULL,
    PRIMARY KEY (app_id, period)
);
