"""The outbox: messages derived from recorded events, and their delivery (ADR 50)."""
