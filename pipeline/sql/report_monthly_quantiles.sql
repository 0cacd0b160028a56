-- Working-time distribution of the month's closed rows per tier and metric, as
-- percentiles 0..100: enough for an ECDF chart without pulling every ticket.
SELECT
    tier,
    metric,
    quantile_cont(elapsed_working_seconds, [i / 100 FOR i IN range(0, 101)]) AS q
FROM sla_results
WHERE evaluation_id = $evaluation_id
  AND month = $month
  AND (CASE WHEN has_sla THEN status ELSE benchmark_status END)
      IN ('met', 'met_late_target', 'breached')
GROUP BY tier, metric
ORDER BY tier, metric
