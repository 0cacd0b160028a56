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
-- Customers are the clusters of the compliance's design effect
-- (metrics.design_effect: one customer's tickets are alike, so its interval widens):
-- over the closed rows of each part, per customer, k_c met of n_c closed, summed as
-- sum_k2 (k_c²), sum_kn (k_c·n_c), sum_n2 (n_c²). A row without a customer is a
-- cluster of its own.
WITH judged_rows AS (
    SELECT
        *,
        CASE WHEN $by_month THEN month END AS cell_month,
        CASE WHEN has_sla THEN status ELSE coalesce(benchmark_status, status) END AS judged
    FROM sla_results
    WHERE evaluation_id = $evaluation_id
      AND ($month IS NULL OR month BETWEEN $month_from AND $month)
),
clusters AS (
    SELECT cell_month AS c_month, tier AS c_tier, metric AS c_metric, has_sla AS c_has_sla,
           count(*) AS clusters,
           sum(k_c * k_c)::DOUBLE AS sum_k2, sum(k_c * n_c)::DOUBLE AS sum_kn,
           sum(n_c * n_c)::DOUBLE AS sum_n2
    FROM (
        SELECT cell_month, tier, metric, has_sla, customer_id IS NULL AS lone,
               coalesce(customer_id, ticket_id) AS cluster,
               count(*) AS n_c,
               count(*) FILTER (WHERE judged IN ('met', 'met_late_target')) AS k_c
        FROM judged_rows
        WHERE judged IN ('met', 'met_late_target', 'breached')
        GROUP BY ALL
    )
    GROUP BY cell_month, tier, metric, has_sla
),
parts AS (
    SELECT
        cell_month AS month,
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
    FROM judged_rows
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
    first(p90_seconds ORDER BY has_sla DESC) AS p90_seconds,
    coalesce(first(clusters ORDER BY has_sla DESC), 0) AS clusters,
    coalesce(first(sum_k2 ORDER BY has_sla DESC), 0) AS sum_k2,
    coalesce(first(sum_kn ORDER BY has_sla DESC), 0) AS sum_kn,
    coalesce(first(sum_n2 ORDER BY has_sla DESC), 0) AS sum_n2
FROM parts
LEFT JOIN clusters
    ON c_month IS NOT DISTINCT FROM month AND c_tier = tier AND c_metric = metric
   AND c_has_sla = has_sla
GROUP BY month, tier, metric
ORDER BY month, tier, metric
