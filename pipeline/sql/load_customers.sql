-- Parse and check a staged customers / plan-history file (one row per plan period).
-- A customers file is the CRM's whole truth for the customers it names: their
-- plan history is replaced by the file's.
CREATE OR REPLACE TEMP TABLE checked AS
WITH parsed AS (
    SELECT
        _line,
        sla_text(customer_id) AS customer_id,
        sla_text(name) AS name,
        lower(sla_text(tier)) AS tier,
        valid_from AS from_raw,
        valid_to AS to_raw,
        sla_ts(valid_from, $tz) AS valid_from,
        sla_ts(valid_to, $tz) AS valid_to
    FROM raw
),
first_pass AS (
    SELECT
        *,
        CASE
            WHEN customer_id IS NULL THEN 'missing_required_field:customer_id'
            WHEN tier IS NULL THEN 'missing_required_field:tier'
            WHEN sla_blank(from_raw) THEN 'missing_required_field:valid_from'
            WHEN valid_from IS NULL THEN 'unparseable_timestamp:valid_from'
            WHEN NOT sla_blank(to_raw) AND valid_to IS NULL THEN 'unparseable_timestamp:valid_to'
            WHEN NOT list_contains($tiers, tier) THEN 'unknown_tier:tier'
            WHEN valid_to <= valid_from THEN 'period_ends_before_start:valid_to'
        END AS problem
    FROM parsed
)
SELECT
    * EXCLUDE (problem),
    CASE
        WHEN problem IS NOT NULL THEN problem
        WHEN valid_from < lag(coalesce(valid_to, 'infinity'::TIMESTAMPTZ)) OVER (
                PARTITION BY customer_id, problem IS NULL ORDER BY valid_from, _line)
            THEN 'overlapping_plan:valid_from'
    END AS problem
FROM first_pass;
