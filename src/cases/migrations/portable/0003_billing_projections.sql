-- Read models of billing accounts: account standing and receivables.
-- Money is stored as integers of the currency's minor unit (cents, öre; yen
-- have none), so sums in SQL are exact on both stores (ADR 15). On SQLite days are
-- ISO-8601 text (YYYY-MM-DD), moments fixed-width UTC ISO text: text order is time order.

CREATE TABLE account_standing (
    account_id {UUID} PRIMARY KEY,
    customer_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    balance_minor {BIGINT} NOT NULL,
    credit_minor {BIGINT} NOT NULL,
    overdue_minor {BIGINT} NOT NULL,
    overdue_as_of {DAY} NOT NULL,
    oldest_unpaid_invoice TEXT,
    oldest_unpaid_due_on {DAY},
    stage_days INTEGER,
    stage_invoice TEXT,
    suspended_count INTEGER NOT NULL DEFAULT 0,
    suspended_subscriptions TEXT NOT NULL DEFAULT '[]',
    last_reminder_kind TEXT,
    last_reminder_at {MOMENT},
    policy_version INTEGER,
    version INTEGER NOT NULL,
    position {BIGINT} NOT NULL
);
CREATE UNIQUE INDEX account_standing_customer ON account_standing (customer_id);
CREATE INDEX account_standing_currency_customer ON account_standing (currency, customer_id);
CREATE INDEX account_standing_oldest_due ON account_standing (oldest_unpaid_due_on, customer_id);
CREATE INDEX account_standing_currency_oldest_due
    ON account_standing (currency, oldest_unpaid_due_on, customer_id);
CREATE INDEX account_standing_suspended ON account_standing (customer_id)
    WHERE suspended_count > 0;

-- The open invoices of each account, as account_standing's projection needs them
-- to find the oldest unpaid one and what is overdue; a settled invoice is removed.
CREATE TABLE standing_invoices (
    account_id {UUID} NOT NULL,
    invoice_number TEXT NOT NULL,
    issued_on {DAY} NOT NULL,
    due_on {DAY} NOT NULL,
    outstanding_minor {BIGINT} NOT NULL,
    disputed {BOOLEAN} NOT NULL DEFAULT {FALSE},
    last_stage INTEGER,
    PRIMARY KEY (account_id, invoice_number)
);

CREATE TABLE receivable_accounts (
    account_id {UUID} PRIMARY KEY,
    customer_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    time_zone TEXT NOT NULL
);

CREATE TABLE receivables (
    account_id {UUID} NOT NULL,
    invoice_number TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    issued_on {DAY} NOT NULL,
    due_on {DAY} NOT NULL,
    total_minor {BIGINT} NOT NULL,
    open_minor {BIGINT} NOT NULL,
    disputed {BOOLEAN} NOT NULL DEFAULT {FALSE},
    moved_on {DAY} NOT NULL,
    settled_on {DAY},
    position {BIGINT} NOT NULL,
    PRIMARY KEY (account_id, invoice_number)
);
CREATE INDEX receivables_open_by_account ON receivables (account_id, due_on)
    WHERE open_minor > 0;
CREATE INDEX receivables_open_by_currency ON receivables (currency, due_on)
    WHERE open_minor > 0;
CREATE INDEX receivables_customer_due ON receivables (customer_id, due_on);
CREATE INDEX receivables_open_between ON receivables (settled_on, issued_on);

-- Every change of an invoice's open amount or dispute, summed per day: the open
-- amount on any day is the sum of its movements up to that day.
CREATE TABLE receivable_movements (
    account_id {UUID} NOT NULL,
    invoice_number TEXT NOT NULL,
    day {DAY} NOT NULL,
    open_delta_minor {BIGINT} NOT NULL,
    dispute_delta INTEGER NOT NULL,
    PRIMARY KEY (account_id, invoice_number, day)
);
