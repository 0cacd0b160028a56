-- The canonical model every source maps into. All instants are UTC TIMESTAMPTZ.
-- No PRIMARY KEY constraints: DuckDB checks them eagerly during bulk merges, so
-- uniqueness is enforced by the loader's merge statements (see load_*.sql).

CREATE TABLE loads (
    load_id       BIGINT NOT NULL,
    kind          VARCHAR NOT NULL,      -- tickets | events | customers
    path          VARCHAR NOT NULL,
    sha256        VARCHAR NOT NULL,
    format        VARCHAR NOT NULL,      -- csv | parquet | jsonl | xlsx | json
    preset        VARCHAR NOT NULL,      -- canonical | zendesk | freshdesk | jsm | servicenow | mapping
    mapping       VARCHAR,               -- the mapping used, as JSON
    source_tz     VARCHAR,               -- zone in which naive timestamps were read
    rows_read     BIGINT NOT NULL DEFAULT 0,
    accepted      BIGINT NOT NULL DEFAULT 0,
    rejected      BIGINT NOT NULL DEFAULT 0,
    flagged       BIGINT NOT NULL DEFAULT 0,
    unchanged     BOOLEAN NOT NULL DEFAULT FALSE,  -- same sha256 loaded before: nothing changed
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ
);

CREATE TABLE tickets (
    ticket_id            VARCHAR NOT NULL,
    source_system        VARCHAR NOT NULL,
    customer_id          VARCHAR,
    created_at           TIMESTAMPTZ NOT NULL,
    first_response_at    TIMESTAMPTZ,
    resolved_at          TIMESTAMPTZ,
    closed_at            TIMESTAMPTZ,
    priority             VARCHAR,        -- low | normal | high | critical
    channel              VARCHAR,        -- chat | email | phone | outage_line | web | api | other
    category             VARCHAR,
    status               VARCHAR,        -- new | open | waiting_on_customer | waiting_on_third_party | resolved | closed
    requires_it_release  BOOLEAN NOT NULL DEFAULT FALSE,
    cause_domain         VARCHAR NOT NULL DEFAULT 'unknown',  -- provider | customer | unknown
    subject              VARCHAR,
    updated_at           TIMESTAMPTZ NOT NULL,
    load_id              BIGINT NOT NULL
);

CREATE TABLE ticket_events (
    ticket_id   VARCHAR NOT NULL,
    "at"        TIMESTAMPTZ NOT NULL,  -- quoted: AT is a keyword in DuckDB
    kind        VARCHAR NOT NULL,   -- status_change | agent_reply | customer_reply | internal_note
                                    -- | priority_change | reopen | resolve | close
    old_value   VARCHAR,
    new_value   VARCHAR,
    actor_type  VARCHAR,            -- agent | customer | system
    load_id     BIGINT NOT NULL
);

CREATE TABLE customers (
    customer_id  VARCHAR NOT NULL,
    name         VARCHAR,
    load_id      BIGINT NOT NULL
);

CREATE TABLE plan_history (
    customer_id  VARCHAR NOT NULL,
    tier         VARCHAR NOT NULL,   -- pioneer | professional | business | premium
    valid_from   TIMESTAMPTZ NOT NULL,
    valid_to     TIMESTAMPTZ,        -- exclusive; NULL = still valid
    load_id      BIGINT NOT NULL
);

CREATE TABLE rejected_rows (
    load_id      BIGINT NOT NULL,
    file         VARCHAR NOT NULL,
    line_number  BIGINT,             -- 1-based line in the file (header = line 1), or record number
    field        VARCHAR,
    reason_code  VARCHAR NOT NULL,
    message      VARCHAR,
    raw          VARCHAR             -- the raw row as read
);

CREATE TABLE flagged_rows (
    load_id      BIGINT NOT NULL,
    ticket_id    VARCHAR,
    line_number  BIGINT,
    field        VARCHAR,
    flag_code    VARCHAR NOT NULL,   -- loaded, but suspicious (auto_response, created_in_future, ...)
    message      VARCHAR
);
