-- The status timeline of the tickets $lo <= tix < $hi of `scope`, as known at $as_of: one row per
-- segment [seg_start, seg_end) with the status held then, as numbers for numpy:
-- tix, instants in epoch nanoseconds (seg_end = $nat for the current segment),
-- and the status as its 1-based position in $statuses (0 = not listed).
-- The first segment starts at creation with status 'new'. resolve / reopen /
-- close events imply a status when no status change says it.
WITH ev AS (
    SELECT
        s.tix,
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
      AND s.tix >= $lo AND s.tix < $hi
      AND e."at" <= $as_of
      AND (e.kind <> 'status_change' OR e.new_value IS NOT NULL)
),
one_per_instant AS (
    -- An explicit status change wins over a status implied by another event.
    SELECT tix, seg_start, arg_min(status, ord) AS status, 1 AS ord
    FROM ev
    GROUP BY tix, seg_start
),
all_segments AS (
    SELECT tix, created_at AS seg_start, 'new' AS status, 0 AS ord
    FROM scope
    WHERE tix >= $lo AND tix < $hi
    UNION ALL
    SELECT tix, seg_start, status, ord FROM one_per_instant
),
timeline AS (
    SELECT
        tix,
        seg_start,
        lead(seg_start) OVER w AS seg_end,
        status,
        coalesce(lag(status) OVER w IN ('resolved', 'closed'), false)
            AND status NOT IN ('resolved', 'closed') AS is_reopen,
        ord
    FROM all_segments
    WINDOW w AS (PARTITION BY tix ORDER BY seg_start, ord)
)
SELECT
    tix,
    epoch_ns(seg_start) AS seg_start,
    coalesce(epoch_ns(seg_end), $nat) AS seg_end,
    coalesce(list_position($statuses, status), 0)::INTEGER AS status,
    is_reopen
FROM timeline
ORDER BY tix, seg_start, ord
