"""Compliance reporting (ADR 20, 30): the service-level tables it reads, the
sealed monthly cells, the report's SQL and statements, and its export.
"""
