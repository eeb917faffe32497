-- The customer layer's cells packed a row per seal and months (ADR 85): a seal's
-- cells of one UTC month of receipt and one month of receipt in the service
-- hours' time zone are one row, not a row per customer (ADR 79). A report by
-- customer read about 120 000 rows a year at 1 000 000 cases, and grouped them on
-- the server; now it reads about 25 rows a seal and unpacks each column at once.
--
-- names: the cells' customers, in order, each UTF-8 and followed by a NUL byte
-- (no customer id holds one). Every other column holds the cells' blobs one
-- after another, each integer 8 bytes big-endian (as int8send):
-- counts: each cell's figures in the order of `compliance_seal.FIGURES`;
-- {m}_lengths: each cell's number of durations of measure m; {m}: those
-- durations in microseconds, sorted within each cell.
-- By moment (ADR 84): lengths: each cell's number of changes; moments, figures,
-- changes: each change's moment (microseconds since the epoch), figure (its place
-- in FIGURES) and change, in order of moment within each cell; {m}_lengths,
-- {m}_moments, {m}: each cell's number of durations that came to count, their
-- moments and the durations.
--
-- Every seal is dropped, as in 0024: the service-levels projection seals again
-- on its next batch (its first seal holds everything before); a rebuild seals
-- every month again.

DELETE FROM compliance_sealed_counts;
DELETE FROM compliance_sealed_durations;
DELETE FROM compliance_sealed_vehicle_counts;
DELETE FROM compliance_sealed_vehicle_durations;
DELETE FROM compliance_sealed_count_moments;
DELETE FROM compliance_sealed_duration_moments;
DELETE FROM compliance_sealed_vehicle_count_moments;
DELETE FROM compliance_sealed_vehicle_duration_moments;
DELETE FROM compliance_seals;
DROP TABLE compliance_sealed_customer_cells;
DROP TABLE compliance_sealed_customer_cell_moments;

CREATE TABLE compliance_sealed_customer_cells (
    sealed_at TEXT NOT NULL,
    received_month TEXT NOT NULL,
    month TEXT NOT NULL,
    names BLOB NOT NULL,
    counts BLOB NOT NULL,
    fr_lengths BLOB NOT NULL,
    fr BLOB NOT NULL,
    res_lengths BLOB NOT NULL,
    res BLOB NOT NULL,
    nu_lengths BLOB NOT NULL,
    nu BLOB NOT NULL,
    to_escalate_lengths BLOB NOT NULL,
    to_escalate BLOB NOT NULL,
    vendor_lengths BLOB NOT NULL,
    vendor BLOB NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month)
);

CREATE TABLE compliance_sealed_customer_cell_moments (
    sealed_at TEXT NOT NULL,
    received_month TEXT NOT NULL,
    month TEXT NOT NULL,
    names BLOB NOT NULL,
    lengths BLOB NOT NULL,
    moments BLOB NOT NULL,
    figures BLOB NOT NULL,
    changes BLOB NOT NULL,
    fr_lengths BLOB NOT NULL,
    fr_moments BLOB NOT NULL,
    fr BLOB NOT NULL,
    res_lengths BLOB NOT NULL,
    res_moments BLOB NOT NULL,
    res BLOB NOT NULL,
    nu_lengths BLOB NOT NULL,
    nu_moments BLOB NOT NULL,
    nu BLOB NOT NULL,
    to_escalate_lengths BLOB NOT NULL,
    to_escalate_moments BLOB NOT NULL,
    to_escalate BLOB NOT NULL,
    vendor_lengths BLOB NOT NULL,
    vendor_moments BLOB NOT NULL,
    vendor BLOB NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month)
);
