-- Compliance counts and working-time quantiles of evaluation $evaluation_id: one
-- row per tier and metric, and per month (`$by_month`, months $month_from to
-- $month; NULL bounds: every row, month NULL). The monthly report's cells and the
-- `sla evaluate` summary (metrics.stored_summary) both read it.
-- No-SLA tiers are counted by their benchmark status (and marked benchmark only),
-- never as compliance. A tier with an SLA for some of its rows and none for others
-- (a version that took effect mid-month dropped it, or a ticket before the first
-- version) is judged on the SLA rows; the others count as without a target
-- (`no_target`). Counted apart by has_sla first, then the SLA part taken where
-- there is one (a window deciding it per row cost a tenth of a second per million
-- rows).
WITH parts AS (
    SELECT
        CASE WHEN $by_month THEN month END AS month,
        tier,
        metric,
        has_sla,
        count(*) AS tickets,
        count(*) FILTER (WHERE exclusion_rule = 'no_policy_in_force') AS unjudged,
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
    FROM (
        SELECT
            *,
            CASE WHEN has_sla THEN status ELSE coalesce(benchmark_status, status) END AS judged
        FROM sla_results
        WHERE evaluation_id = $evaluation_id
          AND ($month IS NULL OR month BETWEEN $month_from AND $month)
    )
    GROUP BY ALL
)
SELECT
    month,
    tier,
    metric,
    NOT bool_or(has_sla) AS benchmark_only,
    sum(tickets) AS tickets,
    sum(unjudged) AS unjudged,
    -- The SLA part when there is one: first by has_sla, true first (arg_max would
    -- skip a NULL median and take the other part's).
    first(met ORDER BY has_sla DESC) AS met,
    first(met_target ORDER BY has_sla DESC) AS met_target,
    first(breached ORDER BY has_sla DESC) AS breached,
    first(open ORDER BY has_sla DESC) AS open,
    first(at_risk ORDER BY has_sla DESC) AS at_risk,
    first(open_breached ORDER BY has_sla DESC) AS open_breached,
    first(excluded ORDER BY has_sla DESC) AS excluded,
    first(no_target ORDER BY has_sla DESC)
        + CASE WHEN bool_or(has_sla) THEN coalesce(sum(tickets) FILTER (WHERE NOT has_sla), 0)
               ELSE 0 END AS no_target,
    first(median_seconds ORDER BY has_sla DESC) AS median_seconds,
    first(p90_seconds ORDER BY has_sla DESC) AS p90_seconds
FROM parts
GROUP BY month, tier, metric
ORDER BY month, tier, metric
