-- Service levels: the facts a compliance report reads (ADR 20).
--
-- Rows are written once per fact: every column a later fact fills is paired with
-- the moment that fact was RECORDED (the event's timestamp), so a report "as of"
-- a moment M reads only what was recorded at or before M and gives the same
-- figures when it is run again later, or after a rebuild. Durations are business
-- time in microseconds. Each clock outcome is a group of columns with one prefix:
--   <p>_elapsed_us, <p>_within (NULL: no target), <p>_fulfilled_recorded_at  (first fulfilment)
--   <p>_breached_at, <p>_breach_recorded_at, <p>_breach_withdrawn_recorded_at  (first breach)
-- The case's grouping attributes (customer, category, severity at receipt, month of
-- receipt in the service hours' time zone) are copied into every row, so each figure
-- is read from one table without a join; so is the moment the case was first
-- escalated (escalated_recorded_at), which a report by vehicle needs. Text that
-- reports group by sorts in byte order (COLLATE "C" on PostgreSQL), as SQLite does.

CREATE TABLE service_level_cases (
    case_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    month TEXT NOT NULL,
    received_at TEXT NOT NULL,
    received_recorded_at TEXT NOT NULL,
    terms_version INTEGER NOT NULL,
    fr_elapsed_us INTEGER,
    fr_within INTEGER,
    fr_fulfilled_recorded_at TEXT,
    fr_breached_at TEXT,
    fr_breach_recorded_at TEXT,
    fr_breach_withdrawn_recorded_at TEXT,
    res_elapsed_us INTEGER,
    res_within INTEGER,
    res_fulfilled_recorded_at TEXT,
    res_breached_at TEXT,
    res_breach_recorded_at TEXT,
    res_breach_withdrawn_recorded_at TEXT,
    reopened_recorded_at TEXT,
    escalated_recorded_at TEXT
);
CREATE INDEX service_level_cases_received ON service_level_cases (received_at);

-- One row per next-update clock (the time between two updates to the customer) that
-- was fulfilled or breached: one stopped in time (by the next update or the
-- resolution) counts in no figure and gets no row.
CREATE TABLE service_level_updates (
    case_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    month TEXT NOT NULL,
    received_at TEXT NOT NULL,
    escalated_recorded_at TEXT,
    nu_elapsed_us INTEGER,
    nu_within INTEGER,
    nu_fulfilled_recorded_at TEXT,
    nu_breached_at TEXT,
    nu_breach_recorded_at TEXT,
    nu_breach_withdrawn_recorded_at TEXT,
    PRIMARY KEY (case_id, number)
);
CREATE INDEX service_level_updates_received ON service_level_updates (received_at);

-- One row per escalation, with its vendor clock (escalated -> handed back);
-- vehicle_first: no earlier escalation of the case went through the same vehicle.
CREATE TABLE service_level_escalations (
    case_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    month TEXT NOT NULL,
    received_at TEXT NOT NULL,
    target TEXT NOT NULL,
    escalation_category TEXT NOT NULL,
    vehicle TEXT,
    vehicle_first INTEGER NOT NULL,
    escalated_recorded_at TEXT NOT NULL,
    to_escalate_us INTEGER,
    vendor_elapsed_us INTEGER,
    vendor_within INTEGER,
    vendor_fulfilled_recorded_at TEXT,
    vendor_breached_at TEXT,
    vendor_breach_recorded_at TEXT,
    vendor_breach_withdrawn_recorded_at TEXT,
    PRIMARY KEY (case_id, number)
);
CREATE INDEX service_level_escalations_received ON service_level_escalations (received_at);

-- Every breach of every clock, as recorded; withdrawn when a fact recorded later
-- shows the clock was fulfilled before its deadline. The first breach of each clock
-- is also in its outcome columns, where the report counts it; the others (a
-- resolution clock breached again after a reopen) are counted from here.
CREATE TABLE service_level_breaches (
    case_id TEXT NOT NULL,
    clock TEXT NOT NULL,
    number INTEGER NOT NULL,
    breached_at TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    month TEXT NOT NULL,
    received_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    withdrawn_recorded_at TEXT,
    first_of_clock INTEGER NOT NULL,
    PRIMARY KEY (case_id, clock, number, breached_at)
);
CREATE INDEX service_level_breaches_again ON service_level_breaches (received_at)
    WHERE NOT first_of_clock;

-- The clocks that may still run (a finished resolution clock stays: a reopen
-- resumes it): the deadline while running (NULL while paused, finished or without
-- a target) and whether a breach is recorded. The scheduled breach evaluation
-- finds the cases due at a moment through the partial index.
CREATE TABLE service_level_deadlines (
    case_id TEXT NOT NULL,
    clock TEXT NOT NULL,
    number INTEGER NOT NULL,
    deadline TEXT,
    breached INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (case_id, clock, number)
);
CREATE INDEX service_level_deadlines_due ON service_level_deadlines (deadline)
    WHERE deadline IS NOT NULL AND NOT breached;
