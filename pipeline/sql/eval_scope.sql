-- Tickets as known at $as_of, with the tier of the plan valid at creation, the
-- first public agent reply seen in the event history up to $as_of, and the priority
-- as it was at $as_of. `tix` numbers the tickets 0..n-1 so that the numeric work
-- can run on plain arrays.
WITH first_reply AS (
    SELECT ticket_id, min("at") AS first_agent_reply
    FROM ticket_events
    WHERE kind = 'agent_reply' AND "at" <= $as_of
    GROUP BY ticket_id
),
-- A ticket row holds the priority at export. A change recorded after $as_of was
-- not known then: the priority at $as_of is the value that change replaced (the
-- earliest such change's old value); when the export left that out, the value of
-- the latest change up to $as_of. Changes at one instant: the value first by name.
-- (The values are wrapped in structs because arg_min skips a NULL argument.)
-- A second, narrow scan of the events: folded into first_reply as FILTERed
-- aggregates it made the scope phase slower (0.63-0.77 s against 0.55-0.57 s
-- in bench_evaluate), the struct aggregates then running over every reply.
priority_change AS (
    SELECT
        ticket_id,
        arg_min({'v': old_value}, {'at': "at", 'v': old_value})
            FILTER (WHERE "at" > $as_of) AS replaced_later,
        arg_min({'v': new_value}, {'at': -epoch_ns("at"), 'v': new_value})
            FILTER (WHERE "at" <= $as_of) AS set_before
    FROM ticket_events
    WHERE kind = 'priority_change'
    GROUP BY ticket_id
),
-- Overlapping plans are refused at load; should one slip through, the latest wins.
-- Only the tickets of customers with overlapping plans need that decided (a window
-- over every ticket costs more than the rest of the plan lookup): a plan overlaps
-- another exactly when it overlaps the next one to start.
overlapping AS (
    SELECT DISTINCT customer_id
    FROM (
        SELECT
            customer_id,
            valid_to,
            lead(valid_from) OVER (PARTITION BY customer_id ORDER BY valid_from) AS next_from
        FROM plan_history
    )
    WHERE next_from IS NOT NULL AND (valid_to IS NULL OR next_from < valid_to)
),
plan_rows AS (
    SELECT t.ticket_id, t.customer_id, p.tier, p.valid_from
    FROM tickets t
    JOIN plan_history p
      ON p.customer_id = t.customer_id
     AND p.valid_from <= t.created_at
     AND (p.valid_to IS NULL OR t.created_at < p.valid_to)
),
plan AS (
    SELECT ticket_id, tier
    FROM plan_rows
    WHERE customer_id NOT IN (SELECT customer_id FROM overlapping)
    UNION ALL
    SELECT ticket_id, tier
    FROM plan_rows
    WHERE customer_id IN (SELECT customer_id FROM overlapping)
    QUALIFY row_number() OVER (PARTITION BY ticket_id ORDER BY valid_from DESC) = 1
)
SELECT
    t.tix,
    t.ticket_id,
    t.customer_id,
    coalesce(plan.tier, 'unknown') AS tier,
    t.created_at,
    -- A reply recorded on the ticket but not (yet) in the events counts too; the
    -- earliest of the two is the first response.
    least(
        r.first_agent_reply,
        CASE WHEN t.first_response_at <= $as_of THEN t.first_response_at END
    ) AS first_response_at,
    -- Read only where the ticket has no status history: a closed ticket is resolved
    -- too, so without resolved_at its closed_at stops the clock.
    CASE
        WHEN coalesce(t.resolved_at, t.closed_at) <= $as_of
            THEN coalesce(t.resolved_at, t.closed_at)
    END AS resolved_at,
    CASE
        WHEN pc.replaced_later IS NULL THEN t.priority
        ELSE coalesce(pc.replaced_later.v, pc.set_before.v, t.priority)
    END AS priority,
    t.channel,
    t.category,
    t.status,
    t.requires_it_release,
    t.cause_domain,
    t.source_system
FROM (
    -- Any numbering will do: results are joined back by tix and sorted by ticket id.
    -- Numbering the plain scan is cheap; numbering the joined rows (row_number()
    -- over the whole result) would gather them in one thread first.
    SELECT (row_number() OVER () - 1)::BIGINT AS tix, *
    FROM tickets
    WHERE created_at <= $as_of
) t
LEFT JOIN first_reply r USING (ticket_id)
LEFT JOIN priority_change pc USING (ticket_id)
LEFT JOIN plan USING (ticket_id)
