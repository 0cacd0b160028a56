-- A ticket created before the policy's first version is judged by none: its rows
-- are `no_sla` with reason `no_policy_in_force` and no policy version. The column
-- was NOT NULL, so such a policy (an SLA that began mid-year) could not be stored.
ALTER TABLE sla_results ALTER COLUMN policy_version DROP NOT NULL;
