-- A tickets file read again as load $load_id: the tickets an earlier reading of it
-- stored and no later load replaced (they still carry that reading's load id) whose
-- ids this reading does not name (`reading_ids`: every id it read, accepted or
-- rejected) are gone from the file as now read (read with another id prefix, id
-- column or id transform): kept, they would stand beside this reading's tickets and
-- count twice. They are removed, with the events an earlier reading of the same
-- file stored for them (a preset's derived events). A ticket this reading names
-- but rejected keeps its stored version: nothing replaced it (the loader counts
-- those). A ticket another file updated since carries that file's load id and is
-- never touched. Run only when the file was read before: set-based, no row loop.
-- The earlier readings of the file: its tickets loads, and the events loads a
-- preset derived from the same file (`earlier_kept` counts what is left after).
CREATE OR REPLACE TEMP TABLE earlier_loads AS
SELECT load_id, kind FROM loads WHERE sha256 = $sha AND load_id < $load_id;

CREATE OR REPLACE TEMP TABLE earlier_gone AS
SELECT ticket_id FROM tickets
WHERE load_id IN (SELECT load_id FROM earlier_loads WHERE kind = 'tickets')
    AND ticket_id NOT IN (SELECT ticket_id FROM reading_ids);

DELETE FROM tickets
WHERE load_id IN (SELECT load_id FROM earlier_loads WHERE kind = 'tickets')
    AND ticket_id IN (SELECT ticket_id FROM earlier_gone);

DELETE FROM ticket_events
WHERE load_id IN (SELECT load_id FROM earlier_loads WHERE kind = 'events')
    AND ticket_id IN (SELECT ticket_id FROM earlier_gone);

CREATE OR REPLACE TEMP TABLE earlier_kept AS
SELECT count(*) AS tickets FROM tickets
WHERE load_id IN (SELECT load_id FROM earlier_loads WHERE kind = 'tickets');
