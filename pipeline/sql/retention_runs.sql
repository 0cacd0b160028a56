-- Every evaluation run with what it holds now, in the order they were stored:
-- rows_stored counts its rows still in sla_results (0 once pruned; another
-- figure than rows_written means the stored results were edited).
WITH stored AS (
    SELECT evaluation_id, count(*) AS rows_stored
    FROM sla_results
    GROUP BY evaluation_id
)
SELECT e.evaluation_id,
       e.started_at,
       coalesce(e.made_by, 'unknown') AS made_by,
       e.policy_name,
       e.policy_hash,
       e.forced_version,
       e.as_of,
       e.month_from,
       e.month_to,
       e.tickets_evaluated,
       e.rows_written,
       coalesce(s.rows_stored, 0) AS rows_stored,
       e.pruned_at
FROM evaluations e
LEFT JOIN stored s USING (evaluation_id)
ORDER BY e.evaluation_id
