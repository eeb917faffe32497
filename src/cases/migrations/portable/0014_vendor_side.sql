-- The vendor side (issue 17, ADR 52): imported service-health advisories, and
-- "attention needed" on a case's vendor support request in the case queue.
CREATE TABLE advisories (
    advisory_id {UUID} PRIMARY KEY,
    vendor_id TEXT NOT NULL UNIQUE,
    classification TEXT NOT NULL,
    title TEXT NOT NULL,
    service TEXT NOT NULL,
    feature_group TEXT,
    status TEXT NOT NULL,
    is_resolved {BOOLEAN} NOT NULL,
    started_at {MOMENT} NOT NULL,
    ended_at {MOMENT},
    last_modified_at {MOMENT} NOT NULL,
    linked_cases INTEGER NOT NULL DEFAULT 0,
    position {BIGINT} NOT NULL
);
CREATE INDEX advisories_open_service ON advisories (is_resolved, service);
ALTER TABLE case_queue ADD COLUMN vendor_attention {BOOLEAN} NOT NULL DEFAULT {FALSE};
-- How each vendor sync last went (the scheduled loop and `cases advisories sync`
-- write it; /ready and `cases advisories status` show it).
CREATE TABLE vendor_syncs (
    name TEXT PRIMARY KEY,
    last_attempt_at {MOMENT} NOT NULL,
    last_success_at {MOMENT},
    last_error TEXT,
    failures INTEGER NOT NULL,
    recorded INTEGER NOT NULL
);
