"""The SQL composer (ADR 40), for the layers above `persistence`: it lives in
`cases.persistence.statement` (ADR 54), below every module that writes SQL,
the event store's own tables included; these names stay where they were."""

from __future__ import annotations

from cases.persistence.statement import (
    AND,
    COMMA,
    NOTHING,
    Constant,
    Identifier,
    Parameter,
    Part,
    Sql,
    SqlError,
    constant,
    identifier,
    identifiers,
    parameters,
    sql,
    where_all,
)

__all__ = [
    "AND",
    "COMMA",
    "NOTHING",
    "Constant",
    "Identifier",
    "Parameter",
    "Part",
    "Sql",
    "SqlError",
    "constant",
    "identifier",
    "identifiers",
    "parameters",
    "sql",
    "where_all",
]
