-- Tickets created per month (in zone $tz) and tier, over the months of the
-- evaluation's window: every ticket created in the window counts in it (its
-- clock stops after creation), so every one of them has rows here.
SELECT
    strftime(timezone($tz, clock_start), '%Y-%m') AS month,
    tier,
    count(DISTINCT ticket_id) AS tickets
FROM sla_results
WHERE evaluation_id = $evaluation_id
GROUP BY ALL
HAVING month BETWEEN $month_from AND $month
