-- Retry periods and retention of the outbox (ADR 68).
-- `period_started_at`: the first attempt of the message's current retry period,
-- set by the claim that makes it (NULL until then, and again after an operator's
-- retry, which grants one fresh period). A worker restart keeps it: the period
-- counts from what the database recorded, not from when a worker started.
-- Messages already attempted counted their period from `created_at`; they keep it.
-- `operator_retries`, `retried_at`: the operator's retries, as recorded.
-- `swept_at`: when the retention sweep blanked the message's recipient, subject and
-- body (the row and its id stay, so a re-derivation never queues it again).
ALTER TABLE outbox_messages ADD COLUMN period_started_at TEXT;
ALTER TABLE outbox_messages ADD COLUMN operator_retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox_messages ADD COLUMN retried_at TEXT;
ALTER TABLE outbox_messages ADD COLUMN swept_at TEXT;
UPDATE outbox_messages SET period_started_at = created_at WHERE attempts > 0;
CREATE INDEX outbox_messages_finished ON outbox_messages (status, finished_at);
