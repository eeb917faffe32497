-- Reports as of a moment between two seals (ADR 72). On PostgreSQL this step
-- indexes each service-level row's recorded span (its first to its last
-- *_recorded_at), so a report as of a moment M between two seals S < M reads
-- only the rows whose span overlaps (S, M]. SQLite has no range index: there
-- the report finds the rows touched after S through last_recorded_at (0007),
-- a superset that gives the same figures.

-- The cases a vehicle was added to in (S, M]: grouped by vehicle, their rows
-- move from one group to another although no fact touched them.
CREATE INDEX service_level_escalations_recorded ON service_level_escalations
    (escalated_recorded_at);
