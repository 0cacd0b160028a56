-- Parse and check a staged events file (`raw`). Every row gets either
-- problem = NULL (accepted) or 'reason_code:field'.
CREATE OR REPLACE TEMP TABLE checked AS
WITH parsed AS (
    SELECT
        r._line,
        sla_text(r.ticket_id) AS ticket_id,
        r."at" AS at_raw,
        sla_ts(r."at", $tz) AS "at",
        -- As written, for the value at fault of a rejected row (`value` below).
        r.kind AS kind_raw,
        r.old_value AS old_value_raw,
        r.new_value AS new_value_raw,
        r.actor_type AS actor_type_raw,
        lower(sla_text(r.kind)) AS kind,
        sla_text(r.old_value) AS old_value,
        sla_text(r.new_value) AS new_value,
        lower(sla_text(r.actor_type)) AS actor_type,
        r._separators,
        r._row
    FROM raw r
),
judged AS (
SELECT
    -- Statuses and priorities are case-insensitive, like the tickets' fields; the
    -- evaluation reads a priority change's old value (the priority before it).
    p.* REPLACE (
        CASE WHEN p.kind = 'priority_change' THEN lower(p.old_value) ELSE p.old_value END
            AS old_value,
        CASE WHEN p.kind IN ('status_change', 'priority_change') THEN lower(p.new_value)
             ELSE p.new_value END AS new_value
    ),
    CASE
        WHEN p.ticket_id IS NULL THEN 'missing_required_field:ticket_id'
        WHEN p."at" IS NULL AND sla_blank(p.at_raw) THEN 'missing_required_field:at'
        WHEN p.kind IS NULL THEN 'missing_required_field:kind'
        WHEN p."at" IS NULL THEN 'unparseable_timestamp:at'
        WHEN sla_out_of_range(p."at", $counted_from, $counted_to) THEN 'timestamp_out_of_range:at'
        WHEN NOT list_contains($kinds, p.kind) THEN 'unknown_value:kind'
        WHEN p.actor_type IS NOT NULL AND NOT list_contains($actors, p.actor_type)
            THEN 'unknown_value:actor_type'
        WHEN p.kind = 'status_change' AND p.new_value IS NULL
            THEN 'missing_required_field:new_value'
        WHEN p.kind = 'status_change' AND NOT list_contains($statuses, lower(p.new_value))
            THEN 'unknown_value:new_value'
        WHEN p.kind = 'priority_change' AND p.old_value IS NOT NULL
             AND NOT list_contains($priorities, lower(p.old_value))
            THEN 'unknown_value:old_value'
        WHEN p.kind = 'priority_change' AND p.new_value IS NOT NULL
             AND NOT list_contains($priorities, lower(p.new_value))
            THEN 'unknown_value:new_value'
        WHEN t.ticket_id IS NULL THEN 'event_for_unknown_ticket:ticket_id'
        -- An export's own ticket rejected as id_from_other_source: its events are
        -- not the stored ticket's (another desk's) either.
        WHEN $source::VARCHAR IS NOT NULL AND t.source_system <> $source
            THEN 'id_from_other_source:ticket_id'
        WHEN p."at" < t.created_at - INTERVAL 1 MINUTE THEN 'event_before_creation:at'
    END AS problem,
    CASE WHEN $tz::VARCHAR IS NULL AND p."at" IS NULL AND sla_naive(p.at_raw) THEN 'at' END
        AS naive_field
FROM parsed p
LEFT JOIN tickets t ON t.ticket_id = p.ticket_id
)
SELECT
    * EXCLUDE (_row, kind_raw, old_value_raw, new_value_raw, actor_type_raw),
    CASE WHEN problem IS NOT NULL THEN sla_raw_text(_row) END AS raw_text,
    -- The text of the field at fault as the reader handed it (rejected_rows.value):
    -- a preset's raw record need not hold it (a Zendesk event's time is its parent's).
    CASE split_part(problem, ':', 2)
        WHEN 'ticket_id' THEN ticket_id
        WHEN 'at' THEN at_raw
        WHEN 'kind' THEN kind_raw
        WHEN 'old_value' THEN old_value_raw
        WHEN 'new_value' THEN new_value_raw
        WHEN 'actor_type' THEN actor_type_raw
    END AS value,
    -- Narrows the search for repeats (load_events_merge.sql); rows are compared by value.
    hash(ticket_id, "at", kind, old_value, new_value, actor_type) AS content_hash
FROM judged;
