-- Store the accepted events of load $load_id that are not stored yet: repeats
-- within the file and events already stored (same ticket, instant, kind, values
-- and actor; NULLs compare equal) are stored once. An exact set difference over
-- millions of rows is the slowest step of a load, so it runs only on the rows
-- that can be repeats: those whose hash occurs twice in the file and those of
-- tickets that already have stored events. The hash only narrows the search;
-- rows are compared by value.
-- An earlier reading of this very file (same content, read again with another
-- source zone or mapping) was a misreading: its events give way to this one's.
DELETE FROM ticket_events
WHERE load_id IN (
    SELECT load_id FROM loads WHERE sha256 = $sha AND kind = 'events' AND load_id <> $load_id
);

CREATE OR REPLACE TEMP TABLE maybe_repeated AS
WITH accepted AS (SELECT _line, ticket_id, content_hash FROM checked WHERE problem IS NULL)
SELECT _line FROM accepted
WHERE content_hash IN (
        SELECT content_hash FROM accepted GROUP BY content_hash HAVING count(*) > 1
    )
    OR ticket_id IN (
        SELECT e.ticket_id FROM ticket_events e
        SEMI JOIN (SELECT DISTINCT ticket_id FROM accepted) a ON a.ticket_id = e.ticket_id
    );

INSERT INTO ticket_events
SELECT ticket_id, "at", kind, old_value, new_value, actor_type, $load_id
FROM checked
WHERE problem IS NULL AND _line NOT IN (SELECT _line FROM maybe_repeated);

INSERT INTO ticket_events
SELECT ticket_id, "at", kind, old_value, new_value, actor_type, $load_id
FROM (
    SELECT ticket_id, "at", kind, old_value, new_value, actor_type
    FROM checked
    WHERE _line IN (SELECT _line FROM maybe_repeated)
    EXCEPT
    SELECT ticket_id, "at", kind, old_value, new_value, actor_type
    FROM ticket_events
    WHERE ticket_id IN (
        SELECT ticket_id FROM checked WHERE _line IN (SELECT _line FROM maybe_repeated)
    )
);
