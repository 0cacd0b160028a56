-- Store the accepted events of load $load_id that are not stored yet. EXCEPT is a
-- set operation: it drops repeats within the file and events already stored
-- (NULLs compare equal), in one hash pass.
INSERT INTO ticket_events
SELECT ticket_id, "at", kind, old_value, new_value, actor_type, $load_id
FROM (
    SELECT
        ticket_id, "at", kind, old_value,
        CASE WHEN kind = 'status_change' THEN lower(new_value) ELSE new_value END AS new_value,
        actor_type
    FROM checked
    WHERE problem IS NULL
    EXCEPT
    SELECT ticket_id, "at", kind, old_value, new_value, actor_type
    FROM ticket_events
    WHERE ticket_id IN (SELECT ticket_id FROM checked)
);
