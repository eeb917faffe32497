-- Reports as of a moment between two seals (ADR 72): the report reads the cells
-- of the seal S before its moment M, then only the rows a fact recorded in
-- (S, M] touched. A row's recorded moments all lie in its span, from the first
-- of its *_recorded_at columns to the last (last_recorded_at), so those rows are
-- among the rows whose span overlaps (S, M]: found through these indexes.
-- last_recorded_at alone finds every row touched since S, up to now.

CREATE INDEX service_level_cases_recorded_span ON service_level_cases
    USING gist (tstzrange(received_recorded_at, last_recorded_at, '[]'));

CREATE INDEX service_level_updates_recorded_span ON service_level_updates
    USING gist (tstzrange(
        LEAST(escalated_recorded_at, nu_fulfilled_recorded_at, nu_breach_recorded_at,
              nu_breach_withdrawn_recorded_at),
        last_recorded_at, '[]'));

CREATE INDEX service_level_escalations_recorded_span ON service_level_escalations
    USING gist (tstzrange(escalated_recorded_at, last_recorded_at, '[]'));

-- The cases a vehicle was added to in (S, M]: grouped by vehicle, their rows
-- move from one group to another although no fact touched them.
CREATE INDEX service_level_escalations_recorded ON service_level_escalations
    (escalated_recorded_at);
