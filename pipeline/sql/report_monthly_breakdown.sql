-- Compliance of the month's SLA rows by $dimension value (priority or channel).
SELECT
    metric,
    coalesce(CAST(dim AS VARCHAR), '-') AS value,
    count(*) FILTER (WHERE status IN ('met', 'met_late_target')) AS met,
    count(*) FILTER (WHERE status = 'breached') AS breached,
    count(*) FILTER (WHERE status LIKE 'open_%') AS open
FROM (
    SELECT *, CASE WHEN $dimension = 'priority' THEN priority ELSE channel END AS dim
    FROM sla_results
    WHERE evaluation_id = $evaluation_id AND month = $month AND has_sla
)
GROUP BY metric, dim
ORDER BY metric, value  -- report_monthly.breakdown orders the values
