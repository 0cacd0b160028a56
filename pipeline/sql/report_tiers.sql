-- Tier value for sales: per tier and metric over months [$month_from, $month_to] of
-- evaluation $evaluation_id, what customers experienced in working time. Closed rows
-- only; excluded rows (IT release) are left out, no-SLA tiers are included (they are
-- what the comparison is about).
SELECT
    tier,
    metric,
    count(*) AS closed,
    quantile_cont(elapsed_working_seconds, 0.5) AS median_seconds,
    quantile_cont(elapsed_working_seconds, 0.9) AS p90_seconds,
    count(*) FILTER (WHERE elapsed_working_seconds <= $short_seconds) AS within_short,
    count(*) FILTER (WHERE elapsed_working_seconds <= $long_seconds) AS within_long
FROM sla_results
WHERE evaluation_id = $evaluation_id
  AND month BETWEEN $month_from AND $month_to
  AND metric = $metric
  AND status <> 'excluded'
  AND NOT outage_line
  AND clock_stop IS NOT NULL
GROUP BY tier, metric
ORDER BY tier
