"""The service levels' batch loads only the stored rows its handlers read
(`_Needs`, ADR 71 amendment): a hand-kept table, checked here against the
handlers themselves.

Every event of a generated history is folded in order into one fold whose
tables record each read (a row looked up, or a table's rows scanned) while an
event's handler runs. A read of a table is a read of stored rows unless the
event's case was received in the same batch; so for every event, every table
its handler read must be one `_Needs.of([event])` loads for the event's case.
A handler that starts reading another table fails this test until `_Needs`
says so, whether or not the generated figures happen to change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cases.bootstrap import bootstrap
from cases.domain.support_case import SupportCase
from cases.followers.catalog import projection_named
from cases.projections.projection import LIVE, PositionedEvent
from cases.reports.service_levels import HANDLERS, PREFIX, Fold, Row, _Needs
from cases.settings import Settings
from tests.integration.projections import test_service_levels as levels
from tests.integration.projections.conftest import RecordedHistory
from tests.support.projection_tables import events_of
from tests.support.service_level_scenario import FINAL, ServiceLevelScenario

TABLES = ("cases", "updates", "escalations", "breaches", "deadlines")


class _ReadsOfOneEvent:
    """The (table, case) reads made while the current event's handler runs."""

    def __init__(self) -> None:
        self.case_id: int | None = None  # its UUID's integer, as in a table's key
        self.reads: set[tuple[str, int | None]] = set()


class _RecordingRows(dict[Any, Row]):
    """A table's rows that note every lookup and scan."""

    def __init__(self, table: str, reads: _ReadsOfOneEvent) -> None:
        super().__init__()
        self.table = table
        self.noted = reads

    def get(self, key: Any, default: Any = None) -> Any:
        self.noted.reads.add((self.table, key[0]))
        return super().get(key, default)

    def items(self) -> Any:  # a scan reads the rows of the event's case, among others
        self.noted.reads.add((self.table, self.noted.case_id))
        return super().items()


def _recording_fold(reads: _ReadsOfOneEvent) -> Fold:
    fold = Fold(LIVE)
    for name in TABLES:
        getattr(fold, name).rows = _RecordingRows(name, reads)
    return fold


def unloaded_reads(events: Iterable[Any], reached: set[tuple[type[Any], Any]]) -> list[str]:
    """Each (event type, clock, table) whose handler read stored rows of a table
    `_Needs` does not load for it, folding `events` in order; each event's type and
    clock is added to `reached`."""
    reads = _ReadsOfOneEvent()
    fold = _recording_fold(reads)
    unloaded: set[str] = set()
    for position, event in enumerate(events, start=1):
        reads.case_id = event.originator_id.int
        reads.reads.clear()
        HANDLERS[type(event)](fold, event)
        reached.add((type(event), getattr(event, "clock", None)))
        if type(event) is SupportCase.Received:
            continue  # its case's rows are new in any batch: none is loaded
        need = _Needs.of([PositionedEvent(position, event)])
        for table, case_id in reads.reads:
            assert case_id == event.originator_id.int, (type(event).__name__, table)
            if case_id not in getattr(need, table):
                unloaded.add(f"{type(event).__name__} ({_clock_of(event)}) reads {table}")
    return sorted(unloaded)


def _clock_of(event: Any) -> str:
    clock = getattr(event, "clock", None)
    return "-" if clock is None else str(clock.value)


def _events(url: str) -> list[Any]:
    services = bootstrap(Settings(database_url=url))
    try:
        return events_of(services.log, projection_named("service_levels"))
    finally:
        services.close()


store = levels.store  # the fixture: an empty store, its clock and its services
E = SupportCase
WITHDRAWALS = {E.ServiceClockBreachWithdrawn, E.ServiceClockBreachDisproved}


def test_a_generated_history_reads_only_what_its_batches_load(recorded: RecordedHistory) -> None:
    """Every handler but the withdrawals' (the tests below), and every clock."""
    reached: set[tuple[type[Any], Any]] = set()
    assert unloaded_reads(_events(recorded.url), reached) == []
    assert {kind for kind, _ in reached} == set(HANDLERS) - WITHDRAWALS
    assert {clock for kind, clock in reached if kind is E.ServiceClockStarted} == set(PREFIX)


def test_a_breach_withdrawn_reads_only_what_its_batches_load(
    store: levels.Store, empty_database_url: str
) -> None:
    """The hand-computed scenario: a breach withdrawn by a reply logged late."""
    ServiceLevelScenario(store.services.desk, store.clock).run_until(FINAL)
    reached: set[tuple[type[Any], Any]] = set()
    assert unloaded_reads(_events(empty_database_url), reached) == []
    assert E.ServiceClockBreachWithdrawn in {kind for kind, _ in reached}


def test_a_breach_disproved_reads_only_what_its_batches_load(
    store: levels.Store, empty_database_url: str
) -> None:
    """A pause logged late that disproves a breach (ADR 33)."""
    levels.record_a_pause_logged_late(store)
    reached: set[tuple[type[Any], Any]] = set()
    assert unloaded_reads(_events(empty_database_url), reached) == []
    assert E.ServiceClockBreachDisproved in {kind for kind, _ in reached}
