-- One key per data subject (a case's contact person, a principal), wrapped by the
-- operator's master key (ADR 0044). Erasure sets wrapped_key to NULL and keeps the
-- row as a tombstone: no key is made for an erased subject again.
CREATE TABLE subject_keys (
    subject_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    wrapped_key BLOB,
    master_key_id TEXT,
    erased_at TEXT
);
