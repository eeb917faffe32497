"""The service levels' partitions' runners, and a layout of partitions begun (ADR 90).

`cases projections run --partition k/n` runs one partition's runner in its own
process: the decoding and the fold of a partition's cases take an interpreter of
their own, which is the point. Its read is filtered by the server, so it reads
and decodes its own cases' facts only; its batches keep its progress for the
sealer. PostgreSQL only: on SQLite the one writer lock leaves nothing to gain.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Notification

from cases.db.database import ProjectionDatabase
from cases.db.statement import identifier, sql
from cases.followers.runner import ProjectionRunner
from cases.followers.sealer import Sealer
from cases.persistence.event_log import EventLog
from cases.persistence.recorders import CasesApplicationRecorder
from cases.projections.layout import (
    LayoutError,
    Partition,
    partitions,
    refuse_other_layout,
    set_layout,
)
from cases.projections.projection import LIVE, TableNames
from cases.reports.compliance_seal import seal_state
from cases.reports.service_level_partitions import (
    PartitionOfServiceLevels,
    note_progress,
)
from cases.reports.service_levels import ServiceLevelsProjection

SERVICE_LEVELS = ServiceLevelsProjection.name


def refuse_sqlite(db: ProjectionDatabase) -> None:
    """A LayoutError on SQLite: partitions run on PostgreSQL only."""
    if not db.is_postgres:
        raise LayoutError(
            f"the {SERVICE_LEVELS} partitions run on PostgreSQL only (ADR 90): on SQLite "
            "one runner keeps them"
        )


class PartitionRunner(ProjectionRunner):
    """The runner of one partition of the service levels."""

    def __init__(
        self,
        log: EventLog,
        db: ProjectionDatabase,
        partition: Partition,
        *,
        tracking_name: str | None = None,
        **options: Any,
    ) -> None:
        """`tracking_name`: the partition's own row unless said (a check's shadow
        partitions keep rows of their own, `read_model_check`)."""
        refuse_sqlite(db)
        refuse_other_layout(db, SERVICE_LEVELS, partition)
        recorder = log.recorder
        if not isinstance(recorder, CasesApplicationRecorder):
            raise LayoutError(f"the {SERVICE_LEVELS} partitions read the log of PostgreSQL only")
        self.recorder = recorder
        self.partition = partition
        super().__init__(
            log,
            PartitionOfServiceLevels(partition),
            db,
            tracking_name=tracking_name or partition.tracking_name(SERVICE_LEVELS),
            **options,
        )

    def notifications(self, after: int, head: int, limit: int) -> Sequence[Notification]:
        part = self.partition
        return self.recorder.select_partition(
            after + 1, head, limit, self.topics, part=part.part, parts=part.parts
        )


def catch_up_partitioned(log: EventLog, db: ProjectionDatabase, parts: int, **options: Any) -> int:
    """Catch every partition up in turn, then seal what is due (`run --once`);
    returns the events applied."""
    applied = sum(PartitionRunner(log, db, p, **options).catch_up() for p in partitions(parts))
    sealer = Sealer(log, db, sleep=lambda _: None)
    while sealer.step().more:
        pass
    return applied


def start_partitions(
    db: ProjectionDatabase, parts: int, position: int, now: datetime, tables: TableNames = LIVE
) -> None:
    """Make `parts` partitions keep the service levels from `position` on (1: one
    runner), inside the caller's transaction, where the tables hold every fact up
    to it (a rebuild's swap). Each partition starts from the latest moment the
    tables have seen: its next facts come later in the log, so they were
    recorded after it but for skew, and the sealer may seal by it; and from the
    earliest moment a case was received, for a first seal."""
    if parts > 1:
        refuse_sqlite(db)
    names = set_layout(db, SERVICE_LEVELS, parts, position, now)
    db.execute(sql("DELETE FROM {t}", t=identifier(tables("service_level_partitions"))))
    if parts == 1:
        return
    state = seal_state(db, tables)
    first = db.fetchone(
        sql(
            "SELECT min(received_recorded_at) FROM {t}",
            t=identifier(tables("service_level_cases")),
        )
    )
    earliest = None if first is None or first[0] is None else first[0]
    latest = None if state is None else state.latest_recorded_at
    if earliest is None or latest is None:
        return  # nothing seen yet: each partition's first batch says
    for name in names:
        note_progress(db, tables, name, earliest, latest)
