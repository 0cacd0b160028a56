-- The result rows of the report's evaluation ($stored) that the re-run ($rerun)
-- does not give, and the other way round: every column but the evaluation id,
-- compared as multisets (EXCEPT ALL, so a duplicated or missing row shows too).
-- `differing` counts the (ticket, metric) pairs that differ; only the first
-- $shown of them are returned, both sides of each, for `sla audit verify` to
-- name field by field.
WITH stored AS (
    SELECT * EXCLUDE (evaluation_id) FROM sla_results WHERE evaluation_id = $stored
),
rederived AS (
    SELECT * EXCLUDE (evaluation_id) FROM sla_results WHERE evaluation_id = $rerun
),
differ AS (
    SELECT 'stored' AS side, * FROM (FROM stored EXCEPT ALL FROM rederived)
    UNION ALL
    SELECT 're-derived' AS side, * FROM (FROM rederived EXCEPT ALL FROM stored)
),
pairs AS (
    SELECT ticket_id, metric, count(*) OVER () AS differing
    FROM (SELECT DISTINCT ticket_id, metric FROM differ)
    ORDER BY ticket_id, metric
    LIMIT $shown
)
SELECT p.differing, d.*
FROM differ d
JOIN pairs p ON p.ticket_id = d.ticket_id AND p.metric = d.metric
ORDER BY d.ticket_id, d.metric, d.side DESC
