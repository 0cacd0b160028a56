-- A tickets file read again (a new reading of the same content) removes the
-- tickets its earlier reading stored that the new reading does not name (another
-- id prefix, id column or id transform), and keeps those the new reading names but
-- rejected. How many of each, recorded with the new reading; NULL for a load that
-- read no tickets file again (and for loads before this was recorded).
ALTER TABLE loads ADD COLUMN earlier_removed BIGINT;
ALTER TABLE loads ADD COLUMN earlier_kept BIGINT;
