-- Rows of a tickets file that passed every check but were not stored, because the
-- warehouse holds a newer version of their ticket (by updated_at): they were
-- counted as accepted and then dropped without a trace. Each is now kept, like a
-- rejected row, with its line, ticket, reason (older_than_stored) and raw text.
-- loads.accepted keeps meaning "passed the checks" (rows_read = accepted + rejected);
-- loads.not_applied is how many of them were not stored.
ALTER TABLE loads ADD COLUMN not_applied BIGINT NOT NULL DEFAULT 0;

CREATE TABLE not_applied_rows (
    load_id      BIGINT NOT NULL,
    file         VARCHAR NOT NULL,
    line_number  BIGINT,             -- as in rejected_rows
    ticket_id    VARCHAR NOT NULL,
    field        VARCHAR,            -- updated_at: the version compared
    reason_code  VARCHAR NOT NULL,   -- older_than_stored
    message      VARCHAR,            -- both versions' updated_at and the stored one's load
    raw          VARCHAR             -- the raw row as read
);
