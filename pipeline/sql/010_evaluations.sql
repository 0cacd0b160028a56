-- Evaluation runs and their per-ticket, per-metric results. Results are keyed by
-- evaluation: a run is never overwritten, so two runs can always be compared.

CREATE TABLE evaluations (
    evaluation_id     BIGINT NOT NULL,
    policy_name       VARCHAR NOT NULL,
    policy_hash       VARCHAR NOT NULL,   -- sha256 of the policy file's canonical JSON
    policy_source     VARCHAR NOT NULL,   -- path, or 'built-in default'
    policy_document   VARCHAR NOT NULL,   -- the whole policy as JSON, for audits years later
    forced_version    VARCHAR,            -- set when every ticket was judged by one version
    as_of             TIMESTAMPTZ NOT NULL,
    month_from        VARCHAR,            -- YYYY-MM, inclusive
    month_to          VARCHAR,
    input_loads       VARCHAR NOT NULL,   -- JSON list of {load_id, sha256, path}
    input_fingerprint VARCHAR NOT NULL,   -- sha256 over the input loads' hashes
    package_version   VARCHAR NOT NULL,
    tickets_evaluated BIGINT,
    rows_written      BIGINT,
    started_at        TIMESTAMPTZ NOT NULL,
    finished_at       TIMESTAMPTZ
);

CREATE TABLE sla_results (
    evaluation_id            BIGINT NOT NULL,
    ticket_id                VARCHAR NOT NULL,
    metric                   VARCHAR NOT NULL,  -- first_response | resolution
    customer_id              VARCHAR,
    tier                     VARCHAR NOT NULL,  -- pioneer | professional | business | premium | unknown
    has_sla                  BOOLEAN NOT NULL,  -- the tier carries an SLA (else benchmark only)
    priority                 VARCHAR,
    channel                  VARCHAR,
    outage_line              BOOLEAN NOT NULL,  -- matched the policy's outage-line rule
    out_of_hours             BOOLEAN NOT NULL,  -- created outside the office calendar
    cause_domain             VARCHAR,
    billable                 BOOLEAN NOT NULL,  -- outage-line call caused on the customer's side
    policy_version           VARCHAR NOT NULL,
    policy_hash              VARCHAR NOT NULL,
    calendar                 VARCHAR NOT NULL,
    clock_start              TIMESTAMPTZ NOT NULL,
    clock_stop               TIMESTAMPTZ,       -- NULL while open at as_of
    elapsed_working_seconds  DOUBLE NOT NULL,   -- counted time: start..stop (or as_of) minus pauses and reopen gaps
    paused_working_seconds   DOUBLE NOT NULL,   -- working time spent in pause statuses
    gap_working_seconds      DOUBLE NOT NULL,   -- working time between a resolution and the next reopen
    reopens                  INTEGER NOT NULL,
    target_seconds           DOUBLE,            -- NULL: no target (e.g. outage line first response by default)
    limit_seconds            DOUBLE,
    deadline                 TIMESTAMPTZ,       -- the instant the limit is (or was) reached
    status                   VARCHAR NOT NULL,  -- met | met_late_target | breached | open_on_track
                                                -- | open_at_risk | open_breached | excluded | no_sla
    benchmark_status         VARCHAR,           -- for no-SLA tiers: the status against the benchmark tier's targets
    exclusion_rule           VARCHAR,           -- the rule that excluded the ticket, or why there is no SLA
    late_working_seconds     DOUBLE,            -- elapsed - limit when over the limit
    month                    VARCHAR            -- YYYY-MM the row counts in (report time zone)
);
