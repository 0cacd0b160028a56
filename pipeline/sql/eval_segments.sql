-- The status timeline of every ticket in scope, as known at $as_of: one row per
-- segment [seg_start, seg_end) with the status held then. The first segment
-- starts at creation with status 'new'; seg_end is NULL for the current one.
-- resolve / reopen / close events imply a status when no status change says it.
WITH ev AS (
    SELECT
        e.ticket_id,
        greatest(e."at", s.created_at) AS seg_start,
        CASE e.kind
            WHEN 'status_change' THEN e.new_value
            WHEN 'resolve' THEN 'resolved'
            WHEN 'reopen' THEN 'open'
            WHEN 'close' THEN 'closed'
        END AS status,
        CASE WHEN e.kind = 'status_change' THEN 1 ELSE 2 END AS ord
    FROM ticket_events e
    JOIN scope s USING (ticket_id)
    WHERE e.kind IN ('status_change', 'resolve', 'reopen', 'close')
      AND e."at" <= $as_of
      AND (e.kind <> 'status_change' OR e.new_value IS NOT NULL)
),
one_per_instant AS (
    -- An explicit status change wins over a status implied by another event.
    SELECT ticket_id, seg_start, arg_min(status, ord) AS status, 1 AS ord
    FROM ev
    GROUP BY ticket_id, seg_start
),
all_segments AS (
    SELECT ticket_id, created_at AS seg_start, 'new' AS status, 0 AS ord FROM scope
    UNION ALL
    SELECT ticket_id, seg_start, status, ord FROM one_per_instant
)
SELECT
    ticket_id,
    seg_start,
    lead(seg_start) OVER w AS seg_end,
    status,
    coalesce(lag(status) OVER w IN ('resolved', 'closed'), false)
        AND status NOT IN ('resolved', 'closed') AS is_reopen
FROM all_segments
WINDOW w AS (PARTITION BY ticket_id ORDER BY seg_start, ord)
ORDER BY ticket_id, seg_start, ord
