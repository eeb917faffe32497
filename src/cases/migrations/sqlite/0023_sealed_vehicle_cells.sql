-- Sealed compliance figures by escalation vehicle (ADR 72): cells as those of
-- 0007, with the vehicle a case was grouped under as of the seal (`none` while
-- not escalated; a case escalated through two vehicles counts under both), so
-- a report by vehicle, alone or with month, severity and category, adds up
-- cells instead of reading every row. A case escalated after a seal leaves
-- `none`: its counts change by negative amounts, and its durations counted
-- under `none` are kept as `removed` ones, taken out of the group's multiset
-- when the report selects its percentiles.
--
-- Every seal is dropped: a seal without these cells could not serve a report
-- by vehicle. The service-levels projection seals again on its next batch, from
-- the month start before that batch's earliest fact (its first seal holds
-- everything before); a rebuild seals every month again.

DELETE FROM compliance_sealed_counts;
DELETE FROM compliance_sealed_durations;
DELETE FROM compliance_seals;

CREATE TABLE compliance_sealed_vehicle_counts (
    sealed_at TEXT NOT NULL,
    received_month TEXT NOT NULL,
    month TEXT NOT NULL,
    severity TEXT NOT NULL,
    category TEXT NOT NULL,
    vehicle TEXT NOT NULL,
    figure TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month, severity, category, vehicle, figure)
);

CREATE TABLE compliance_sealed_vehicle_durations (
    sealed_at TEXT NOT NULL,
    vehicle TEXT NOT NULL,
    received_month TEXT NOT NULL,
    month TEXT NOT NULL,
    severity TEXT NOT NULL,
    category TEXT NOT NULL,
    measure TEXT NOT NULL,
    removed INTEGER NOT NULL,
    durations BLOB NOT NULL,
    PRIMARY KEY (sealed_at, vehicle, received_month, month, severity, category, measure, removed)
);
