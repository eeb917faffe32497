-- One key per data subject (a case's contact person, a principal), wrapped by the
-- operator's master key (ADR 0044). Erasure sets wrapped_key to NULL and keeps the
-- row as a tombstone: no key is made for an erased subject again.
CREATE TABLE subject_keys (
    subject_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    wrapped_key BYTEA,
    master_key_id TEXT,
    erased_at TEXT
);

-- Keyed digests (HMAC-SHA256) of the values a subject is found by (its e-mail
-- address, its name), never the values; deleted when the subject is erased.
CREATE TABLE subject_index (
    field TEXT NOT NULL,
    digest TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    PRIMARY KEY (field, digest, subject_id)
);
CREATE INDEX subject_index_subject ON subject_index (subject_id);
