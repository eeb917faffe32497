"""What follows the event log and keeps the read models and report tables current.

The catalog of projections, the batched runner, tracking, leadership, rebuild,
in-process runners and status (ADR 12, 24, 38).
"""
