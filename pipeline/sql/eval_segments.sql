-- The status changes of the tickets $lo <= tix < $hi of `scope`, as known at $as_of, in
-- timeline order: one row per change, as numbers for numpy: tix, the instant in epoch
-- nanoseconds, the status as its 1-based position in $statuses (0 = not listed) and
-- `ord`: 0 for the status 'new' every ticket starts with at creation, 1 for an explicit
-- status change, 2 for a status implied by a resolve / reopen / close event.
-- Segments are built from these rows in numpy (evaluate._segments): of the changes at
-- one instant of the timeline the first holds, each segment runs to the next change.
-- The order is policy.timeline_order's, which the audit uses: a change recorded before
-- creation counts from creation, the latest of those first (it was the status at
-- creation); then `ord`; then the status by name.
-- Sorting once here and taking lead/lag in numpy is cheaper than a window (which sorts
-- too) followed by an ORDER BY.
WITH ev AS (
    SELECT
        s.tix,
        greatest(e."at", s.created_at) AS seg_start,
        e."at",
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
all_changes AS (
    SELECT tix, created_at AS seg_start, created_at AS "at", 'new' AS status, 0 AS ord
    FROM scope
    WHERE tix >= $lo AND tix < $hi
    UNION ALL
    SELECT tix, seg_start, "at", status, ord FROM ev
)
SELECT
    tix,
    epoch_ns(seg_start) AS seg_start,
    coalesce(list_position($statuses, status), 0)::INTEGER AS status,
    ord::TINYINT AS ord
FROM all_changes
-- An export may record several explicit changes at one instant with no order among
-- them: the status code (its place in the sorted $statuses) decides, so that every
-- run keeps the same one (docs/policy.md).
ORDER BY tix, seg_start, "at" DESC, ord, status
