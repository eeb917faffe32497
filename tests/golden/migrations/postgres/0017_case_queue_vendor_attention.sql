-- "Cases whose vendor request awaits the partner, newest first" (GET /cases?
-- vendor_attention=true, ADR 60): few rows among many; without this index the
-- filter reads the whole queue. A composite rather than a partial index: the
-- value is a bound parameter, which a partial index's predicate cannot match.
CREATE INDEX case_queue_vendor_attention_received ON case_queue (vendor_attention, received_at);
