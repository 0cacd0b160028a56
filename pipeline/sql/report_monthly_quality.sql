-- What the month's figures rest on: rows excluded by rule, no-SLA reasons, and the
-- outage line out of hours.
SELECT
    count(*) FILTER (WHERE status = 'excluded') AS excluded,
    count(*) FILTER (WHERE status = 'excluded' AND exclusion_rule = 'it_release') AS it_release,
    count(*) FILTER (WHERE outage_line AND out_of_hours AND metric = 'first_response')
        AS outage_calls,
    count(*) FILTER (WHERE outage_line AND out_of_hours AND metric = 'first_response' AND billable)
        AS outage_billable
FROM sla_results
WHERE evaluation_id = $evaluation_id AND month = $month
