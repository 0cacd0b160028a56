-- Parse and check a staged events file; merge the accepted events of load $load_id.
-- Events already stored (same ticket, instant, kind and values) are not stored again.
CREATE OR REPLACE TEMP TABLE checked AS
WITH parsed AS (
    SELECT
        _line,
        _raw,
        sla_text(ticket_id) AS ticket_id,
        "at" AS at_raw,
        sla_ts("at", $tz) AS "at",
        lower(sla_text(kind)) AS kind,
        sla_text(old_value) AS old_value,
        sla_text(new_value) AS new_value,
        lower(sla_text(actor_type)) AS actor_type
    FROM raw
)
SELECT
    *,
    CASE
        WHEN ticket_id IS NULL THEN 'missing_required_field:ticket_id'
        WHEN sla_blank(at_raw) THEN 'missing_required_field:at'
        WHEN kind IS NULL THEN 'missing_required_field:kind'
        WHEN "at" IS NULL THEN 'unparseable_timestamp:at'
        WHEN NOT list_contains($kinds, kind) THEN 'unknown_value:kind'
        WHEN actor_type IS NOT NULL AND NOT list_contains($actors, actor_type)
            THEN 'unknown_value:actor_type'
        WHEN kind = 'status_change' AND new_value IS NULL
            THEN 'missing_required_field:new_value'
        WHEN kind = 'status_change' AND NOT list_contains($statuses, lower(new_value))
            THEN 'unknown_value:new_value'
        WHEN ticket_id NOT IN (SELECT ticket_id FROM tickets)
            THEN 'event_for_unknown_ticket:ticket_id'
        WHEN "at" < (SELECT created_at FROM tickets t WHERE t.ticket_id = parsed.ticket_id)
                    - INTERVAL 1 MINUTE
            THEN 'event_before_creation:at'
    END AS problem
FROM parsed;
