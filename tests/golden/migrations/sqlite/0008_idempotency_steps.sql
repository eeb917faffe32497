-- Steps of requests sent with an Idempotency-Key, each written in the transaction
-- of the events it recorded (ADR 0031); kept as long as the keys' answers.
CREATE TABLE idempotency_steps (
    key_id TEXT NOT NULL,
    step TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    receipts TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    memo TEXT,
    PRIMARY KEY (key_id, step)
);
CREATE INDEX idempotency_steps_decided ON idempotency_steps (decided_at);
