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

DELETE FROM tickets WHERE ticket_id IN (
    SELECT ticket_id FROM candidates WHERE ticket_id NOT IN (SELECT ticket_id FROM not_applied)
);

INSERT INTO tickets
SELECT ticket_id, source_system, customer_id, created_at, first_response_at, resolved_at,
       closed_at, priority, channel, category, status, requires_it_release, cause_domain,
       subject, updated_at, $load_id
FROM candidates
WHERE ticket_id NOT IN (SELECT ticket_id FROM not_applied);

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
