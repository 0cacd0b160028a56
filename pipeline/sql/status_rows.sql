-- The rejected, not-applied or flagged rows (`$what`), oldest load first, in file order,
-- with the value of the field at fault (see `value` below) and the later reading that
-- superseded the row's load, if any. Only the outstanding rows unless `$all`. A
-- file matches when its recorded path equals `$file`, or one ends in the other
-- after a '/' (loaded as data/x.csv, asked as x.csv).
WITH problem_rows AS (
    SELECT 'rejected' AS what, load_id, file, line_number, NULL::VARCHAR AS ticket_id, field,
           reason_code, message, raw, value AS staged_value
    FROM rejected_rows
    UNION ALL
    SELECT 'not_applied', load_id, file, line_number, ticket_id, field, reason_code, message, raw,
           NULL
    FROM not_applied_rows
    UNION ALL
    -- Flagged rows were loaded: no raw text is kept, the message says what was read.
    SELECT 'flagged', f.load_id, l.path, f.line_number, f.ticket_id, f.field, f.flag_code,
           f.message, NULL, NULL
    FROM flagged_rows f JOIN loads l USING (load_id)
),
columned AS (
    -- The export's column for the field when a mapping (or a mapping preset) read
    -- the file: the raw row names the export's columns, not the canonical fields.
    -- Other loads record their columns as a list, which gives NULL here.
    -- A canonical file's header may write a field otherwise ('Created_At ').
    SELECT p.*,
           coalesce(
               json_extract_string(l.mapping, '$.columns."' || replace(p.field, '"', '\"') || '"'),
               CASE WHEN l.preset = 'canonical' AND json_valid(p.raw) THEN
                   list_filter(json_keys(p.raw), lambda k: lower(trim(k)) = p.field)[1]
               END
           ) AS source_column
    FROM problem_rows p
    LEFT JOIN loads l USING (load_id)
),
chosen AS (
    SELECT
        p.load_id, p.file, p.line_number, p.ticket_id, p.field, p.source_column,
        p.reason_code, p.message,
        -- As the export writes it (a mapping's column before its format made ISO
        -- text of it), else as the reader staged it (recorded since migration 070:
        -- a preset's raw record need not name the field), else the raw row's key.
        coalesce(
            CASE WHEN p.source_column IS NOT NULL AND json_valid(p.raw)
                 THEN json_extract_string(
                     p.raw, '$."' || replace(p.source_column, '"', '\"') || '"'
                 ) END,
            p.staged_value,
            CASE WHEN p.field IS NOT NULL AND json_valid(p.raw)
                 THEN json_extract_string(p.raw, '$."' || replace(p.field, '"', '\"') || '"')
            END
        ) AS value,
        p.raw,
        s.superseded_by
    FROM columned p
    LEFT JOIN superseded_loads s USING (load_id)
    WHERE p.what = $what
      AND ($file::VARCHAR IS NULL OR p.file = $file OR ends_with(p.file, '/' || $file)
           OR ends_with($file, '/' || p.file))
      AND ($reason::VARCHAR IS NULL OR p.reason_code = $reason)
      AND ($all OR s.superseded_by IS NULL)
)
SELECT *, count(*) OVER () AS matching
FROM chosen
ORDER BY load_id, line_number
LIMIT $limit
