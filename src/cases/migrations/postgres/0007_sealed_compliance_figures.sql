-- Sealed compliance figures (ADR 30): what the service-level tables said as of
-- each seal moment (the start of a UTC month), kept per cell of (the UTC month of
-- receipt, month of receipt in the service hours' time zone, severity, category),
-- so a report as of a moment M reads the cells of the seals up to M and only the
-- rows touched after the last of them (their last_recorded_at), instead of every
-- row of its period.
--
-- last_recorded_at: the latest moment recorded in the row (the greatest of its
-- *_recorded_at columns), so the rows a fact recorded after S touched are found
-- through an index. Columns are written once, so a row's figures as of S are the
-- same now as when the cells were sealed.

ALTER TABLE service_level_cases ADD COLUMN last_recorded_at TIMESTAMPTZ;
UPDATE service_level_cases SET last_recorded_at = GREATEST(
    received_recorded_at, fr_fulfilled_recorded_at, fr_breach_recorded_at,
    fr_breach_withdrawn_recorded_at, res_fulfilled_recorded_at, res_breach_recorded_at,
    res_breach_withdrawn_recorded_at, reopened_recorded_at, escalated_recorded_at);
ALTER TABLE service_level_cases ALTER COLUMN last_recorded_at SET NOT NULL;
CREATE INDEX service_level_cases_last_recorded ON service_level_cases (last_recorded_at);

ALTER TABLE service_level_updates ADD COLUMN last_recorded_at TIMESTAMPTZ;
UPDATE service_level_updates SET last_recorded_at = GREATEST(
    escalated_recorded_at, nu_fulfilled_recorded_at, nu_breach_recorded_at,
    nu_breach_withdrawn_recorded_at);
ALTER TABLE service_level_updates ALTER COLUMN last_recorded_at SET NOT NULL;
CREATE INDEX service_level_updates_last_recorded ON service_level_updates (last_recorded_at);

ALTER TABLE service_level_escalations ADD COLUMN last_recorded_at TIMESTAMPTZ;
UPDATE service_level_escalations SET last_recorded_at = GREATEST(
    escalated_recorded_at, vendor_fulfilled_recorded_at, vendor_breach_recorded_at,
    vendor_breach_withdrawn_recorded_at);
ALTER TABLE service_level_escalations ALTER COLUMN last_recorded_at SET NOT NULL;
CREATE INDEX service_level_escalations_last_recorded
    ON service_level_escalations (last_recorded_at);

-- The seals, one per month start, and the latest recorded moment the projection
-- has seen (once it passes the next month's start by the grace, it seals that
-- month). The cells of a seal hold what changed from the seal before it to it;
-- the first seal's, everything as of it. So a report as of M adds up the cells
-- of every seal at or before M.
CREATE TABLE compliance_seal (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    latest_recorded_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE compliance_seals (
    sealed_at TIMESTAMPTZ PRIMARY KEY
);

-- A cell's counts (changes to them, after the first seal), one row per figure
-- (named as the report's statements name them, e.g. fr_counts.1 or breaches.vendor).
CREATE TABLE compliance_sealed_counts (
    sealed_at TIMESTAMPTZ NOT NULL,
    received_month TEXT COLLATE "C" NOT NULL,
    month TEXT COLLATE "C" NOT NULL,
    severity TEXT COLLATE "C" NOT NULL,
    category TEXT COLLATE "C" NOT NULL,
    figure TEXT COLLATE "C" NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month, severity, category, figure)
);

-- A cell's durations of one measure (fr, res, nu, to_escalate, vendor) that came
-- to count by the seal (since the seal before): microseconds, sorted, each 8
-- bytes big-endian.
CREATE TABLE compliance_sealed_durations (
    sealed_at TIMESTAMPTZ NOT NULL,
    received_month TEXT COLLATE "C" NOT NULL,
    month TEXT COLLATE "C" NOT NULL,
    severity TEXT COLLATE "C" NOT NULL,
    category TEXT COLLATE "C" NOT NULL,
    measure TEXT COLLATE "C" NOT NULL,
    durations BYTEA NOT NULL,
    PRIMARY KEY (sealed_at, received_month, month, severity, category, measure)
);
ALTER TABLE compliance_sealed_durations ALTER COLUMN durations SET STORAGE EXTERNAL;
