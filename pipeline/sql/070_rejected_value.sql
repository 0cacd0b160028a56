-- The value at fault of a rejected row: the text of its field as the reader handed
-- it to the loader's checks. `sla status --rejected` used to find it in the raw
-- row by the field's name, which a preset's raw record need not hold (Zendesk's
-- `metric_set.solved_at` for resolved_at, an event's time on its parent record):
-- such rows showed no value. NULL for a row without a field (skipped_by_mapping),
-- an empty field, and rows rejected before this was recorded (whose value is
-- still looked for in the raw row).
ALTER TABLE rejected_rows ADD COLUMN value VARCHAR;
