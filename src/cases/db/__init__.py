"""The SQL tables beside the event log, on SQLite or PostgreSQL.

One connection type (`database`) and the numbered migrations (`schema`), shared
by the API, the read models, the reports and their runners (ADR 38).
"""
