-- Tier value for sales: per tier over months [$month_from, $month_to] of evaluation
-- $evaluation_id, what customers experienced of $metric. Closed rows only; excluded
-- rows (IT release), outage-line calls and tickets created before the policy's first
-- version (judged by none) are left out; no-SLA tiers are included (they are what
-- the comparison is about). `within` counts the rows at or under
-- each of $yardsticks (seconds), in their order.
-- Customers are the clusters of the design effect (metrics.design_effect): per
-- yardstick, `sum_k2` and `sum_kn` are sums over a tier's customers of k_c² and
-- k_c·n_c; `sum_n2` (of n_c²) and `clusters` do not depend on the yardstick. A row
-- without a customer is a cluster of its own (`lone`: its id is a ticket's).
WITH closed AS (
    SELECT tier, customer_id IS NULL AS lone, coalesce(customer_id, ticket_id) AS cluster,
           elapsed_working_seconds AS elapsed
    FROM sla_results
    WHERE evaluation_id = $evaluation_id
      AND month BETWEEN $month_from AND $month_to
      AND metric = $metric
      AND status <> 'excluded'
      AND coalesce(exclusion_rule, '') <> 'no_policy_in_force'
      AND NOT outage_line
      AND clock_stop IS NOT NULL
),
yardsticks AS (
    SELECT unnest($yardsticks) AS seconds, generate_subscripts($yardsticks, 1) AS position
),
per_cluster AS (
    SELECT tier, position, lone, cluster, count(*) AS n_c,
           count(*) FILTER (WHERE elapsed <= seconds) AS k_c
    FROM closed CROSS JOIN yardsticks
    GROUP BY tier, position, lone, cluster
),
within AS (
    SELECT tier,
           list(k ORDER BY position) AS within,
           list(sum_k2 ORDER BY position) AS sum_k2,
           list(sum_kn ORDER BY position) AS sum_kn,
           any_value(sum_n2) AS sum_n2,
           any_value(clusters) AS clusters
    FROM (
        SELECT tier, position, sum(k_c)::BIGINT AS k,
               sum(k_c * k_c)::DOUBLE AS sum_k2, sum(k_c * n_c)::DOUBLE AS sum_kn,
               sum(n_c * n_c)::DOUBLE AS sum_n2, count(*) AS clusters
        FROM per_cluster
        GROUP BY tier, position
    )
    GROUP BY tier
)
SELECT
    tier,
    count(*) AS closed,
    quantile_cont(elapsed, 0.5) AS median_seconds,
    quantile_cont(elapsed, 0.9) AS p90_seconds,
    any_value(within.within) AS within,
    any_value(within.sum_k2) AS sum_k2,
    any_value(within.sum_kn) AS sum_kn,
    any_value(within.sum_n2) AS sum_n2,
    any_value(within.clusters) AS clusters
FROM closed JOIN within USING (tier)
GROUP BY tier
ORDER BY tier
