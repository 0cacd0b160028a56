-- One row per month, tier and metric of evaluation $evaluation_id: the counts and
-- working-time quantiles the monthly report shows. No-SLA tiers are counted by
-- their benchmark status (and marked benchmark only), never as compliance.
WITH judged AS (
    SELECT
        *,
        CASE WHEN has_sla THEN status ELSE coalesce(benchmark_status, status) END AS judged
    FROM sla_results
    WHERE evaluation_id = $evaluation_id
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
        FILTER (WHERE judged IN ('met', 'met_late_target', 'breached')) AS p90_seconds,
    max(target_seconds) AS target_seconds,
    max(limit_seconds) AS limit_seconds
FROM judged
WHERE month BETWEEN $month_from AND $month
GROUP BY month, tier, metric
ORDER BY month, tier, metric
