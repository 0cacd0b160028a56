-- Parse and check a staged customers / plan-history file (one row per plan period).
-- A customers file is the CRM's whole truth for the customers it names: their
-- plan history is replaced by the file's.
CREATE OR REPLACE TEMP TABLE checked AS
WITH parsed AS (
    SELECT
        _line,
        sla_text(customer_id) AS customer_id,
        sla_text(name) AS name,
        tier AS tier_raw,  -- as written, for the value at fault (`value` below)
        lower(sla_text(tier)) AS tier,
        valid_from AS from_raw,
        valid_to AS to_raw,
        sla_ts(valid_from, $tz) AS valid_from,
        sla_ts(valid_to, $tz) AS valid_to,
        -- Without a source zone, the first timestamp field with no offset (the load stops).
        CASE WHEN $tz::VARCHAR IS NULL THEN
            CASE
                WHEN sla_ts(valid_from, $tz) IS NULL AND sla_naive(valid_from) THEN 'valid_from'
                WHEN sla_ts(valid_to, $tz) IS NULL AND sla_naive(valid_to) THEN 'valid_to'
            END
        END AS naive_field,
        _separators,
        _row
    FROM raw
),
first_pass AS (
    SELECT
        *,
        CASE
            WHEN customer_id IS NULL THEN 'missing_required_field:customer_id'
            WHEN tier IS NULL THEN 'missing_required_field:tier'
            WHEN valid_from IS NULL AND sla_blank(from_raw) THEN 'missing_required_field:valid_from'
            WHEN valid_from IS NULL THEN 'unparseable_timestamp:valid_from'
            WHEN valid_to IS NULL AND NOT sla_blank(to_raw) THEN 'unparseable_timestamp:valid_to'
            WHEN NOT list_contains($tiers, tier) THEN 'unknown_tier:tier'
            WHEN valid_to <= valid_from THEN 'period_ends_before_start:valid_to'
        END AS problem
    FROM parsed
),
judged AS (
SELECT
    * EXCLUDE (problem),
    CASE
        WHEN problem IS NOT NULL THEN problem
        -- Against every earlier period, not only the one just before: a long
        -- period can contain several later ones.
        WHEN valid_from < max(coalesce(valid_to, 'infinity'::TIMESTAMPTZ)) OVER (
                PARTITION BY customer_id, problem IS NULL ORDER BY valid_from, _line
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
            THEN 'overlapping_plan:valid_from'
    END AS problem
FROM first_pass
)
SELECT
    * EXCLUDE (_row, tier_raw),
    CASE WHEN problem IS NOT NULL THEN sla_raw_text(_row) END AS raw_text,
    -- The text of the field at fault as the reader handed it (rejected_rows.value).
    CASE split_part(problem, ':', 2)
        WHEN 'customer_id' THEN customer_id
        WHEN 'tier' THEN tier_raw
        WHEN 'valid_from' THEN from_raw
        WHEN 'valid_to' THEN to_raw
    END AS value
FROM judged;
