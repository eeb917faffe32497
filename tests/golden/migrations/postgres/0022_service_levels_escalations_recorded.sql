-- Reports by vehicle from sealed cells (ADR 72): the cases escalated through a
-- vehicle they had not gone through before, after a seal, found by when the
-- escalation was recorded. Their rows join that vehicle's group although no
-- fact touched them.
CREATE INDEX service_level_escalations_recorded ON service_level_escalations
    (escalated_recorded_at);
