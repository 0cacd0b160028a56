-- Tier value for sales: per tier over months [$month_from, $month_to] of evaluation
-- $evaluation_id, what customers experienced of $metric. Closed rows only; excluded
-- rows (IT release), outage-line calls and tickets created before the policy's first
-- version (judged by none) are left out; no-SLA tiers are included (they are what
-- the comparison is about). `within` counts the rows at or under
-- each of $yardsticks (seconds), in their order.
WITH closed AS (
    SELECT tier, elapsed_working_seconds AS elapsed
    FROM sla_results
    WHERE evaluation_id = $evaluation_id
      AND month BETWEEN $month_from AND $month_to
      AND metric = $metric
      AND status <> 'excluded'
      AND coalesce(exclusion_rule, '') <> 'no_policy_in_force'
      AND NOT outage_line
      AND clock_stop IS NOT NULL
),
yardsticks AS (
    SELECT unnest($yardsticks) AS seconds, generate_subscripts($yardsticks, 1) AS position
),
within AS (
    SELECT tier, list(k ORDER BY position) AS within
    FROM (
        SELECT tier, position, count(*) FILTER (WHERE elapsed <= seconds) AS k
        FROM closed CROSS JOIN yardsticks
        GROUP BY tier, position
    )
    GROUP BY tier
)
SELECT
    tier,
    count(*) AS closed,
    quantile_cont(elapsed, 0.5) AS median_seconds,
    quantile_cont(elapsed, 0.9) AS p90_seconds,
    any_value(within.within) AS within
FROM closed JOIN within USING (tier)
GROUP BY tier
ORDER BY tier
