-- The prefix a load put before every ticket id of its file (`sla load --id-prefix`),
-- so that two desks that both number from 1 keep their tickets apart: recorded
-- with the load like its source zone, since the same file read with another
-- prefix stores other tickets (a new reading, not an unchanged one). NULL: none.
ALTER TABLE loads ADD COLUMN id_prefix VARCHAR;
