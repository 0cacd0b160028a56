-- Every breached row of the month, and rows still open at month end that are at
-- risk or already over their limit (SLA tiers only). A row still open past its
-- limit counts in the month its deadline passed: those of every earlier month
-- (the report's evaluation runs from the data's first) are still open at this
-- month's end too.
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
    r.calendar,
    t.subject,
    r.month
FROM sla_results r
LEFT JOIN tickets t USING (ticket_id)
WHERE r.evaluation_id = $evaluation_id
  AND r.has_sla
  AND (
      (r.month = $month AND r.status IN ('breached', 'open_breached', 'open_at_risk'))
      OR (r.month < $month AND r.status = 'open_breached')
  )
ORDER BY r.status, r.late_working_seconds DESC NULLS LAST, r.ticket_id, r.metric
