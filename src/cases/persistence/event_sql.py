"""The SQL text of the PostgreSQL event writes, as literals (ADR 0026, 0027, 0031).

Our own statements, built without the library: rows of SQL literals, the
insert-if-free statement of one command (with its idempotency step), and which
driver errors may hide a commit. The recorders that send them are in
`cases.persistence.recorders`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

import psycopg
from eventsourcing.persistence import ProgrammingError, StoredEvent

from cases.persistence.idempotency_steps import StepToRecord

COLUMNS = "(originator_id, originator_version, topic, state)"  # of a row literal, in order
TOPIC_PATTERN = re.compile(r"^[A-Za-z0-9_.:]{1,500}$")


def as_uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def row_literal(event: StoredEvent) -> str:
    """One event as a row of SQL literals. Nothing in it can end a literal: a
    UUID's text is hex and dashes, the version an int, the topic is checked to be
    a dotted `module:Qualified.Name`, and the state is written as hex digits."""
    if not TOPIC_PATTERN.match(event.topic):
        raise ProgrammingError(f"not a topic: {event.topic[:80]!r}")
    return (
        f"('{as_uuid(event.originator_id)}'::uuid, {int(event.originator_version)}::bigint, "
        f"'{event.topic}', decode('{event.state.hex()}', 'hex'))"
    )


@dataclass(frozen=True, slots=True)
class CommandWrite:
    """One command's rows as SQL literals, and the idempotency step they complete."""

    rows: str
    step: StepToRecord | None


RETURNING = "RETURNING originator_id, originator_version, notification_id"


def insert_plainly(table: str, rows: str, step: StepToRecord | None = None) -> str:
    """Insert `rows` plainly (with their step, if keyed): a taken key, or a step
    recorded already, fails the whole statement with a unique violation (the
    library's connection raises it as IntegrityError) and rolls back the whole
    transaction, every other command of its batch with it, which is then written
    again by `insert_if_free`. Without `insert_if_free`'s checks and its common
    table expression of the rows the server plans and runs it in about 120 µs less
    of its CPU (ADR 0027, amendments of 2026-12-04)."""
    insert = f"INSERT INTO {table} {COLUMNS} VALUES {rows} {RETURNING}"  # noqa: S608 - row_literal's
    if step is None:
        return insert
    return f"WITH ins AS ({insert}), {_step_insert(step)} {_FROM_INS}"


def insert_if_free(table: str, rows: str, step: StepToRecord | None = None) -> str:
    """Insert `rows` unless one of their keys is taken, or their step is recorded
    already (then none: no rows return); with a step, record it beside them.
    Race-free only under the table lock the write takes first."""
    free = (
        f"NOT EXISTS (SELECT 1 FROM {table} e JOIN new n "  # noqa: S608 - a rendered identifier
        "ON e.originator_id = n.originator_id AND e.originator_version = n.originator_version)"
    )
    if step is None:
        return (
            f"WITH new {COLUMNS} AS (VALUES {rows}) "  # noqa: S608 - literals built by row_literal
            f"INSERT INTO {table} {COLUMNS} "
            f"SELECT originator_id, originator_version, topic, state FROM new WHERE {free} "
            f"{RETURNING}"
        )
    return (
        f"WITH new {COLUMNS} AS (VALUES {rows}), "  # noqa: S608 - literals checked above
        f"ins AS (INSERT INTO {table} {COLUMNS} "
        f"SELECT originator_id, originator_version, topic, state FROM new WHERE {free} "
        f"AND NOT EXISTS (SELECT 1 FROM idempotency_steps WHERE {_named(step)}) {RETURNING}), "
        f"{_step_insert(step)} {_FROM_INS}"
    )


_FROM_INS = "SELECT originator_id, originator_version, notification_id FROM ins"


def _named(step: StepToRecord) -> str:
    return f"key_id = '{step.key_id}' AND step = '{step.step}'"


def _step_insert(step: StepToRecord) -> str:
    """The `step` part of a write's WITH: the step recorded with the receipts of
    the rows `ins` inserted, if it inserted any. Every part of a step is a checked
    digest, name or moment; the memo goes as hex."""
    memo = (
        "NULL"
        if step.memo is None
        else f"convert_from(decode('{step.memo.encode().hex()}', 'hex'), 'UTF8')"
    )
    return (
        "step AS (INSERT INTO idempotency_steps "  # noqa: S608 - checked parts, as above
        "(key_id, step, request_hash, receipts, decided_at, memo) "
        f"SELECT '{step.key_id}', '{step.step}', '{step.request_hash}', "
        "(SELECT json_agg(json_build_array(originator_id, originator_version, "
        "notification_id))::text FROM ins), "
        f"'{step.decided_at.isoformat()}'::timestamptz, {memo} "
        "WHERE EXISTS (SELECT 1 FROM ins))"
    )


def may_have_committed(error: psycopg.Error) -> bool:
    """Whether a write that failed so may still have committed: the connection
    broke (no SQLSTATE, or class 08) or the server was shut down under it (57P).
    Any other error the server reported rolled the transaction back."""
    state = error.sqlstate
    return state is None or state.startswith(("08", "57P"))
