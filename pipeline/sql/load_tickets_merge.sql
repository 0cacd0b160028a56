-- Merge the accepted tickets of load $load_id. A newer version (by updated_at,
-- then load order: the later load wins a tie) replaces the stored one. A row stored
-- by an earlier reading of this very file (same content, read again with another
-- source zone or mapping) is replaced whatever its updated_at: it was misread.
CREATE OR REPLACE TEMP VIEW candidates AS
SELECT * FROM checked
WHERE problem IS NULL AND _line NOT IN (SELECT _line FROM repeated WHERE is_copy);

-- Rows older than the stored version are not applied; they are kept in
-- not_applied_rows (with their raw text, added by the loader) and counted.
CREATE OR REPLACE TEMP TABLE not_applied AS
SELECT
    c._line, c.ticket_id,
    'the stored version is newer: updated_at '
        || strftime(t.updated_at, '%Y-%m-%d %H:%M:%S') || ' UTC (load #' || t.load_id::VARCHAR
        || ') against this row''s ' || strftime(c.updated_at, '%Y-%m-%d %H:%M:%S') || ' UTC'
        || CASE WHEN c.updated_given IS NULL
                THEN ' (no updated_at given: the latest of its timestamps)' ELSE '' END
        AS message
FROM candidates c JOIN tickets t USING (ticket_id)
WHERE c.updated_at < t.updated_at
  AND t.load_id NOT IN (SELECT load_id FROM loads WHERE sha256 = $sha AND kind = 'tickets');

-- A column the file does not have says nothing of its field: a stored ticket the
-- file replaces keeps its value of it ($kept: those fields, load.KEPT_WHEN_ABSENT;
-- empty for a file with every column, for JSON lines and for rows a reader
-- extracted). A correction of the status alone must not erase the ticket's times.
CREATE OR REPLACE TEMP TABLE kept_values AS
SELECT * FROM tickets
WHERE len($kept) > 0 AND ticket_id IN (
    SELECT ticket_id FROM candidates WHERE ticket_id NOT IN (SELECT ticket_id FROM not_applied)
);

DELETE FROM tickets WHERE ticket_id IN (
    SELECT ticket_id FROM candidates WHERE ticket_id NOT IN (SELECT ticket_id FROM not_applied)
);

INSERT INTO tickets
SELECT c.ticket_id, c.source_system, c.customer_id, c.created_at,
       CASE WHEN list_contains($kept, 'first_response_at') AND k.ticket_id IS NOT NULL
            THEN k.first_response_at ELSE c.first_response_at END,
       CASE WHEN list_contains($kept, 'resolved_at') AND k.ticket_id IS NOT NULL
            THEN k.resolved_at ELSE c.resolved_at END,
       CASE WHEN list_contains($kept, 'closed_at') AND k.ticket_id IS NOT NULL
            THEN k.closed_at ELSE c.closed_at END,
       CASE WHEN list_contains($kept, 'priority') AND k.ticket_id IS NOT NULL
            THEN k.priority ELSE c.priority END,
       CASE WHEN list_contains($kept, 'channel') AND k.ticket_id IS NOT NULL
            THEN k.channel ELSE c.channel END,
       CASE WHEN list_contains($kept, 'category') AND k.ticket_id IS NOT NULL
            THEN k.category ELSE c.category END,
       CASE WHEN list_contains($kept, 'status') AND k.ticket_id IS NOT NULL
            THEN k.status ELSE c.status END,
       CASE WHEN list_contains($kept, 'requires_it_release') AND k.ticket_id IS NOT NULL
            THEN k.requires_it_release ELSE c.requires_it_release END,
       CASE WHEN list_contains($kept, 'cause_domain') AND k.ticket_id IS NOT NULL
            THEN k.cause_domain ELSE c.cause_domain END,
       CASE WHEN list_contains($kept, 'subject') AND k.ticket_id IS NOT NULL
            THEN k.subject ELSE c.subject END,
       c.updated_at, $load_id
FROM candidates c
LEFT JOIN kept_values k ON k.ticket_id = c.ticket_id
WHERE c.ticket_id NOT IN (SELECT ticket_id FROM not_applied);

INSERT INTO flagged_rows
SELECT $load_id, ticket_id, _line, 'first_response_at', 'auto_response',
       'first response ' || epoch(first_response_at - created_at)::VARCHAR
       || ' s after creation: probably an auto-responder'
FROM candidates
WHERE first_response_at - created_at <= to_seconds($auto_response_seconds)
UNION ALL
SELECT $load_id, ticket_id, _line, 'created_at', 'created_in_future',
       'created after the load started'
FROM candidates
WHERE created_at > $started;
