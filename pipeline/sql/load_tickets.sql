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
        lower(sla_text(priority)) AS priority,
        lower(sla_text(channel)) AS channel,
        sla_text(category) AS category,
        lower(sla_text(status)) AS status,
        requires_it_release AS it_release_raw,
        sla_bool(requires_it_release) AS requires_it_release,
        coalesce(lower(sla_text(cause_domain)), 'unknown') AS cause_domain,
        sla_text(subject) AS subject
    FROM raw
)
SELECT
    p.*,
    coalesce(
        updated_given, greatest(created_at, first_response_at, resolved_at, closed_at)
    ) AS updated_at,
    CASE
        WHEN ticket_id IS NULL THEN 'missing_required_field:ticket_id'
        WHEN sla_blank(created_raw) THEN 'missing_required_field:created_at'
        WHEN customer_id IS NULL THEN 'missing_required_field:customer_id'
        WHEN created_at IS NULL THEN 'unparseable_timestamp:created_at'
        WHEN NOT sla_blank(first_response_raw) AND first_response_at IS NULL
            THEN 'unparseable_timestamp:first_response_at'
        WHEN NOT sla_blank(resolved_raw) AND resolved_at IS NULL
            THEN 'unparseable_timestamp:resolved_at'
        WHEN NOT sla_blank(closed_raw) AND closed_at IS NULL
            THEN 'unparseable_timestamp:closed_at'
        WHEN NOT sla_blank(updated_raw) AND updated_given IS NULL
            THEN 'unparseable_timestamp:updated_at'
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
    END AS problem
FROM parsed p;

-- The same ticket twice in one file: identical copies are one ticket; copies that
-- disagree are all rejected, since nothing says which one is right.
CREATE OR REPLACE TEMP TABLE checked AS
WITH content AS (
    SELECT *, hash(source_system, customer_id, created_at, first_response_at, resolved_at,
                   closed_at, priority, channel, category, status, requires_it_release,
                   cause_domain, subject, updated_at) AS content_hash
    FROM checked
),
conflicts AS (
    SELECT ticket_id FROM content WHERE problem IS NULL
    GROUP BY ticket_id HAVING count(DISTINCT content_hash) > 1
)
SELECT
    * EXCLUDE (problem, content_hash),
    CASE
        WHEN problem IS NULL AND ticket_id IN (SELECT ticket_id FROM conflicts)
            THEN 'duplicate_conflicting:ticket_id'
        ELSE problem
    END AS problem,
    row_number() OVER (PARTITION BY ticket_id, content_hash ORDER BY _line) > 1 AS is_copy
FROM content;
