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
-- reports group by sorts in byte order (COLLATE "C" on PostgreSQL): as
-- SQLite does, and several times faster than a locale's.

CREATE TABLE service_level_cases (
    case_id {UUID} PRIMARY KEY,
    customer_id {SORTED_TEXT} NOT NULL,
    category {SORTED_TEXT} NOT NULL,
    severity {SORTED_TEXT} NOT NULL,
    month {SORTED_TEXT} NOT NULL,
    received_at {MOMENT} NOT NULL,
    received_recorded_at {MOMENT} NOT NULL,
    terms_version INTEGER NOT NULL,
    fr_elapsed_us {BIGINT},
    fr_within {BOOLEAN},
    fr_fulfilled_recorded_at {MOMENT},
    fr_breached_at {MOMENT},
    fr_breach_recorded_at {MOMENT},
    fr_breach_withdrawn_recorded_at {MOMENT},
    res_elapsed_us {BIGINT},
    res_within {BOOLEAN},
    res_fulfilled_recorded_at {MOMENT},
    res_breached_at {MOMENT},
    res_breach_recorded_at {MOMENT},
    res_breach_withdrawn_recorded_at {MOMENT},
    reopened_recorded_at {MOMENT},
    escalated_recorded_at {MOMENT}
);
CREATE INDEX service_level_cases_received ON service_level_cases (received_at);

-- One row per next-update clock (the time between two updates to the customer) that
-- was fulfilled or breached: one stopped in time (by the next update or the
-- resolution) counts in no figure and gets no row.
CREATE TABLE service_level_updates (
    case_id {UUID} NOT NULL,
    number INTEGER NOT NULL,
    customer_id {SORTED_TEXT} NOT NULL,
    category {SORTED_TEXT} NOT NULL,
    severity {SORTED_TEXT} NOT NULL,
    month {SORTED_TEXT} NOT NULL,
    received_at {MOMENT} NOT NULL,
    escalated_recorded_at {MOMENT},
    nu_elapsed_us {BIGINT},
    nu_within {BOOLEAN},
    nu_fulfilled_recorded_at {MOMENT},
    nu_breached_at {MOMENT},
    nu_breach_recorded_at {MOMENT},
    nu_breach_withdrawn_recorded_at {MOMENT},
    PRIMARY KEY (case_id, number)
);
CREATE INDEX service_level_updates_received ON service_level_updates (received_at);

-- One row per escalation, with its vendor clock (escalated -> handed back);
-- vehicle_first: no earlier escalation of the case went through the same vehicle.
CREATE TABLE service_level_escalations (
    case_id {UUID} NOT NULL,
    number INTEGER NOT NULL,
    customer_id {SORTED_TEXT} NOT NULL,
    category {SORTED_TEXT} NOT NULL,
    severity {SORTED_TEXT} NOT NULL,
    month {SORTED_TEXT} NOT NULL,
    received_at {MOMENT} NOT NULL,
    target {SORTED_TEXT} NOT NULL,
    escalation_category {SORTED_TEXT} NOT NULL,
    vehicle {SORTED_TEXT},
    vehicle_first {BOOLEAN} NOT NULL,
    escalated_recorded_at {MOMENT} NOT NULL,
    to_escalate_us {BIGINT},
    vendor_elapsed_us {BIGINT},
    vendor_within {BOOLEAN},
    vendor_fulfilled_recorded_at {MOMENT},
    vendor_breached_at {MOMENT},
    vendor_breach_recorded_at {MOMENT},
    vendor_breach_withdrawn_recorded_at {MOMENT},
    PRIMARY KEY (case_id, number)
);
CREATE INDEX service_level_escalations_received ON service_level_escalations (received_at);

-- Every breach of every clock, as recorded; withdrawn when a fact recorded later
-- shows the clock was fulfilled before its deadline. The first breach of each clock
-- is also in its outcome columns, where the report counts it; the others (a
-- resolution clock breached again after a reopen) are counted from here.
CREATE TABLE service_level_breaches (
    case_id {UUID} NOT NULL,
    clock {SORTED_TEXT} NOT NULL,
    number INTEGER NOT NULL,
    breached_at {MOMENT} NOT NULL,
    customer_id {SORTED_TEXT} NOT NULL,
    category {SORTED_TEXT} NOT NULL,
    severity {SORTED_TEXT} NOT NULL,
    month {SORTED_TEXT} NOT NULL,
    received_at {MOMENT} NOT NULL,
    recorded_at {MOMENT} NOT NULL,
    withdrawn_recorded_at {MOMENT},
    first_of_clock {BOOLEAN} NOT NULL,
    PRIMARY KEY (case_id, clock, number, breached_at)
);
CREATE INDEX service_level_breaches_again ON service_level_breaches (received_at)
    WHERE NOT first_of_clock;

-- The clocks that may still run (a finished resolution clock stays: a reopen
-- resumes it): the deadline while running (NULL while paused, finished or without
-- a target) and whether a breach is recorded. The scheduled breach evaluation
-- finds the cases due at a moment through the partial index.
CREATE TABLE service_level_deadlines (
    case_id {UUID} NOT NULL,
    clock {SORTED_TEXT} NOT NULL,
    number INTEGER NOT NULL,
    deadline {MOMENT},
    breached {BOOLEAN} NOT NULL DEFAULT {FALSE},
    PRIMARY KEY (case_id, clock, number)
);
CREATE INDEX service_level_deadlines_due ON service_level_deadlines (deadline)
    WHERE deadline IS NOT NULL AND NOT breached;
