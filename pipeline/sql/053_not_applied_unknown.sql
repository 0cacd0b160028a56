-- Migration 030 added loads.not_applied with DEFAULT 0, so every tickets load made
-- before it read "not applied 0" in `sla status`. Those loaders did skip rows older
-- than the stored version of their ticket, without counting or keeping them: for
-- them the number is unknown, not zero. NULL says so (status: "not counted").
-- A load is older than 030 when it started before 030 was applied here: a
-- warehouse created with 030 already shipped applied it before its first load.
-- Loads of customers and events never have such rows, and a load skipped as
-- unchanged read nothing: their 0 is true.
ALTER TABLE loads ALTER COLUMN not_applied DROP NOT NULL;
UPDATE loads SET not_applied = NULL
WHERE kind = 'tickets'
  AND NOT unchanged
  AND started_at < (SELECT min(applied_at) FROM schema_migrations WHERE version = 30);
