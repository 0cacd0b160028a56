-- Turn the numeric results (registered as `numeric_results`) back into rows of
-- sla_results: join the ticket columns from `scope`, names from the lookup lists.
SELECT
    s.ticket_id,
    ($metrics::VARCHAR[])[r.metric + 1] AS metric,
    s.customer_id,
    s.tier,
    r.has_sla,
    s.priority,
    s.channel,
    r.outage_line,
    r.out_of_hours,
    s.cause_domain,
    r.billable,
    ($versions::VARCHAR[])[r.version + 1] AS policy_version,
    $policy_hash AS policy_hash,
    ($calendars::VARCHAR[])[r.calendar + 1] AS calendar,
    s.created_at AS clock_start,
    CASE WHEN r.clock_stop <> $nat THEN make_timestamptz(r.clock_stop // 1000) END AS clock_stop,
    r.elapsed_working_seconds,
    r.paused_working_seconds,
    r.gap_working_seconds,
    r.reopens,
    r.target_seconds,
    r.limit_seconds,
    CASE WHEN r.deadline <> $nat THEN make_timestamptz(r.deadline // 1000) END AS deadline,
    ($statuses::VARCHAR[])[r.status + 1] AS status,
    CASE WHEN r.benchmark_status >= 0 THEN ($statuses::VARCHAR[])[r.benchmark_status + 1] END AS benchmark_status,
    CASE WHEN r.exclusion_rule >= 0 THEN ($rules::VARCHAR[])[r.exclusion_rule + 1] END AS exclusion_rule,
    r.late_working_seconds,
    -- yyyymm as 'yyyy-mm', looked up: $months names every code from $month_base on.
    ($months::VARCHAR[])[r.month - $month_base + 1] AS month
FROM numeric_results r
JOIN scope s USING (tix)
WHERE ($month_from IS NULL OR r.month >= $month_from)
  AND ($month_to IS NULL OR r.month <= $month_to)
