"""What an operator watches: Prometheus metrics and optional OpenTelemetry traces.

Below every room that records something (ADR 38), so each can count what it does
with one call; it imports nothing of `cases` but the settings' names.
"""
