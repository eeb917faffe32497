-- Where each projection has read the event log up to.
CREATE TABLE projection_tracking (
    projection TEXT PRIMARY KEY,
    position BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
