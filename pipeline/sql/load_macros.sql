-- Helpers shared by every load. A timestamp with an offset (Z, +02:00) is exact;
-- one without is a wall-clock reading in the load's source time zone (ICU reads
-- a reading that occurs twice at the fall-back hour as standard time).
CREATE OR REPLACE TEMP MACRO sla_blank(s) AS s IS NULL OR trim(s) = '';
-- Offsets are +HH:MM, +HHMM, +HH or Z after a time part; string positions are far
-- cheaper than a regular expression over millions of values.
CREATE OR REPLACE TEMP MACRO sla_has_offset(s) AS
    length(trim(s)) > 10 AND (
        right(trim(s), 1) IN ('Z', 'z')
        OR substr(trim(s), -6, 1) IN ('+', '-')
        OR substr(trim(s), -5, 1) IN ('+', '-')
        OR substr(trim(s), -3, 1) IN ('+', '-')
    );
CREATE OR REPLACE TEMP MACRO sla_ts(s, tz) AS
    CASE
        WHEN sla_blank(s) THEN NULL
        WHEN sla_has_offset(s) THEN try_cast(trim(s) AS TIMESTAMPTZ)
        ELSE timezone(tz, try_cast(trim(s) AS TIMESTAMP))
    END;
CREATE OR REPLACE TEMP MACRO sla_text(s) AS nullif(trim(s), '');
CREATE OR REPLACE TEMP MACRO sla_bool(s) AS
    CASE
        WHEN sla_blank(s) THEN false
        WHEN lower(trim(s)) IN ('true', '1', 'yes', 'y', 'ja', 'j', 't') THEN true
        WHEN lower(trim(s)) IN ('false', '0', 'no', 'n', 'nee', 'f') THEN false
    END;
