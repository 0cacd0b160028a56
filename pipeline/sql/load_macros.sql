-- Helpers shared by every load. A timestamp with an offset (Z, +02:00) is exact;
-- one without is a wall-clock reading in the load's source time zone (ICU reads
-- a reading that occurs twice at the fall-back hour as standard time).
-- These run over every value of millions of rows: casts accept surrounding
-- whitespace, so values are not trimmed first (trim copies every long string),
-- and one regular expression is cheaper than several string positions.
CREATE OR REPLACE TEMP MACRO sla_blank(s) AS s IS NULL OR trim(s) = '';
-- An offset (Z, +HH:MM, +HHMM, +HH, UTC) after a time part with seconds or minutes.
-- Only real offsets, up to 18 hours with minutes below 60: the TIMESTAMPTZ cast
-- takes +99:00 or +01:75 and moves the instant by them. A time with another
-- offset is no reading either (sla_reading), so it is rejected as unparseable.
CREATE OR REPLACE TEMP MACRO sla_has_offset(s) AS
    regexp_matches(
        s, ':\d\d(\.\d*)?\s*([zZ]|[+-]((0\d|1[0-7])(:?[0-5]\d)?|18(:?00)?)|UTC)\s*$'
    );
-- A reading without an offset must be a date, optionally with a time, and nothing
-- else: the TIMESTAMP cast ignores whatever follows the time (' PM', a zone name
-- such as 'America/New_York', 'foo') and reads 'infinity' and 'epoch', so these
-- would load as wrong instants instead of being rejected.
CREATE OR REPLACE TEMP MACRO sla_reading(s) AS
    regexp_full_match(s, '\s*\d{4}-\d\d?-\d\d?([T ]\d\d?:\d\d(:\d\d(\.\d*)?)?)?\s*');
-- The TIMESTAMPTZ cast refuses a space before a numeric offset or Z
-- ('2026-10-26 09:15:00 +0100', as Ruby, Java and PHP write them), which
-- sla_has_offset and pandas (pipeline/instants.py) accept: such a value is read
-- again without the space. Only values the first cast refused pay for it.
CREATE OR REPLACE TEMP MACRO sla_ts(s, tz) AS
    CASE
        WHEN sla_has_offset(s) THEN coalesce(
            try_cast(s AS TIMESTAMPTZ),
            try_cast(regexp_replace(s, '\s+([zZ]|[+-]\d)', '\1') AS TIMESTAMPTZ)
        )
        WHEN sla_reading(s) THEN timezone(tz, try_cast(s AS TIMESTAMP))
    END;
-- Whether a ticket's or an event's time lies outside the instants the evaluation
-- counts ([lo, hi): instants.COUNTED_SPAN, bound as $counted_from, $counted_to).
-- A row dated 9999 (a placeholder for "never") or 1500 (a typo) used to load and
-- then stop every `sla evaluate`. A plan's valid_to of 9999-12-31 is fine: plans
-- are only compared in SQL.
CREATE OR REPLACE TEMP MACRO sla_out_of_range(t, lo, hi) AS t < lo OR t >= hi;
-- A readable timestamp without an offset: its zone must be given (--source-tz).
-- Without a zone, sla_ts gives NULL for these: callers test only the NULLs.
CREATE OR REPLACE TEMP MACRO sla_naive(s) AS
    NOT sla_has_offset(s) AND sla_reading(s) AND try_cast(s AS TIMESTAMP) IS NOT NULL;
-- trim() copies every value; most values have nothing to trim.
CREATE OR REPLACE TEMP MACRO sla_text(s) AS
    CASE
        WHEN starts_with(s, ' ') OR ends_with(s, ' ') THEN nullif(trim(s), '')
        ELSE nullif(s, '')
    END;
CREATE OR REPLACE TEMP MACRO sla_bool(s) AS
    CASE
        WHEN sla_blank(s) THEN false
        WHEN lower(trim(s)) IN ('true', '1', 'yes', 'y', 'ja', 'j', 't') THEN true
        WHEN lower(trim(s)) IN ('false', '0', 'no', 'n', 'nee', 'f') THEN false
    END;
