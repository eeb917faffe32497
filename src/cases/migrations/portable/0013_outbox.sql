-- The outbox (issue 16, ADR 50): messages derived from recorded events by the
-- outbox follower (tracked as `outbox` in projection_tracking, in the same
-- transaction), delivered by the delivery worker. A message id is stable (uuid5
-- of the event and the recipient), so a derivation applied twice adds nothing.
-- `lease_until` is the claim of the worker sending it: past it, the message may be
-- claimed again (a worker killed mid-delivery). Subject, body and recipient are
-- personal data: blanked when delivered past the retention of the outbox, or when
-- the subject (a case's contact) is erased.
CREATE TABLE outbox_messages (
    message_id {UUID} PRIMARY KEY,
    position {BIGINT} NOT NULL,
    event_id TEXT NOT NULL,
    aggregate_kind TEXT NOT NULL,
    aggregate_id {UUID} NOT NULL,
    subject_id {UUID},
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    language TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at {MOMENT} NOT NULL,
    next_attempt_at {MOMENT} NOT NULL,
    lease_until {MOMENT},
    leased_by TEXT,
    last_error TEXT,
    deferral_recorded {BOOLEAN} NOT NULL DEFAULT {FALSE},
    finished_at {MOMENT}
);

CREATE INDEX outbox_messages_due ON outbox_messages (status, next_attempt_at);
CREATE INDEX outbox_messages_subject ON outbox_messages (subject_id);
