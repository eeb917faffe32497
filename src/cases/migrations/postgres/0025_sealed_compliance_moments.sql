-- Sealed compliance changes by moment (ADR 84): a seal's cells of 0007 hold what
-- changed from the seal before it; these tables hold the same changes at the
-- moments they were recorded, so a report as of a moment between two seals adds
-- to the earlier seal's cells the later seal's changes up to that moment, instead
-- of reading the rows.
--
-- compliance_sealed_count_moments: per cell and figure that changed, `moments`
-- (microseconds since the epoch, ascending, 8 bytes big-endian each) and `counts`
-- (the figure's change from the seal before up to and including each moment, as
-- many, 8 bytes big-endian each).
-- compliance_sealed_duration_moments: per cell and measure, the durations that
-- came to count (microseconds), in the order of the moments they came to count
-- at (`moments`, as above), 8 bytes big-endian each.
--
-- The vehicle layer's (0023) in the same way, its durations that left the group
-- `none` at the moments their cases were first escalated kept as `removed` ones.
--
-- The customer layer's (0024) a row per cell, as its cells: `moments`, `figures`
-- (each change's figure, its place in `compliance_seal.FIGURES`) and `changes`,
-- one 8-byte big-endian integer per change each, in the moments' order; per
-- measure, `<measure>_moments` and `<measure>` as above (empty: none).
--
-- compliance_seals.moments: whether the seal's changes are kept by moment. Seals
-- made before this migration are not: between them a report reads the rows, as
-- before. The projection's later seals are, and a rebuild seals every month
-- with them.

ALTER TABLE compliance_seals ADD COLUMN moments BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE compliance_sealed_count_moments (
    sealed_at TIMESTAMPTZ NOT NULL,
    received_month TEXT COLLATE "C" NOT NULL,
    month TEXT COLLATE "C" NOT NULL,
    severity TEXT COLLATE "C" NOT NULL,
    category TEXT COLLATE "C" NOT NULL,
    figure TEXT COLLATE "C" NOT NULL,
    moments BYTEA NOT NULL,
    counts BYTEA NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month, severity, category, figure)
);
ALTER TABLE compliance_sealed_count_moments ALTER COLUMN moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_count_moments ALTER COLUMN counts SET STORAGE EXTERNAL;

CREATE TABLE compliance_sealed_duration_moments (
    sealed_at TIMESTAMPTZ NOT NULL,
    received_month TEXT COLLATE "C" NOT NULL,
    month TEXT COLLATE "C" NOT NULL,
    severity TEXT COLLATE "C" NOT NULL,
    category TEXT COLLATE "C" NOT NULL,
    measure TEXT COLLATE "C" NOT NULL,
    moments BYTEA NOT NULL,
    durations BYTEA NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month, severity, category, measure)
);
ALTER TABLE compliance_sealed_duration_moments ALTER COLUMN moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_duration_moments ALTER COLUMN durations SET STORAGE EXTERNAL;

CREATE TABLE compliance_sealed_vehicle_count_moments (
    sealed_at TIMESTAMPTZ NOT NULL,
    received_month TEXT COLLATE "C" NOT NULL,
    month TEXT COLLATE "C" NOT NULL,
    severity TEXT COLLATE "C" NOT NULL,
    category TEXT COLLATE "C" NOT NULL,
    vehicle TEXT COLLATE "C" NOT NULL,
    figure TEXT COLLATE "C" NOT NULL,
    moments BYTEA NOT NULL,
    counts BYTEA NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month, severity, category, vehicle, figure)
);
ALTER TABLE compliance_sealed_vehicle_count_moments ALTER COLUMN moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_vehicle_count_moments ALTER COLUMN counts SET STORAGE EXTERNAL;

CREATE TABLE compliance_sealed_vehicle_duration_moments (
    sealed_at TIMESTAMPTZ NOT NULL,
    received_month TEXT COLLATE "C" NOT NULL,
    month TEXT COLLATE "C" NOT NULL,
    severity TEXT COLLATE "C" NOT NULL,
    category TEXT COLLATE "C" NOT NULL,
    vehicle TEXT COLLATE "C" NOT NULL,
    measure TEXT COLLATE "C" NOT NULL,
    removed BOOLEAN NOT NULL,
    moments BYTEA NOT NULL,
    durations BYTEA NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month, severity, category, vehicle, measure, removed)
);
ALTER TABLE compliance_sealed_vehicle_duration_moments ALTER COLUMN moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_vehicle_duration_moments ALTER COLUMN durations SET STORAGE EXTERNAL;

CREATE TABLE compliance_sealed_customer_cell_moments (
    sealed_at TIMESTAMPTZ NOT NULL,
    received_month TEXT COLLATE "C" NOT NULL,
    month TEXT COLLATE "C" NOT NULL,
    customer TEXT COLLATE "C" NOT NULL,
    moments BYTEA NOT NULL,
    figures BYTEA NOT NULL,
    changes BYTEA NOT NULL,
    fr_moments BYTEA NOT NULL,
    fr BYTEA NOT NULL,
    res_moments BYTEA NOT NULL,
    res BYTEA NOT NULL,
    nu_moments BYTEA NOT NULL,
    nu BYTEA NOT NULL,
    to_escalate_moments BYTEA NOT NULL,
    to_escalate BYTEA NOT NULL,
    vendor_moments BYTEA NOT NULL,
    vendor BYTEA NOT NULL,
    PRIMARY KEY (customer, month, received_month, sealed_at)
);
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN figures SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN changes SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN fr_moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN fr SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN res_moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN res SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN nu_moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN nu SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN to_escalate_moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN to_escalate SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN vendor_moments SET STORAGE EXTERNAL;
ALTER TABLE compliance_sealed_customer_cell_moments ALTER COLUMN vendor SET STORAGE EXTERNAL;
