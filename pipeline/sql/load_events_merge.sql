INSERT INTO ticket_events
SELECT DISTINCT c.ticket_id, c."at", c.kind, c.old_value,
       CASE WHEN c.kind = 'status_change' THEN lower(c.new_value) ELSE c.new_value END,
       c.actor_type, $load_id
FROM checked c
WHERE c.problem IS NULL
  AND NOT EXISTS (
      SELECT 1 FROM ticket_events e
      WHERE e.ticket_id = c.ticket_id AND e."at" = c."at" AND e.kind = c.kind
        AND e.old_value IS NOT DISTINCT FROM c.old_value
        AND e.new_value IS NOT DISTINCT FROM
            (CASE WHEN c.kind = 'status_change' THEN lower(c.new_value) ELSE c.new_value END)
  );
