-- Retention of evaluation runs (`sla evaluations list` / `prune`, pipeline/retention.py).
-- made_by: what stored the run (evaluate | report | verify); NULL for runs stored
-- before this was recorded, which `sla evaluations list` shows as unknown.
-- pruned_at: when the run's sla_results rows were removed by a prune; NULL while
-- they are stored. The evaluations row itself is never removed: its policy
-- document is what `sla audit verify` re-runs a report's manifest with, and it is
-- the record of what was evaluated, when and on which inputs.
ALTER TABLE evaluations ADD COLUMN made_by VARCHAR;
ALTER TABLE evaluations ADD COLUMN pruned_at TIMESTAMPTZ;
