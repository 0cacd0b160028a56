-- The files the report rests on, as the method section lists them. A reload of an
-- unchanged file changed nothing, so it is not an input.
SELECT load_id, kind, path, sha256, rows_read, accepted, rejected, flagged, unchanged
FROM loads
WHERE finished_at IS NOT NULL AND NOT unchanged
ORDER BY load_id
