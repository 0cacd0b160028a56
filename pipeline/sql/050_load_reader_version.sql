-- The version of the loader's reading (`load.READER_VERSION`) that read each file.
-- A loader fix that changes which rows a file yields, or their values, bumps it:
-- without it, reloading a file an older loader misread was skipped as unchanged
-- and kept the misread rows. A reload repeats an earlier reading only when that
-- reading was made by the same version. NULL: read before versions were recorded,
-- so such a file is read again on its next load.
ALTER TABLE loads ADD COLUMN reader_version INTEGER;
-- Why a load read a file whose content (and kind) was read before instead of
-- skipping it as unchanged: other settings, another reader version, or rows it
-- rejected for want of data loaded since. NULL: the file's first reading (or a
-- load skipped as unchanged, which read nothing).
ALTER TABLE loads ADD COLUMN read_again VARCHAR;
