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

ALTER TABLE compliance_seals ADD COLUMN moments INTEGER NOT NULL DEFAULT 0;

CREATE TABLE compliance_sealed_count_moments (
    sealed_at TEXT NOT NULL,
    received_month TEXT NOT NULL,
    month TEXT NOT NULL,
    severity TEXT NOT NULL,
    category TEXT NOT NULL,
    figure TEXT NOT NULL,
    moments BLOB NOT NULL,
    counts BLOB NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month, severity, category, figure)
);

CREATE TABLE compliance_sealed_duration_moments (
    sealed_at TEXT NOT NULL,
    received_month TEXT NOT NULL,
    month TEXT NOT NULL,
    severity TEXT NOT NULL,
    category TEXT NOT NULL,
    measure TEXT NOT NULL,
    moments BLOB NOT NULL,
    durations BLOB NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month, severity, category, measure)
);

CREATE TABLE compliance_sealed_vehicle_count_moments (
    sealed_at TEXT NOT NULL,
    received_month TEXT NOT NULL,
    month TEXT NOT NULL,
    severity TEXT NOT NULL,
    category TEXT NOT NULL,
    vehicle TEXT NOT NULL,
    figure TEXT NOT NULL,
    moments BLOB NOT NULL,
    counts BLOB NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month, severity, category, vehicle, figure)
);

CREATE TABLE compliance_sealed_vehicle_duration_moments (
    sealed_at TEXT NOT NULL,
    received_month TEXT NOT NULL,
    month TEXT NOT NULL,
    severity TEXT NOT NULL,
    category TEXT NOT NULL,
    vehicle TEXT NOT NULL,
    measure TEXT NOT NULL,
    removed INTEGER NOT NULL,
    moments BLOB NOT NULL,
    durations BLOB NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month, severity, category, vehicle, measure, removed)
);

CREATE TABLE compliance_sealed_customer_cell_moments (
    sealed_at TEXT NOT NULL,
    received_month TEXT NOT NULL,
    month TEXT NOT NULL,
    customer TEXT NOT NULL,
    moments BLOB NOT NULL,
    figures BLOB NOT NULL,
    changes BLOB NOT NULL,
    fr_moments BLOB NOT NULL,
    fr BLOB NOT NULL,
    res_moments BLOB NOT NULL,
    res BLOB NOT NULL,
    nu_moments BLOB NOT NULL,
    nu BLOB NOT NULL,
    to_escalate_moments BLOB NOT NULL,
    to_escalate BLOB NOT NULL,
    vendor_moments BLOB NOT NULL,
    vendor BLOB NOT NULL,
    PRIMARY KEY (customer, month, received_month, sealed_at)
);
