-- Every breached row of the month, and rows still open at month end that are at
-- risk or already over their limit (SLA tiers only).
SELECT
    r.ticket_id,
    r.customer_id,
    r.tier,
    r.metric,
    r.status,
    r.priority,
    r.channel,
    r.deadline,
    r.clock_stop,
    r.elapsed_working_seconds,
    r.limit_seconds,
    r.late_working_seconds,
    t.subject
FROM sla_results r
LEFT JOIN tickets t USING (ticket_id)
WHERE r.evaluation_id = $evaluation_id
  AND r.month = $month
  AND r.has_sla
  AND r.status IN ('breached', 'open_breached', 'open_at_risk')
ORDER BY r.status, r.late_working_seconds DESC NULLS LAST, r.ticket_id, r.metric
