"""Commands racing on one case: no lost update, stale versions refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.domain import billing_commands as bcmd
from cases.domain import case_commands as cmd
from cases.domain import errors
from cases.domain.billing_values import BillingPeriod
from cases.settings import Settings
from tests.support.builders import T0, caller, intake, is_clock_fact, terms

WRITERS = 4
NOTES_EACH = 10


@pytest.fixture
def writers(settings: Settings, clock: ManualClock) -> Iterator[list[Services]]:
    """Separate services (own connections) on one store, as separate processes have."""
    if settings.database_url == "memory://":
        pytest.skip("in-memory stores are not shared between service instances")
    group = [bootstrap(settings, clock) for _ in range(WRITERS)]
    yield group
    for services in group:
        services.close()


def test_racing_writers_lose_no_update(writers: list[Services]) -> None:
    """Every note from every writer is recorded exactly once, in some order.

    A writer that keeps losing the race past the runner's attempts is refused with
    "try again" (`ConcurrentChangeError`, HTTP 409): on a loaded machine that can
    happen, and a refused note must be recorded nowhere, so the writer does as a
    client would and sends it again. A refusal that had recorded the note would
    show here as a duplicate."""
    desk = writers[0].desk
    desk.publish_terms(caller(), terms(), effective_from=T0)
    received = desk.receive_case(caller(), cmd.TakeIn(received_at=T0, **intake()))
    case_id = received.aggregate_id
    start = threading.Barrier(WRITERS)
    failures: list[BaseException] = []

    def write(index: int, services: Services) -> None:
        start.wait()
        try:
            for n in range(NOTES_EACH):
                while True:
                    try:
                        services.desk.handle(
                            caller(), case_id, cmd.AddNote(f"writer {index} note {n}")
                        )
                        break
                    except errors.ConcurrentChangeError:
                        continue  # refused, nothing recorded: send it again
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            failures.append(e)

    threads = [threading.Thread(target=write, args=(i, s)) for i, s in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    history = writers[0].audit.history(type(desk.case(case_id)), case_id)
    notes = sorted(h.details["text"] for h in history if h.event_type.endswith("NoteAdded"))
    expected = sorted(f"writer {i} note {n}" for i in range(WRITERS) for n in range(NOTES_EACH))
    assert notes == expected
    assert [h.version for h in history] == list(range(1, len(history) + 1))
    assert len([h for h in history if not is_clock_fact(h.event_type)]) == 1 + len(expected)
    # The clock stands still, so no deadline passes: each note records only itself.
    assert desk.case(case_id).version == received.version + WRITERS * NOTES_EACH


def test_only_one_of_two_commands_on_the_same_version_wins(writers: list[Services]) -> None:
    """With an expected version, the loser is refused instead of retried."""
    desk = writers[0].desk
    desk.publish_terms(caller(), terms(), effective_from=T0)
    received = desk.receive_case(caller(), cmd.TakeIn(received_at=T0, **intake()))
    case_id, intake_version = received.aggregate_id, received.version
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def write(services: Services) -> None:
        start.wait()
        try:
            services.desk.handle(
                caller(), case_id, cmd.AddNote("after the intake"), expected_version=intake_version
            )
            outcomes.append("recorded")
        except errors.VersionMismatchError:
            outcomes.append("refused")

    threads = [threading.Thread(target=write, args=(s,)) for s in writers[:2]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["recorded", "refused"]
    assert desk.case(case_id).version == intake_version + 1


def test_accounts_opened_at_once_are_all_listed(writers: list[Services]) -> None:
    """Openings race for the next place in the account directory; the losers
    retry, so every account is recorded and listed exactly once."""
    start = threading.Barrier(WRITERS)
    failures: list[BaseException] = []

    def open_accounts(index: int, services: Services) -> None:
        start.wait()
        try:
            for n in range(3):
                services.billing.open_account(
                    caller(),
                    bcmd.OpenAccount(
                        customer_id=f"customer-{index}-{n}",
                        currency="EUR",
                        net_days=30,
                        billing_period=BillingPeriod.MONTHLY,
                    ),
                )
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            failures.append(e)

    threads = [threading.Thread(target=open_accounts, args=(i, s)) for i, s in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    listed = list(writers[0].billing.directory.ids())
    assert len(listed) == len(set(listed)) == WRITERS * 3
    with pytest.raises(errors.CustomerAlreadyHasAccountError):
        writers[0].billing.open_account(
            caller(),
            bcmd.OpenAccount(
                customer_id="customer-0-0",
                currency="EUR",
                net_days=30,
                billing_period=BillingPeriod.MONTHLY,
            ),
        )
