-- Sealed compliance figures by customer (ADR 79): one row per cell of (the UTC
-- month of receipt, month of receipt in the service hours' time zone, customer),
-- holding all of the cell's counts in one vector and each measure's durations in
-- one blob, so a report by customer (alone or with month) reads a row per cell
-- and seal (about 60 000 a year at 1 000 000 cases) instead of every row. A
-- customer never changes group, so, as in 0007, a cell of a later seal holds
-- what changed since the seal before it: counts added, durations that came to
-- count. The key starts with the customer: a report by customer reads the
-- cells in its groups' order (no sort).
--
-- counts: the figures in the order of `compliance_seal.FIGURES`, each 8 bytes
-- big-endian (as int8send). fr, res, nu, to_escalate, vendor: durations in
-- microseconds, sorted, 8 bytes big-endian each (empty: none).
--
-- Every seal is dropped: a seal without these cells could not serve a report by
-- customer. The service-levels projection seals again on its next batch (its
-- first seal holds everything before); a rebuild seals every month again.

DELETE FROM compliance_sealed_counts;
DELETE FROM compliance_sealed_durations;
DELETE FROM compliance_sealed_vehicle_counts;
DELETE FROM compliance_sealed_vehicle_durations;
DELETE FROM compliance_seals;

CREATE TABLE compliance_sealed_customer_cells (
    sealed_at TEXT NOT NULL,
    received_month TEXT NOT NULL,
    month TEXT NOT NULL,
    customer TEXT NOT NULL,
    counts BLOB NOT NULL,
    fr BLOB NOT NULL,
    res BLOB NOT NULL,
    nu BLOB NOT NULL,
    to_escalate BLOB NOT NULL,
    vendor BLOB NOT NULL,
    PRIMARY KEY (customer, month, received_month, sealed_at)
);
