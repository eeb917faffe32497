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
    sealed_at TIMESTAMPTZ NOT NULL,
    received_month TEXT COLLATE "C" NOT NULL,
    month TEXT COLLATE "C" NOT NULL,
    names BYTEA NOT NULL,
    counts BYTEA NOT NULL,
    fr_lengths BYTEA NOT NULL,
    fr BYTEA NOT NULL,
    res_lengths BYTEA NOT NULL,
    res BYTEA NOT NULL,
    nu_lengths BYTEA NOT NULL,
    nu BYTEA NOT NULL,
    to_escalate_lengths BYTEA NOT NULL,
    to_escalate BYTEA NOT NULL,
    vendor_lengths BYTEA NOT NULL,
    vendor BYTEA NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month)
);
ALTER TABLE compliance_sealed_customer_cells ALTER COLUMN names SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cells ALTER COLUMN counts SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cells ALTER COLUMN fr_lengths SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cells ALTER COLUMN fr SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cells ALTER COLUMN res_lengths SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cells ALTER COLUMN res SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cells ALTER COLUMN nu_lengths SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cells ALTER COLUMN nu SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cells ALTER COLUMN to_escalate_lengths SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cells ALTER COLUMN to_escalate SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cells ALTER COLUMN vendor_lengths SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cells ALTER COLUMN vendor SET STORAGE EXTERNAL;

CREATE TABLE compliance_sealed_customer_cell_moments (
    sealed_at TIMESTAMPTZ NOT NULL,
    received_month TEXT COLLATE "C" NOT NULL,
    month TEXT COLLATE "C" NOT NULL,
    names BYTEA NOT NULL,
    lengths BYTEA NOT NULL,
    moments BYTEA NOT NULL,
    figures BYTEA NOT NULL,
    changes BYTEA NOT NULL,
    fr_lengths BYTEA NOT NULL,
    fr_moments BYTEA NOT NULL,
    fr BYTEA NOT NULL,
    res_lengths BYTEA NOT NULL,
    res_moments BYTEA NOT NULL,
    res BYTEA NOT NULL,
    nu_lengths BYTEA NOT NULL,
    nu_moments BYTEA NOT NULL,
    nu BYTEA NOT NULL,
    to_escalate_lengths BYTEA NOT NULL,
    to_escalate_moments BYTEA NOT NULL,
    to_escalate BYTEA NOT NULL,
    vendor_lengths BYTEA NOT NULL,
    vendor_moments BYTEA NOT NULL,
    vendor BYTEA NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month)
);
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN names SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN lengths SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN figures SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN changes SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN fr_lengths SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN fr_moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN fr SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN res_lengths SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN res_moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN res SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN nu_lengths SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN nu_moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN nu SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN to_escalate_lengths SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN to_escalate_moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN to_escalate SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN vendor_lengths SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN vendor_moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN vendor SET STORAGE EXTERNAL;
