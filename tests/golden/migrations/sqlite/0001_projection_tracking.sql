-- Where each projection has read the event log up to.
CREATE TABLE projection_tracking (
    projection TEXT PRIMARY KEY,
    position INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
);
