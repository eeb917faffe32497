"""The service levels kept by partitions, and the rule their sealer follows (ADR 90).

Partition k of n keeps the rows of the cases whose id's last byte is k modulo n.
A case's rows depend on that case's facts only, so the partitions together write
the rows one runner writes. The month seals depend on every partition's facts:
a partition seals nothing. Its batch keeps, in its own transaction, the earliest
and the latest moment recorded among the facts it applied (`note_progress`),
and unseals from a late fact as one runner does.

The sealer (`cases.followers.sealer`) reads the log's head, then every
partition's position and moments (`read_progress`), and seals by `sealable`'s
latest moment: the least latest among the partitions behind that head, or the
greatest of all when none is behind. A partition behind has applied its facts up
to its position, and its next ones come later in the log, so they were recorded
no earlier than its latest, but for the clock skew between writers `GRACE`
stands for. So every fact recorded `GRACE` before that moment is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cases.db.database import ProjectionDatabase, as_moment
from cases.db.statement import identifier, sql
from cases.fault_points import fault_point
from cases.projections.layout import Partition, partition_pattern
from cases.projections.projection import PositionedEvent, TableNames
from cases.reports.compliance_seal import SealState, unseal_for_late_fact
from cases.reports.service_levels import ServiceLevelsProjection

PROGRESS = "service_level_partitions"


@dataclass(frozen=True, slots=True)
class PartitionProgress:
    """How far one partition is: its tracking position, and the earliest and the
    latest moment recorded among the facts it applied (None: none yet)."""

    name: str
    position: int
    earliest: datetime | None
    latest: datetime | None


class PartitionOfServiceLevels(ServiceLevelsProjection):
    """The service levels of one partition's cases: their rows, no seals."""

    def __init__(self, partition: Partition) -> None:
        self.partition = partition
        self.progress_name = partition.tracking_name(self.name)

    def seal(
        self,
        db: ProjectionDatabase,
        tables: TableNames,
        events: Sequence[PositionedEvent],
        seals: SealState | None,
    ) -> None:
        """Unseal from a late fact, as one runner does (the sealer seals again),
        and keep this partition's progress."""
        if not events:
            return
        recorded = [p.event.timestamp for p in events]
        earliest = min(recorded)
        unseal_for_late_fact(db, tables, () if seals is None else seals.seals, earliest)
        note_progress(db, tables, self.progress_name, earliest, max(recorded))
        fault_point("partition-batch-written")  # its rows and progress sent, not committed


def note_progress(
    db: ProjectionDatabase,
    tables: TableNames,
    name: str,
    earliest: datetime | None,
    latest: datetime | None,
) -> None:
    """Keep the earliest and the latest moment the partition `name` has seen,
    inside the caller's transaction (PostgreSQL: partitions run there only)."""
    db.execute(
        sql(
            "INSERT INTO {t} AS p (name, earliest_recorded_at, latest_recorded_at) "
            "VALUES ({}, {}, {}) ON CONFLICT (name) DO UPDATE SET "
            "earliest_recorded_at = LEAST(p.earliest_recorded_at, excluded.earliest_recorded_at), "
            "latest_recorded_at = GREATEST(p.latest_recorded_at, excluded.latest_recorded_at)",
            t=identifier(tables(PROGRESS)),
        ),
        (name, earliest, latest),
    )


def read_progress(db: ProjectionDatabase, tables: TableNames) -> list[PartitionProgress]:
    """Every partition's progress, in one statement: its position and its moments
    are committed together, in its batch."""
    rows = db.fetchall(
        sql(
            "SELECT t.projection, t.position, p.earliest_recorded_at, p.latest_recorded_at "
            "FROM projection_tracking t LEFT JOIN {p} p ON p.name = t.projection "
            "WHERE t.projection LIKE {} ESCAPE '\\' ORDER BY t.projection",
            p=identifier(tables(PROGRESS)),
        ),
        (partition_pattern(ServiceLevelsProjection.name),),
    )
    return [
        PartitionProgress(
            str(name),
            int(position),
            None if earliest is None else as_moment(earliest),
            None if latest is None else as_moment(latest),
        )
        for name, position, earliest, latest in rows
    ]


def sealable(
    progress: Sequence[PartitionProgress], parts: int, head: int
) -> tuple[datetime, datetime] | None:
    """The earliest moment any partition has seen, and the latest moment the
    sealer may seal by (ADR 90), given the log's `head` read before `progress`;
    None while a seal cannot be made: a partition missing, none has seen a fact,
    or one behind the head has seen none (it may hold the earliest)."""
    if len(progress) != parts:
        return None
    behind = [p.latest for p in progress if p.position < head]
    seen = [p for p in progress if p.latest is not None and p.earliest is not None]
    if not seen or None in behind:
        return None
    earliest = min(p.earliest for p in seen if p.earliest is not None)
    if behind:
        return earliest, min(latest for latest in behind if latest is not None)
    return earliest, max(p.latest for p in seen if p.latest is not None)
