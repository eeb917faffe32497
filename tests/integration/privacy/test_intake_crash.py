"""A process killed while it takes in a sealed case (ADR 0044, 0067 amended).

On SQLite a new subject's key and its search digests are written in the events'
own transaction: killed before that commit, nothing of the intake is left; killed
after it, the events, the key and the digests are all there and the case opens.
No write of the keys precedes the events' transaction there.

On PostgreSQL the keys live in their own schema, written on their own connection
before the events (ADR 0067): a process killed between the two leaves a key and
the subject's digests with no event, found by `subjects` but holding nothing;
never an event whose key is missing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest

from cases.bootstrap import bootstrap
from cases.clock import ManualClock
from cases.db.schema import migrate
from cases.domain.support_case import SupportCase
from cases.persistence.database_url import parse_database_url
from cases.settings import Settings
from tests.integration.privacy.conftest import MASTER
from tests.support.builders import T0, caller, intake, terms
from tests.support.children import spawn, stop
from tests.support.postgres import throwaway_database

ROOT = Path(__file__).resolve().parents[3]
EMAIL = str(intake()["contact"].email)

TAKE_IN = """
import sys
from cases.bootstrap import bootstrap
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.settings import Settings
from tests.support.builders import T0, caller, intake

settings = Settings(database_url=sys.argv[1], master_key=sys.argv[2], snapshot_interval=5)
services = bootstrap(settings, ManualClock(T0))
try:
    receipt = services.desk.receive_case(caller(), cmd.TakeIn(received_at=T0, **intake()))
    print("taken in:", receipt.aggregate_id)
finally:
    services.close()
"""


def settings_of(url: str) -> Settings:
    return Settings(database_url=url, snapshot_interval=5, master_key=MASTER.as_text())  # type: ignore[arg-type]


def ready(url: str) -> str:
    """`url`'s store migrated, with the support terms published."""
    migrate(parse_database_url(url))
    services = bootstrap(settings_of(url), ManualClock(T0))
    try:
        services.desk.publish_terms(caller(), terms(), effective_from=T0)
    finally:
        services.close()
    return url


@pytest.fixture
def sqlite_store(tmp_path: Path) -> str:
    return ready(f"sqlite:///{tmp_path / 'events.db'}")


@pytest.fixture
def postgres_store() -> Iterator[str]:
    with throwaway_database() as url:
        yield ready(url)


def take_in(url: str, fault: str | None = None) -> tuple[int, str]:
    """Take in a case in a process of its own; its exit status and the case's id."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    env.pop("CASES_FAULT_POINT", None)
    if fault is not None:
        env["CASES_FAULT_POINT"] = fault
    command = [sys.executable, "-c", TAKE_IN, url, MASTER.as_text()]
    process = spawn(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        out, _ = process.communicate(timeout=120)
        said = [line for line in out.decode().splitlines() if line.startswith("taken in:")]
        return process.returncode, said[-1].split()[-1] if said else ""
    finally:
        stop(process)


@dataclass(frozen=True)
class Left:
    """What the store holds after a run."""

    events: int
    keys: set[UUID]
    digests: set[UUID]
    found: set[UUID]


def left_in(url: str) -> Left:
    services = bootstrap(settings_of(url), ManualClock(T0))
    try:
        keys = services.log.subject_keys
        assert keys is not None
        return Left(
            events=services.log.head(),
            keys={row.subject for row in keys._rows()},
            digests={subject for _, _, subject in keys.digests()},
            found={s.subject_id for s in services.privacy.find(email=EMAIL)},
        )
    finally:
        services.close()


def contact_name_of(url: str, case_id: UUID) -> str:
    services = bootstrap(settings_of(url), ManualClock(T0))
    try:
        assert services.runner.exists(SupportCase, case_id)
        return services.desk.case(case_id).contact.name
    finally:
        services.close()


def test_on_sqlite_the_key_commits_with_the_events_or_not_at_all(sqlite_store: str) -> None:
    store = sqlite_store
    before = left_in(store)
    assert before.keys == set()

    # No write of the keys precedes the events' transaction: the point where
    # PostgreSQL has stored them is never reached.
    status, printed = take_in(store, "sealed-before-write")
    assert status == 0
    first = UUID(printed)
    after_first = left_in(store)
    assert after_first.keys == after_first.digests == after_first.found == {first}

    # Killed with the key, the digests and the events written but not committed.
    assert take_in(store, "before-commit")[0] == -signal.SIGKILL
    assert left_in(store) == after_first

    # Killed once committed, before the answer: all of it is there, and opens.
    assert take_in(store, "after-commit")[0] == -signal.SIGKILL
    after = left_in(store)
    [second] = after.keys - after_first.keys
    assert after.digests == after.found == {first, second}
    assert after.events == after_first.events + (after_first.events - before.events)
    assert contact_name_of(store, second) == intake()["contact"].name


@pytest.mark.postgres
def test_on_postgres_a_crash_between_keys_and_events_leaves_a_key_and_no_event(
    postgres_store: str,
) -> None:
    store = postgres_store
    before = left_in(store)

    assert take_in(store, "sealed-before-write")[0] == -signal.SIGKILL
    crashed = left_in(store)
    [orphan] = crashed.keys
    assert crashed.events == before.events  # no event: none without its key either
    assert crashed.digests == crashed.found == {orphan}  # found, holding nothing

    status, printed = take_in(store)
    assert status == 0
    case_id = UUID(printed)
    after = left_in(store)
    assert after.keys == after.found == {orphan, case_id}
    assert after.events > before.events
    assert contact_name_of(store, case_id) == intake()["contact"].name
