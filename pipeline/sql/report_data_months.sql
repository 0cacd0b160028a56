-- The first and last month (YYYY-MM in zone $tz) of the loaded data: from the first
-- ticket created up to the last instant anything happened to a ticket (created,
-- answered, resolved, closed), never past now.
SELECT
    strftime(timezone($tz, min(created_at)), '%Y-%m') AS first_month,
    strftime(timezone($tz, max(least(now(), greatest(
        created_at,
        coalesce(first_response_at, created_at),
        coalesce(resolved_at, created_at),
        coalesce(closed_at, created_at)
    )))), '%Y-%m') AS last_month
FROM tickets
WHERE created_at <= now()
