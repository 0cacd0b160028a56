-- The changes of $tz's UTC offset between the instants $lo and $hi (epoch seconds),
-- as the windows of instants a naive reading of the load's source zone can fall in
-- by the DST rule (load_macros.sql: a reading that occurs twice is the later one,
-- one the clocks skip takes the offset from before the skip). A reading read by
-- that rule lands in [starts, ends): the transition instant and as long after it
-- as the clocks moved. The loader flags such rows (load.DST_FLAGS_SQL), joining
-- on the UTC hour (`bucket`) so that millions of rows cost one hash probe each,
-- not a time zone conversion (about 0.6 us a value in ICU).
-- Found with ICU, which read the rows: day by day, then the hour, minute and
-- second within a day whose offset changed (one change a day at most, as every
-- zone has had since offsets were whole minutes).
CREATE OR REPLACE TEMP MACRO sla_offset(s, tz) AS
    timezone(tz, to_timestamp(s)) - to_timestamp(s)::TIMESTAMP;
CREATE OR REPLACE TEMP TABLE dst_windows AS
WITH days AS (
    SELECT s AS a, s + 86400 AS b
    FROM range((floor($lo / 86400) - 1)::BIGINT * 86400, $hi + 86400, 86400) r(s)
    WHERE sla_offset(s, $tz) <> sla_offset(s + 86400, $tz)
),
hours AS (
    SELECT a + 3600 * i AS a, a + 3600 * (i + 1) AS b
    FROM days, range(24) r(i)
    WHERE sla_offset(a + 3600 * i, $tz) <> sla_offset(a + 3600 * (i + 1), $tz)
),
minutes AS (
    SELECT a + 60 * i AS a, a + 60 * (i + 1) AS b
    FROM hours, range(60) r(i)
    WHERE sla_offset(a + 60 * i, $tz) <> sla_offset(a + 60 * (i + 1), $tz)
),
transitions AS (
    -- The first second of the new offset, and the clocks' move (after - before).
    SELECT a + i + 1 AS moment, sla_offset(a + i + 1, $tz) - sla_offset(a + i, $tz) AS moved,
           sla_offset(a + i, $tz) AS before
    FROM minutes, range(60) r(i)
    WHERE sla_offset(a + i, $tz) <> sla_offset(a + i + 1, $tz)
),
windows AS (
    SELECT to_timestamp(moment) AS starts,
           to_timestamp(moment + abs(epoch(moved))) AS ends,
           epoch(moved) > 0 AS gap,
           before,
           moment,
           abs(epoch(moved))::BIGINT AS seconds
    FROM transitions
)
SELECT w.* EXCLUDE (moment, seconds), h AS bucket
FROM windows w, range(
    floor(w.moment / 3600)::BIGINT, floor((w.moment + w.seconds - 1) / 3600)::BIGINT + 1
) r(h);
