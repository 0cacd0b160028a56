-- A load whose file (same content and kind) was read again later gave way to that
-- reading (docs/canonical-format.md, "Loading a file again"): its rejected,
-- not-applied and flagged rows are history, kept for audit; the later reading's
-- rows are the outstanding ones. Reloads skipped as unchanged read nothing.
CREATE VIEW superseded_loads AS
SELECT l.load_id, min(d.load_id) AS superseded_by
FROM loads l
JOIN loads d
    ON d.sha256 = l.sha256 AND d.kind = l.kind AND d.load_id > l.load_id
    AND NOT d.unchanged AND d.finished_at IS NOT NULL
WHERE NOT l.unchanged
GROUP BY l.load_id;
