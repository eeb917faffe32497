"""Compare the service levels kept by partitions with a replay of the log (ADR 90).

Each partition is at a position of its own, so no one replay to one position can
be compared with them. Each partition is replayed instead, into the shadow
tables, up to its own position, reading its own cases' facts as its runner does
(a runner of it on the shadows, with a tracking row of its own,
`service_levels__rebuild/k-of-n`). The seals depend on every partition: they are
made again on the shadows at the moments of the live seals, each from the
replayed rows, with its changes by moment where the live seal has them. So the
check proves that each partition's rows are its cases' facts up to its
position, and that each seal's cells are what the facts give at its moment: a
seal made too early, before a fact recorded by its moment was applied, lacks
that fact and differs.

The last stretch and the comparison run in one transaction that locks every
partition's tracking row (in name order, as a rebuild's swap takes them) and
then the seals (`lock_seals`, which a partition unsealing for a late fact takes
after its row), so neither the partitions nor the sealer move meanwhile.

Not compared: the sealer's bookkeeping, `compliance_seal` (the latest moment
the sealer noted, moved at its steps) and `service_level_partitions` (what each
partition has seen, which a layout begun from a rebuild starts from the tables'
moments). They say how far sealing may go, not what was sealed.
"""

from __future__ import annotations

from cases.clock import Clock
from cases.db.database import ProjectionDatabase
from cases.followers.partitions import SERVICE_LEVELS, PartitionRunner
from cases.followers.rebuild import (
    apply_rest,
    drop_shadows,
    replay_to,
    shadow_tracking_name,
    shadows,
)
from cases.followers.table_comparison import ReadModelCheck, differences
from cases.persistence.event_log import EventLog
from cases.projections.layout import LayoutError, layout_rows, partitions
from cases.projections.projection import LIVE, SHADOW
from cases.reports.compliance_seal import lock_seals, reseal, seal_state
from cases.reports.service_level_partitions import PROGRESS
from cases.reports.service_levels import ServiceLevelsProjection

BOOKKEEPING = frozenset({"compliance_seal", PROGRESS})
"""The service levels' tables a partitioned check leaves out (the module says why)."""


def check_partitioned(
    log: EventLog, db: ProjectionDatabase, parts: int, *, batch_size: int, clock: Clock
) -> ReadModelCheck:
    """Replay each of `parts` partitions into the shadows up to its own position,
    seal them where the live seals are, and compare."""
    projection = ServiceLevelsProjection()
    with shadows(db, projection):
        try:
            runners = [
                PartitionRunner(
                    log,
                    db,
                    partition,
                    tracking_name=partition.tracking_name(shadow_tracking_name(projection)),
                    tables=SHADOW,
                    batch_size=batch_size,
                    clock=clock,
                    read_ahead=False,
                )
                for partition in partitions(parts)
            ]
            return _replay_and_compare(db, runners)
        finally:
            drop_shadows(db, projection)


def _live_name(runner: PartitionRunner) -> str:
    return runner.partition.tracking_name(SERVICE_LEVELS)


def _replay_and_compare(db: ProjectionDatabase, runners: list[PartitionRunner]) -> ReadModelCheck:
    targets = layout_rows(db, SERVICE_LEVELS)
    for runner in runners:  # the bulk, unlocked: the live tables keep serving
        replay_to(runner, targets[_live_name(runner)])
    with db.transaction():
        live = layout_rows(db, SERVICE_LEVELS, lock=True)  # first, in name order
        if set(live) != {_live_name(runner) for runner in runners}:  # a rebuild is held off
            raise LayoutError(f"{SERVICE_LEVELS}'s layout changed while it was checked")
        lock_seals(db, LIVE)  # then the seals, as a partition's late fact takes them
        for runner in runners:
            apply_rest(runner, live[_live_name(runner)])
        state = seal_state(db, LIVE)
        if state is not None:
            reseal(db, SHADOW, state.seals, state.latest_recorded_at, by_moment=state.by_moment)
        found = differences(db, (t for t in ServiceLevelsProjection.tables if t not in BOOKKEEPING))
    positions = tuple(live[_live_name(runner)] for runner in runners)
    return ReadModelCheck(SERVICE_LEVELS, min(positions), found, positions)
