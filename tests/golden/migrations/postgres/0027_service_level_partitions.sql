-- The service levels' partitions (ADR 90): each partition's batch keeps here, in
-- its own transaction, the earliest and the latest moment recorded among the
-- facts it has applied. The sealer reads them beside the partitions' tracking
-- rows (named `service_levels/k-of-n`, as these rows are) to decide which month
-- starts every partition has passed. Empty while one runner keeps the service
-- levels.
CREATE TABLE service_level_partitions (
    name TEXT PRIMARY KEY,
    earliest_recorded_at TIMESTAMPTZ,
    latest_recorded_at TIMESTAMPTZ
);
