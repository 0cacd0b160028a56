-- One row per month, tier and metric of evaluation $evaluation_id: the counts and
-- working-time quantiles the monthly report shows. No-SLA tiers are counted by
-- their benchmark status (and marked benchmark only), never as compliance. A tier
-- with an SLA for some of the month's rows and none for others (a version that
-- took effect mid-month dropped it, or a ticket before the first version) is
-- judged on the SLA rows; the others count as without a target (`no_target`).
WITH scoped AS (
    SELECT *, bool_or(has_sla) OVER (PARTITION BY month, tier, metric) AS tier_has_sla
    FROM sla_results
    WHERE evaluation_id = $evaluation_id
      AND month BETWEEN $month_from AND $month
),
judged AS (
    SELECT
        *,
        CASE
            WHEN has_sla THEN status
            WHEN tier_has_sla THEN 'no_sla'
            ELSE coalesce(benchmark_status, status)
        END AS judged
    FROM scoped
)
SELECT
    month,
    tier,
    metric,
    NOT bool_or(has_sla) AS benchmark_only,
    count(*) AS tickets,
    count(*) FILTER (WHERE judged IN ('met', 'met_late_target')) AS met,
    count(*) FILTER (WHERE judged = 'met') AS met_target,
    count(*) FILTER (WHERE judged = 'breached') AS breached,
    count(*) FILTER (WHERE judged LIKE 'open_%') AS open,
    count(*) FILTER (WHERE judged = 'open_at_risk') AS at_risk,
    count(*) FILTER (WHERE judged = 'open_breached') AS open_breached,
    count(*) FILTER (WHERE status = 'excluded') AS excluded,
    count(*) FILTER (WHERE judged = 'no_sla') AS no_target,
    quantile_cont(elapsed_working_seconds, 0.5)
        FILTER (WHERE judged IN ('met', 'met_late_target', 'breached')) AS median_seconds,
    quantile_cont(elapsed_working_seconds, 0.9)
        FILTER (WHERE judged IN ('met', 'met_late_target', 'breached')) AS p90_seconds
FROM judged
GROUP BY month, tier, metric
ORDER BY month, tier, metric
