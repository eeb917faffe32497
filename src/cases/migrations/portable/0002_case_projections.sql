-- Read models of support cases: the queue, the timeline, the escalation register.

CREATE TABLE case_queue (
    case_id {UUID} PRIMARY KEY,
    customer_id TEXT NOT NULL,
    title TEXT NOT NULL,
    product TEXT NOT NULL,
    channel TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    assignee TEXT,
    received_at {MOMENT} NOT NULL,
    first_response_at {MOMENT},
    last_update_at {MOMENT} NOT NULL,
    resolved_at {MOMENT},
    closed_at {MOMENT},
    waiting_on_customer {BOOLEAN} NOT NULL DEFAULT {FALSE},
    work_started {BOOLEAN} NOT NULL DEFAULT {FALSE},
    escalation_count INTEGER NOT NULL DEFAULT 0,
    escalation_open {BOOLEAN} NOT NULL DEFAULT {FALSE},
    escalation_target TEXT,
    escalation_vehicle TEXT,
    vendor_reference TEXT,
    matched_advisory TEXT,
    terms_version INTEGER NOT NULL,
    reopen_count INTEGER NOT NULL DEFAULT 0,
    billing_account_id {UUID},
    version INTEGER NOT NULL,
    position {BIGINT} NOT NULL
);
CREATE INDEX case_queue_customer_status_received ON case_queue (customer_id, status, received_at);
CREATE INDEX case_queue_status_severity_received ON case_queue (status, severity, received_at);
CREATE INDEX case_queue_assignee_status ON case_queue (assignee, status);
CREATE INDEX case_queue_category_received ON case_queue (category, received_at);
CREATE INDEX case_queue_received ON case_queue (received_at);
CREATE INDEX case_queue_last_update ON case_queue (last_update_at);

CREATE TABLE case_timeline (
    case_id {UUID} NOT NULL,
    version INTEGER NOT NULL,
    position {BIGINT} NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at {MOMENT} NOT NULL,
    recorded_at {MOMENT} NOT NULL,
    principal_id TEXT NOT NULL,
    role TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    causation_id TEXT,
    source TEXT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (case_id, version)
);
CREATE INDEX case_timeline_principal_occurred ON case_timeline (principal_id, occurred_at);
CREATE INDEX case_timeline_occurred ON case_timeline (occurred_at);
CREATE INDEX case_timeline_correlation ON case_timeline (correlation_id);

CREATE TABLE escalation_cases (
    case_id {UUID} PRIMARY KEY,
    customer_id TEXT NOT NULL
);

CREATE TABLE escalation_register (
    case_id {UUID} NOT NULL,
    number INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    target TEXT NOT NULL,
    category TEXT NOT NULL,
    vehicle TEXT,
    reason TEXT NOT NULL,
    escalated_at {MOMENT} NOT NULL,
    vendor_reference TEXT,
    vendor_update_count INTEGER NOT NULL DEFAULT 0,
    last_vendor_update_at {MOMENT},
    handed_back_at {MOMENT},
    PRIMARY KEY (case_id, number)
);
CREATE INDEX escalation_register_escalated ON escalation_register (escalated_at);
CREATE INDEX escalation_register_vehicle_category ON escalation_register (vehicle, category);
CREATE INDEX escalation_register_customer ON escalation_register (customer_id, escalated_at);
