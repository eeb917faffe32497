-- The checkpoint webhook's delivery state (issue 14, ADR 0055): per receiver
-- (a SHA-256 of its URL, so a token in the URL is not stored), the largest
-- kept checkpoint it acknowledged, and the backoff before the next attempt.
-- Checkpoints after `delivered_size` in audit_log_checkpoints are pending: a
-- restart resumes from here, nothing queued in memory is lost.
CREATE TABLE audit_log_webhook (
    receiver TEXT PRIMARY KEY,
    delivered_size INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_error TEXT
);
