-- Version 6 (issue 11, outcome unknown): the process incarnation that holds a delivery's lease.
--
-- post_deliveries.lease_instance_id: the `InstanceId` of the process that leased the delivery
--   (set with lease_expires_at, cleared with it). At start-up a lease held by any other
--   incarnation belongs to a process that is gone, so it is recovered at once (OUTCOME_UNKNOWN,
--   never sent again) instead of after the lease's 5 minutes. NULL on leases taken before this
--   version, which are recovered the same way.
ALTER TABLE post_deliveries ADD COLUMN lease_instance_id TEXT;
