-- The result rows of the report's evaluation ($stored) that the re-run ($rerun)
-- does not give, and the other way round: every column but the evaluation id,
-- compared as multisets (a duplicated or missing row shows too).
-- `differing` counts the (ticket, metric) pairs that differ; only the first
-- $shown of them are returned, both sides of each, for `sla audit verify` to
-- name field by field.
--
-- An evaluation gives one row per (ticket, metric), so the pairs are matched by
-- that key and compared column by column (a hash join): EXCEPT ALL over whole
-- rows both ways hashed every column of every row, and took longer and about
-- four times the memory of the evaluation it checks (600,000 rows: 12.8 s and
-- 1.7 GiB, against 1.4 s and 0.55 GiB this way). A pair given by more than one
-- row on either side (rows added by hand) is compared as a multiset, with EXCEPT
-- ALL over those few rows only.
WITH stored AS NOT MATERIALIZED (
    SELECT * EXCLUDE (evaluation_id) FROM sla_results WHERE evaluation_id = $stored
),
rederived AS NOT MATERIALIZED (
    SELECT * EXCLUDE (evaluation_id) FROM sla_results WHERE evaluation_id = $rerun
),
several AS (
    SELECT ticket_id, metric FROM stored GROUP BY ticket_id, metric HAVING count(*) > 1
    UNION
    SELECT ticket_id, metric FROM rederived GROUP BY ticket_id, metric HAVING count(*) > 1
),
stored_single AS (
    SELECT ticket_id, metric, struct_pack(*COLUMNS(*)) AS row_value
    FROM stored ANTI JOIN several USING (ticket_id, metric)
),
rederived_single AS (
    SELECT ticket_id, metric, struct_pack(*COLUMNS(*)) AS row_value
    FROM rederived ANTI JOIN several USING (ticket_id, metric)
),
single_differ AS (
    SELECT
        coalesce(s.ticket_id, r.ticket_id) AS ticket_id,
        coalesce(s.metric, r.metric) AS metric
    FROM stored_single s
    FULL JOIN rederived_single r ON s.ticket_id = r.ticket_id AND s.metric = r.metric
    WHERE s.row_value IS DISTINCT FROM r.row_value
),
several_stored AS (FROM stored SEMI JOIN several USING (ticket_id, metric)),
several_rederived AS (FROM rederived SEMI JOIN several USING (ticket_id, metric)),
several_differ AS (
    SELECT DISTINCT ticket_id, metric FROM (
        (FROM several_stored EXCEPT ALL FROM several_rederived)
        UNION ALL
        (FROM several_rederived EXCEPT ALL FROM several_stored)
    )
),
pairs AS (
    SELECT ticket_id, metric, count(*) OVER () AS differing
    FROM (FROM single_differ UNION ALL FROM several_differ)
    ORDER BY ticket_id, metric
    LIMIT $shown
),
shown_stored AS (FROM stored SEMI JOIN pairs USING (ticket_id, metric)),
shown_rederived AS (FROM rederived SEMI JOIN pairs USING (ticket_id, metric)),
differ AS (
    SELECT 'stored' AS side, * FROM (FROM shown_stored EXCEPT ALL FROM shown_rederived)
    UNION ALL
    SELECT 're-derived' AS side, * FROM (FROM shown_rederived EXCEPT ALL FROM shown_stored)
)
SELECT p.differing, d.*
FROM differ d
JOIN pairs p ON p.ticket_id = d.ticket_id AND p.metric = d.metric
ORDER BY d.ticket_id, d.metric, d.side DESC
