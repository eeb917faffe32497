"""Commands on working copies kept between commands (ADR 0023), on every store.

A process that keeps working copies must give the same outcomes as one that
loads every aggregate afresh: other processes' changes are seen, a refused
command leaves nothing behind, and racing writers lose no update.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from uuid import UUID

import pytest

from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain import errors
from cases.domain.support_case import SupportCase
from cases.settings import Settings
from tests.support.builders import T0, caller, intake, terms

COPIES = 100


@pytest.fixture
def processes(settings: Settings, clock: ManualClock) -> Iterator[tuple[Services, Services]]:
    """Two services on one store, each with its own working copies, as two API
    worker processes have."""
    if settings.database_url == "memory://":
        pytest.skip("in-memory stores are not shared between service instances")
    first = bootstrap(settings, clock, working_copies=COPIES)
    second = bootstrap(settings, clock, working_copies=COPIES)
    yield first, second
    first.close()
    second.close()


@pytest.fixture
def kept(settings: Settings, clock: ManualClock) -> Iterator[Services]:
    services = bootstrap(settings, clock, working_copies=COPIES)
    yield services
    services.close()


def _new_case(services: Services) -> UUID:
    services.desk.publish_terms(caller(), terms(), effective_from=T0)
    received = services.desk.receive_case(caller(), cmd.TakeIn(received_at=T0, **intake()))
    return received.aggregate_id


def _notes(services: Services, case_id: UUID) -> list[str]:
    """The texts of the case's recorded notes, in order."""
    history = services.audit.history(SupportCase, case_id)
    return [h.details["text"] for h in history if h.event_type.endswith("NoteAdded")]


def _stored(services: Services, case_id: UUID) -> SupportCase:
    """The case as the store has it, loaded past any working copy."""
    return services.runner.load(SupportCase, case_id)


def _copy(services: Services, case_id: UUID) -> tuple[int, int]:
    """The version and note count of the process's working copy, brought up to date."""
    return services.runner.inspect(SupportCase, case_id, lambda c: (c.version, c.note_count))


def _as_stored(services: Services, case_id: UUID) -> tuple[int, int]:
    case = _stored(services, case_id)
    return case.version, case.note_count


class TestAcrossProcesses:
    def test_each_process_sees_the_others_changes(
        self, processes: tuple[Services, Services]
    ) -> None:
        """Alternating writers build on each other's notes; none is lost or refused."""
        first, second = processes
        case_id = _new_case(first)
        for n in range(6):
            writer = first if n % 2 == 0 else second
            writer.desk.handle(caller(), case_id, cmd.AddNote(f"note {n}"))
        assert _notes(first, case_id) == [f"note {n}" for n in range(6)]
        for services in processes:
            receipt = services.desk.handle(caller(), case_id, cmd.AddNote("last"))
            assert receipt.version == _stored(first, case_id).version
            assert _copy(services, case_id) == _as_stored(first, case_id)

    def test_if_match_is_judged_against_the_store_not_a_stale_copy(
        self, processes: tuple[Services, Services]
    ) -> None:
        """The version another process reached is accepted; an older one is 412's error."""
        first, second = processes
        case_id = _new_case(first)
        second.desk.handle(
            caller(), case_id, cmd.AddNote("seen by the second")
        )  # second keeps a copy
        receipt = first.desk.handle(caller(), case_id, cmd.AddNote("from the first"))
        after = second.desk.handle(
            caller(), case_id, cmd.AddNote("based on the latest"), expected_version=receipt.version
        )
        assert after.version > receipt.version
        with pytest.raises(errors.VersionMismatchError):
            first.desk.handle(
                caller(), case_id, cmd.AddNote("stale"), expected_version=receipt.version
            )
        assert _notes(first, case_id)[-1] == "based on the latest"

    def test_racing_writers_with_copies_lose_no_update(
        self, processes: tuple[Services, Services]
    ) -> None:
        """Threads in both processes add notes at once; every note is recorded once."""
        case_id = _new_case(processes[0])
        writers = [(index, processes[index % 2]) for index in range(4)]
        start = threading.Barrier(len(writers))
        failures: list[BaseException] = []

        def write(index: int, services: Services) -> None:
            start.wait()
            try:
                for n in range(8):
                    services.desk.handle(caller(), case_id, cmd.AddNote(f"writer {index} note {n}"))
            except BaseException as e:  # noqa: BLE001 - reported by the assertion below
                failures.append(e)

        threads = [threading.Thread(target=write, args=writer) for writer in writers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert failures == []
        expected = sorted(f"writer {i} note {n}" for i in range(4) for n in range(8))
        assert sorted(_notes(processes[0], case_id)) == expected
        for services in processes:  # each process's copy caught up with all of it
            assert _copy(services, case_id) == _as_stored(services, case_id)
            assert _copy(services, case_id)[1] == len(expected)


class TestRefusals:
    def test_a_refused_command_leaves_the_copy_as_the_store_has_it(self, kept: Services) -> None:
        """Closing an unresolved case is refused; the next command works on the stored state."""
        case_id = _new_case(kept)
        kept.desk.handle(caller(), case_id, cmd.AddNote("before"))
        version = _stored(kept, case_id).version
        with pytest.raises(errors.DomainError):
            kept.desk.handle(caller(), case_id, cmd.Close())
        assert _stored(kept, case_id).version == version
        kept.desk.handle(caller(), case_id, cmd.AddNote("after"))
        assert _notes(kept, case_id) == ["before", "after"]
        assert _copy(kept, case_id) == _as_stored(kept, case_id)

    def test_a_command_that_changed_the_copy_and_then_failed_records_nothing(
        self, kept: Services
    ) -> None:
        """A decision that raises after recording an event in memory leaves no trace:
        the copy is dropped and the next command starts from the store."""
        case_id = _new_case(kept)
        version = _stored(kept, case_id).version

        def note_then_fail(case: SupportCase, ctx: object) -> None:
            case.add_note(ctx, cmd.AddNote("never recorded"))  # type: ignore[arg-type]
            raise errors.CaseClosedError("refused after a change in memory")

        with pytest.raises(errors.CaseClosedError):
            kept.runner.change(SupportCase, case_id, caller(), note_then_fail)
        assert _stored(kept, case_id).version == version
        kept.desk.handle(caller(), case_id, cmd.AddNote("recorded"))
        assert _notes(kept, case_id) == ["recorded"]
        assert _copy(kept, case_id) == _as_stored(kept, case_id)


def test_copies_are_bounded(kept: Services) -> None:
    """No more than the configured number of aggregates is kept."""
    copies = kept.runner.copies
    assert copies is not None
    kept.desk.publish_terms(caller(), terms(), effective_from=T0)
    for _ in range(COPIES + 20):
        kept.desk.receive_case(caller(), cmd.TakeIn(received_at=T0, **intake()))
    assert len(copies) == COPIES
