"""Compare a read model with a replay of the log (`cases audit verify --read-models`).

The projection is replayed into shadow tables, as a rebuild does
(`followers/rebuild.py`, the same shadow names and leadership, so the two never
run at once), but only up to the position the live tables hold. The last
stretch and the comparison run in one transaction that locks the live tracking
row first, as every runner batch does, so the live tables cannot move while
they are compared. Every row of each live table is compared with the shadow's
as a multiset (row order and physical layout do not count); then the shadows
are dropped, whatever the outcome. Nothing live is changed.

Where partitions keep the service levels, each is replayed up to its own
position instead (`partitioned_check`, ADR 90). The comparison itself is
`table_comparison`'s.
"""

from __future__ import annotations

from cases.clock import Clock, SystemClock
from cases.db.database import ProjectionDatabase
from cases.followers.partitioned_check import check_partitioned
from cases.followers.rebuild import apply_rest, drop_shadows, replay_to, shadow_runner
from cases.followers.runner import ProjectionRunner
from cases.followers.table_comparison import ReadModelCheck, differences
from cases.persistence.event_log import EventLog
from cases.projections.layout import PARTITIONABLE, layout
from cases.projections.projection import Projection


def check_read_model(
    log: EventLog,
    projection: Projection,
    db: ProjectionDatabase,
    *,
    batch_size: int = 1000,
    clock: Clock | None = None,
) -> ReadModelCheck:
    """Replay `projection` into shadow tables up to its live position and compare."""
    clock = clock or SystemClock()
    parts = layout(db, projection.name) if projection.name in PARTITIONABLE else 1
    if parts > 1:
        return check_partitioned(log, db, parts, batch_size=batch_size, clock=clock)
    with shadow_runner(log, projection, db, batch_size=batch_size, clock=clock) as runner:
        try:
            return _replay_and_compare(runner)
        finally:
            drop_shadows(db, projection)


def _replay_and_compare(runner: ProjectionRunner) -> ReadModelCheck:
    db, projection, tracking = runner.db, runner.projection, runner.tracking
    with db.transaction():
        tracking.ensure(projection.name)
    replay_to(runner, tracking.position(projection.name))  # the bulk, unlocked
    with db.transaction():
        live = tracking.lock(projection.name)  # first, as in every runner batch
        apply_rest(runner, live)
        found = differences(db, projection.tables)
    return ReadModelCheck(projection.name, live, found)
