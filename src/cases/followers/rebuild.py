"""Rebuild a projection from scratch beside its live tables, then swap them in.

The shadow tables (`<table>__rebuild`, same columns and indexes) are filled by
an ordinary runner with its own tracking row while the live tables keep
serving and the live runner keeps running. The last stretch and the swap are
one transaction that locks the live tracking row first, as every runner batch
does, so the two never deadlock and the live runner never applies an event to
tables that already hold it: its next batch sees the position moved and
re-reads from there.

A crash leaves only shadow tables and the shadow tracking row (the swap is
atomic); the next rebuild drops them and starts again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from cases.clock import Clock, SystemClock
from cases.db.database import ProjectionDatabase
from cases.db.statement import identifier, sql
from cases.followers.leadership import Leadership
from cases.followers.partitions import refuse_sqlite, start_partitions
from cases.followers.runner import ProjectionRunner, catch_up_batch
from cases.followers.tracking import Tracking
from cases.persistence.event_log import EventLog
from cases.projections.layout import PARTITIONABLE, LayoutError, layout, layout_rows
from cases.projections.projection import LIVE, SHADOW, Projection, behind

Progress = Callable[[int, int], None]

_NAME = r'(?:"(?:[^"]|"")+"|`[^`]+`|\[[^\]]+\]|[\w$]+)'
_SQLITE_TABLE = re.compile(rf"^(\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?){_NAME}", re.I)
_SQLITE_INDEX = re.compile(
    rf"^(\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?){_NAME}(\s+ON\s+){_NAME}",
    re.I,
)
_PG_INDEXDEF = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON \S+ (.*)$", re.S)


class RebuildInProgressError(Exception):
    """Raised when another process is already rebuilding the same projection."""


@dataclass(frozen=True, slots=True)
class RebuildResult:
    """What a rebuild did: events applied, and the position the swapped tables hold."""

    name: str
    applied: int
    position: int


def shadow_tracking_name(projection: Projection) -> str:
    return SHADOW(projection.name)


def rebuild(
    log: EventLog,
    projection: Projection,
    db: ProjectionDatabase,
    progress: Progress | None = None,
    *,
    batch_size: int = 1000,
    catch_up_batch_size: int | None = None,
    clock: Clock | None = None,
    partitions: int | None = None,
) -> RebuildResult:
    """Rebuild `projection` into shadow tables, then swap them for the live ones;
    on PostgreSQL in batches of `catch_up_batch_size` (default: `catch_up_batch`
    of `batch_size`) while far from the head (ADR 89). With `partitions`, the
    swap makes that many partitions keep it from then on (1: one runner; ADR 90);
    without, as many as kept it before."""
    clock = clock or SystemClock()
    parts = layout(db, projection.name)
    if partitions is not None and partitions != parts:
        refuse_relayout(db, projection, partitions)
    with shadow_runner(
        log,
        projection,
        db,
        batch_size=batch_size,
        catch_up_batch_size=catch_up_batch(batch_size, catch_up_batch_size),
        clock=clock,
    ) as runner:
        if parts == 1:
            Tracking(db).ensure(projection.name)
        applied = _catch_up_near_head(runner, progress)
        more, position = _finish_and_swap(runner, clock, partitions or parts)
        if progress is not None:
            progress(position, position)
        return RebuildResult(projection.name, applied + more, position)


@contextmanager
def shadows(db: ProjectionDatabase, projection: Projection) -> Iterator[None]:
    """Fresh, empty shadow tables of `projection`, while this process holds the
    shadows' leadership (a rebuild or check elsewhere raises
    RebuildInProgressError); released afterwards. What becomes of the shadows is
    the caller's to decide."""
    leadership = Leadership(db, shadow_tracking_name(projection))
    if not leadership.try_acquire():
        raise RebuildInProgressError(f"{projection.name} is already being rebuilt elsewhere")
    try:
        drop_shadows(db, projection)
        create_shadows(db, projection)
        yield
    finally:
        leadership.release()


@contextmanager
def shadow_runner(
    log: EventLog,
    projection: Projection,
    db: ProjectionDatabase,
    *,
    batch_size: int,
    clock: Clock,
    catch_up_batch_size: int | None = None,
) -> Iterator[ProjectionRunner]:
    """A runner filling fresh, empty shadow tables of `projection` (`shadows`)."""
    with shadows(db, projection):
        yield ProjectionRunner(
            log,
            projection,
            db,
            batch_size=batch_size,
            catch_up_batch_size=catch_up_batch_size,
            tables=SHADOW,
            tracking_name=shadow_tracking_name(projection),
            clock=clock,
        )


def replay_to(runner: ProjectionRunner, target: int) -> None:
    """Apply the shadows' runner's batches up to `target`, each in its own
    transaction with its tracking (a check's bulk: the live tables keep serving)."""
    position = runner.position
    while position < target:
        events, reached = runner.read_batch(position, target)
        runner.apply_batch(events, position, reached)
        position = reached


def apply_rest(
    runner: ProjectionRunner, end: int, *, after: int | None = None, catching_up: bool = False
) -> int:
    """Apply the rest from `after` (the runner's position) up to `end` to the shadows
    inside the caller's transaction, which holds the live tables still (a check's
    or a swap's last stretch; the tracking is not moved here); return how many
    events were applied. `catching_up` applies them as a catch-up does, leaving the
    work done at the head to the live runner (ADR 84)."""
    position = runner.position if after is None else after
    applied = 0
    while position < end:
        events, position = runner.read_batch(position, end)
        if events:
            with behind(more=True) if catching_up else nullcontext():
                runner.projection.apply(runner.db, events, SHADOW)
            applied += len(events)
    return applied


def _catch_up_near_head(runner: ProjectionRunner, progress: Progress | None) -> int:
    """Apply batches until less than one batch is left; the swap applies the rest."""
    applied = 0
    while True:
        result = runner.step()
        applied += result.applied
        head = runner.head()
        if progress is not None:
            progress(result.position, head)
        if head - result.position <= runner.batch_size:
            return applied


def refuse_relayout(db: ProjectionDatabase, projection: Projection, partitions: int) -> None:
    """A LayoutError unless `projection` may be kept by `partitions` runners here."""
    if partitions > 1 and projection.name not in PARTITIONABLE:
        raise LayoutError(f"{projection.name} is kept by one runner: it has no partitions")
    if partitions > 1:
        refuse_sqlite(db)


def _finish_and_swap(runner: ProjectionRunner, clock: Clock, parts: int) -> tuple[int, int]:
    """Apply the rest up to the head and swap, in one transaction, leaving `parts`
    runners to keep the projection; return (events applied, position reached)."""
    db, projection, tracking = runner.db, runner.projection, runner.tracking
    with db.transaction():
        layout_rows(db, projection.name, lock=True)  # first, as in every runner batch
        position = tracking.lock(runner.tracking_name)
        head = runner.head()
        # As a catch-up's: the swap waits for no work that can be left for later
        # (the live runner does it at the head, ADR 84).
        applied = apply_rest(runner, head, after=position, catching_up=True)
        for table in projection.tables:
            if db.is_postgres:
                _swap_postgres(db, table)
            else:
                _swap_sqlite(db, table)
        if projection.name in PARTITIONABLE:
            start_partitions(db, parts, head, clock.now())
        else:
            tracking.move(projection.name, head, clock.now())
        tracking.forget(runner.tracking_name)
    return applied, head


# Shadow tables ------------------------------------------------------------------


def drop_shadows(db: ProjectionDatabase, projection: Projection) -> None:
    """Remove what an interrupted rebuild or check left behind: the shadow tables,
    and the shadows' tracking rows (a partitioned check's too)."""
    with db.transaction():
        for table in projection.tables:
            db.execute(sql("DROP TABLE IF EXISTS {t}", t=identifier(SHADOW(table))))
        for name in layout_rows(db, shadow_tracking_name(projection)):  # and its partitions'
            Tracking(db).forget(name)


def create_shadows(db: ProjectionDatabase, projection: Projection) -> None:
    with db.transaction():
        for table in projection.tables:
            if db.is_postgres:
                db.execute(
                    sql(
                        "CREATE TABLE {shadow} (LIKE {table} INCLUDING ALL)",
                        shadow=identifier(SHADOW(table)),
                        table=identifier(table),
                    )
                )
            else:
                _create_sqlite_shadow(db, table)


def _create_sqlite_shadow(db: ProjectionDatabase, table: str) -> None:
    row = db.fetchone(
        sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = {}"), (table,)
    )
    if row is None:
        raise LookupError(f"the table {table} does not exist: run `cases migrate`")
    db.execute(_rename_ddl(_SQLITE_TABLE, str(row[0]), SHADOW(table)))
    for name, ddl in _sqlite_indexes(db, table):
        db.execute(_rename_ddl(_SQLITE_INDEX, ddl, SHADOW(name), SHADOW(table)))


def _rename_ddl(pattern: re.Pattern[str], ddl: str, name: str, table: str | None = None) -> str:
    """SQLite's stored DDL of a table or index, renamed (its schema keeps DDL as text)."""

    def renamed(match: re.Match[str]) -> str:
        text = match.group(1) + sql("{n}", n=identifier(name)).sqlite()
        if table is not None:
            text += match.group(2) + sql("{t}", t=identifier(table)).sqlite()
        return text

    result, count = pattern.subn(renamed, ddl, count=1)
    if count != 1:
        raise ValueError(f"cannot rename the statement {ddl!r}")
    return result


def _sqlite_indexes(db: ProjectionDatabase, table: str) -> list[tuple[str, str]]:
    """Named indexes of `table` and their DDL (those behind keys have no DDL)."""
    rows = db.fetchall(
        sql(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = {} AND sql IS NOT NULL ORDER BY name"
        ),
        (table,),
    )
    return [(str(name), str(ddl)) for name, ddl in rows]


# Swaps ----------------------------------------------------------------------------


def _swap_postgres(db: ProjectionDatabase, table: str) -> None:
    """Swap in the shadow table; give its indexes (and their constraints) the
    live names, so later migrations find them."""
    renames = _pg_index_renames(db, table)
    _replace_table(db, table)
    for shadow_index, live_index in renames:
        db.execute(
            sql(
                "ALTER INDEX {shadow} RENAME TO {live}",
                shadow=identifier(shadow_index),
                live=identifier(live_index),
            )
        )


def _pg_index_renames(db: ProjectionDatabase, table: str) -> list[tuple[str, str]]:
    """Pairs (shadow index, live index) with the same definition."""
    statement = sql(
        "SELECT indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = current_schema() AND tablename = {} ORDER BY indexname"
    )
    live: dict[str, list[str]] = {}
    for name, definition in db.fetchall(statement, (table,)):
        live.setdefault(_pg_index_shape(str(definition)), []).append(str(name))
    renames = []
    for name, definition in db.fetchall(statement, (SHADOW(table),)):
        names = live.get(_pg_index_shape(str(definition)))
        if names:
            renames.append((str(name), names.pop(0)))
    return renames


def _pg_index_shape(definition: str) -> str:
    """An index definition without its own name and its table's name."""
    match = _PG_INDEXDEF.match(definition)
    return f"{match.group(1) or ''}{match.group(2)}" if match else definition


def _swap_sqlite(db: ProjectionDatabase, table: str) -> None:
    """Swap in the shadow table. SQLite cannot rename an index, so the shadow's
    are dropped and the live table's are created again under their own names."""
    live_indexes = [ddl for _, ddl in _sqlite_indexes(db, table)]
    shadow_indexes = [name for name, _ in _sqlite_indexes(db, SHADOW(table))]
    _replace_table(db, table)
    for name in shadow_indexes:
        db.execute(sql("DROP INDEX {index}", index=identifier(name)))
    for ddl in live_indexes:
        db.execute(ddl)


def _replace_table(db: ProjectionDatabase, table: str) -> None:
    """Drop the live table and give its shadow the live name."""
    db.execute(sql("DROP TABLE {table}", table=identifier(LIVE(table))))
    db.execute(
        sql(
            "ALTER TABLE {shadow} RENAME TO {table}",
            shadow=identifier(SHADOW(table)),
            table=identifier(LIVE(table)),
        )
    )
