-- One customer's rows over months [$month_from, $month_to] of evaluation
-- $evaluation_id, and whether an SLA tier's promise would have covered each.
SELECT
    r.ticket_id,
    r.metric,
    r.tier,
    r.priority,
    r.status,
    -- The verdict the row was judged by (a tier without an SLA: its benchmark's) and
    -- the limit it was held to: a later cycle's breach (first_resolution) shows as
    -- this verdict over a stored time within the limit.
    coalesce(r.benchmark_status, r.status) AS judged,
    r.limit_seconds,
    r.policy_version,
    r.clock_start,
    r.clock_stop,
    r.elapsed_working_seconds,
    r.exclusion_rule,
    r.outage_line,
    t.subject,
    -- Under an SLA tier's promise a ticket is covered unless an exclusion applies
    -- (an IT release), it is an outage-line first response of a version that sets
    -- the outage line no target, its version does not measure the metric, or no
    -- policy version was in force when it was created (nothing was promised). The
    -- evaluation stored each of these as the row's rule.
    r.status <> 'excluded'
        AND coalesce(r.exclusion_rule, '')
            NOT IN ('outage_line_no_target', 'metric_not_in_policy', 'no_policy_in_force')
        AS covered
FROM sla_results r
LEFT JOIN tickets t USING (ticket_id)
WHERE r.evaluation_id = $evaluation_id
  AND r.customer_id = $customer_id
  AND r.month BETWEEN $month_from AND $month_to
ORDER BY r.clock_start, r.ticket_id, r.metric
