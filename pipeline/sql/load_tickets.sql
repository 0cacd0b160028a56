-- Parse and check a staged tickets file (`raw`: canonical columns as text, _line,
-- _raw). Every row gets either problem = NULL (accepted) or 'reason_code:field'.
CREATE OR REPLACE TEMP TABLE checked AS
WITH parsed AS (
    SELECT
        _line,
        sla_text(ticket_id) AS ticket_id,
        coalesce(sla_text(source_system), $source) AS source_system,
        sla_text(customer_id) AS customer_id,
        created_at AS created_raw,
        first_response_at AS first_response_raw,
        resolved_at AS resolved_raw,
        closed_at AS closed_raw,
        updated_at AS updated_raw,
        sla_ts(created_at, $tz) AS created_at,
        sla_ts(first_response_at, $tz) AS first_response_at,
        sla_ts(resolved_at, $tz) AS resolved_at,
        sla_ts(closed_at, $tz) AS closed_at,
        sla_ts(updated_at, $tz) AS updated_given,
        -- As written, for the value at fault of a rejected row (`value` below).
        priority AS priority_raw,
        channel AS channel_raw,
        status AS status_raw,
        cause_domain AS cause_domain_raw,
        lower(sla_text(priority)) AS priority,
        lower(sla_text(channel)) AS channel,
        sla_text(category) AS category,
        lower(sla_text(status)) AS status,
        requires_it_release AS it_release_raw,
        sla_bool(requires_it_release) AS requires_it_release,
        coalesce(lower(sla_text(cause_domain)), 'unknown') AS cause_domain,
        sla_text(subject) AS subject,
        _separators,
        _row
    FROM raw
),
judged AS (
SELECT
    p.*,
    coalesce(
        updated_given, greatest(created_at, first_response_at, resolved_at, closed_at)
    ) AS updated_at,
    CASE
        WHEN ticket_id IS NULL THEN 'missing_required_field:ticket_id'
        WHEN created_at IS NULL AND sla_blank(created_raw)
            THEN 'missing_required_field:created_at'
        WHEN customer_id IS NULL THEN 'missing_required_field:customer_id'
        WHEN created_at IS NULL THEN 'unparseable_timestamp:created_at'
        WHEN first_response_at IS NULL AND NOT sla_blank(first_response_raw)
            THEN 'unparseable_timestamp:first_response_at'
        WHEN resolved_at IS NULL AND NOT sla_blank(resolved_raw)
            THEN 'unparseable_timestamp:resolved_at'
        WHEN closed_at IS NULL AND NOT sla_blank(closed_raw)
            THEN 'unparseable_timestamp:closed_at'
        WHEN updated_given IS NULL AND NOT sla_blank(updated_raw)
            THEN 'unparseable_timestamp:updated_at'
        WHEN sla_out_of_range(created_at, $counted_from, $counted_to)
            THEN 'timestamp_out_of_range:created_at'
        WHEN sla_out_of_range(first_response_at, $counted_from, $counted_to)
            THEN 'timestamp_out_of_range:first_response_at'
        WHEN sla_out_of_range(resolved_at, $counted_from, $counted_to)
            THEN 'timestamp_out_of_range:resolved_at'
        WHEN sla_out_of_range(closed_at, $counted_from, $counted_to)
            THEN 'timestamp_out_of_range:closed_at'
        WHEN sla_out_of_range(updated_given, $counted_from, $counted_to)
            THEN 'timestamp_out_of_range:updated_at'
        WHEN priority IS NOT NULL AND NOT list_contains($priorities, priority)
            THEN 'unknown_value:priority'
        WHEN channel IS NOT NULL AND NOT list_contains($channels, channel)
            THEN 'unknown_value:channel'
        WHEN status IS NOT NULL AND NOT list_contains($statuses, status)
            THEN 'unknown_value:status'
        WHEN NOT list_contains($cause_domains, cause_domain) THEN 'unknown_value:cause_domain'
        WHEN requires_it_release IS NULL THEN 'invalid_boolean:requires_it_release'
        WHEN first_response_at < created_at THEN 'response_before_creation:first_response_at'
        WHEN resolved_at < created_at THEN 'resolved_before_created:resolved_at'
        WHEN closed_at < created_at THEN 'closed_before_created:closed_at'
        WHEN customer_id NOT IN (SELECT customer_id FROM customers)
            THEN 'unknown_customer:customer_id'
    END AS problem,
    -- Without a source zone, the first timestamp field with no offset (the load stops).
    CASE WHEN $tz::VARCHAR IS NULL THEN
        CASE
            WHEN created_at IS NULL AND sla_naive(created_raw) THEN 'created_at'
            WHEN first_response_at IS NULL AND sla_naive(first_response_raw) THEN 'first_response_at'
            WHEN resolved_at IS NULL AND sla_naive(resolved_raw) THEN 'resolved_at'
            WHEN closed_at IS NULL AND sla_naive(closed_raw) THEN 'closed_at'
            WHEN updated_given IS NULL AND sla_naive(updated_raw) THEN 'updated_at'
        END
    END AS naive_field
FROM parsed p
)
SELECT
    * EXCLUDE (_row, priority_raw, channel_raw, status_raw, cause_domain_raw),
    CASE WHEN problem IS NOT NULL THEN sla_raw_text(_row) END AS raw_text,
    -- The text of the field at fault as the reader handed it (rejected_rows.value):
    -- a preset's raw record need not name the field (Zendesk's metric_set.solved_at).
    CASE split_part(problem, ':', 2)
        WHEN 'ticket_id' THEN ticket_id
        WHEN 'customer_id' THEN customer_id
        WHEN 'created_at' THEN created_raw
        WHEN 'first_response_at' THEN first_response_raw
        WHEN 'resolved_at' THEN resolved_raw
        WHEN 'closed_at' THEN closed_raw
        WHEN 'updated_at' THEN updated_raw
        WHEN 'priority' THEN priority_raw
        WHEN 'channel' THEN channel_raw
        WHEN 'status' THEN status_raw
        WHEN 'cause_domain' THEN cause_domain_raw
        WHEN 'requires_it_release' THEN it_release_raw
    END AS value
FROM judged;

-- The same ticket twice in one file: identical copies are one ticket; copies that
-- disagree are all rejected, since nothing says which one is right. Only ids that
-- occur more than once are compared (usually none), not the whole file.
CREATE OR REPLACE TEMP TABLE repeated AS
WITH content AS (
    SELECT _line, ticket_id,
           row(source_system, customer_id, created_at, first_response_at, resolved_at,
               closed_at, priority, channel, category, status, requires_it_release,
               cause_domain, subject, updated_at) AS content
    FROM checked
    WHERE problem IS NULL AND ticket_id IN (
        SELECT ticket_id FROM checked WHERE problem IS NULL
        GROUP BY ticket_id HAVING count(*) > 1
    )
)
SELECT
    _line,
    count(DISTINCT content) OVER (PARTITION BY ticket_id) > 1 AS conflicting,
    row_number() OVER (PARTITION BY ticket_id, content ORDER BY _line) > 1 AS is_copy
FROM content;

UPDATE checked SET problem = 'duplicate_conflicting:ticket_id', value = ticket_id
WHERE _line IN (SELECT _line FROM repeated WHERE conflicting);

-- A ticket id stored from another source system is another desk's ticket (two desks
-- that both number from 1, or a migration): replacing it would lose that ticket and
-- give its events to this one. Rejected, unless the stored row came from an earlier
-- reading of this very file (read again, it was misread, not another desk's).
UPDATE checked SET problem = 'id_from_other_source:ticket_id', value = ticket_id
WHERE problem IS NULL AND _line IN (
    SELECT c._line
    FROM checked c JOIN tickets t USING (ticket_id)
    WHERE c.problem IS NULL AND t.source_system <> c.source_system
      AND t.load_id NOT IN (SELECT load_id FROM loads WHERE sha256 = $sha AND kind = 'tickets')
);
