"""`cases migrate` and `cases projections run | status | rebuild` on real stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.db import schema
from cases.db.database import ProjectionDatabase
from cases.domain import case_commands as cmd
from cases.followers.catalog import PROJECTIONS
from cases.followers.status import TREE
from cases.followers.tracking import Tracking
from cases.outbox.derivation import OUTBOX
from cases.projections.projection import LIVE, behind
from cases.reports.compliance_seal import reseal, seal_state
from cases.settings import Settings, get_settings
from tests.integration.projections.conftest import RecordedHistory
from tests.support import children
from tests.support.builders import T0, caller, intake
from tests.support.projection_cli import app
from tests.support.projection_tables import table_rows
from tests.support.scrape import value
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[3]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def use_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Point the CLI's settings at a store (call `setenv` in the test)."""
    monkeypatch.delenv("CASES_LOG_LEVEL", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture
def history_store(use_store: pytest.MonkeyPatch, database_url: str) -> str:
    use_store.setenv("CASES_DATABASE_URL", database_url)
    return database_url


@pytest.fixture
def old_store(use_store: pytest.MonkeyPatch, empty_database_url: str) -> str:
    """A store with events in it but no projection migrations applied."""
    use_store.setenv("CASES_DATABASE_URL", empty_database_url)
    bootstrap(Settings(database_url=empty_database_url), ManualClock(T0)).close()
    return empty_database_url


@pytest.mark.usefixtures("old_store")
class TestMigrate:
    def test_applies_pending_migrations_and_says_which(self) -> None:
        """The first run applies every migration and lists them; the second has
        nothing to do and says so."""
        first = invoke("migrate")
        assert first.exit_code == 0, first.output
        assert "Applied" in first.stdout
        assert "  0001_projection_tracking" in first.stdout.splitlines()
        assert "  0002_case_projections" in first.stdout.splitlines()

        second = invoke("migrate")
        assert second.exit_code == 0, second.output
        assert "is up to date; nothing to apply" in second.stdout

    def test_a_package_without_migrations_is_refused_not_reported_up_to_date(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An installation whose package holds no migrations fails in one line, with a
        non-zero exit, instead of claiming an empty schema is current."""
        monkeypatch.setattr(schema, "FOLDER", "no-such-folder")
        result = invoke("migrate")
        assert result.exit_code == 2
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: no ")
        assert "migrations found in the installed package" in line
        assert "nothing to apply" not in result.stdout


class TestRefusals:
    @pytest.mark.parametrize(
        "command", [["run", "--once"], ["run"], ["status"], ["rebuild", "case_queue"]]
    )
    @pytest.mark.usefixtures("old_store")
    def test_an_old_schema_is_refused_with_one_line_saying_to_migrate(
        self, command: list[str]
    ) -> None:
        """Before `cases migrate`, every projection command refuses to start."""
        result = invoke("projections", *command)
        assert result.exit_code == 2
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: the database schema is behind")
        assert line.endswith("run `cases migrate`")

    @pytest.mark.usefixtures("history_store")
    def test_an_unknown_projection_is_one_line(self) -> None:
        """A name not in the catalogue is refused, listing the known ones."""
        result = invoke("projections", "rebuild", "case_queues")
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [
            f"error: no projection is called 'case_queues'; known: {', '.join(sorted(PROJECTIONS))}"
        ]

    def test_the_in_memory_store_is_refused(self, use_store: pytest.MonkeyPatch) -> None:
        """Projections need a real database."""
        use_store.setenv("CASES_DATABASE_URL", "memory://")
        result = invoke("projections", "status")
        assert result.exit_code == 2
        assert result.stderr.strip().splitlines() == [
            (
                "error: CASES_DATABASE_URL: projections need a SQLite or PostgreSQL store, "
                "not in-memory store"
            )
        ]


@pytest.mark.usefixtures("history_store")
class TestRunStatusRebuild:
    def test_run_once_catches_up_and_status_shows_no_lag(self, recorded: RecordedHistory) -> None:
        """`run --once` applies the whole log to every projection; `status` then
        shows each at the head with zero lag."""
        before = invoke("projections", "status")
        assert before.exit_code == 0, before.output
        assert f"{recorded.head}" in before.stdout
        [tree] = [line.split() for line in before.stdout.splitlines() if TREE in line]
        assert [c for c in tree if c != "│"][:4] == [
            TREE,
            "0",
            str(recorded.head),
            str(recorded.head),
        ]

        run = invoke("projections", "run", "--once")
        assert run.exit_code == 0, run.output
        for name in PROJECTIONS:
            assert f"{name}: applied " in run.stdout
            assert f"at position {recorded.head}." in run.stdout

        status = invoke("projections", "status")
        assert status.exit_code == 0, status.output
        rows = [line.split() for line in status.stdout.splitlines() if "│" in line]
        for name in [*PROJECTIONS, TREE, OUTBOX]:  # the tree builder and outbox lag as they do
            [row] = [cells for cells in rows if name in cells]
            assert [c for c in row if c != "│"] == [
                name,
                str(recorded.head),
                str(recorded.head),
                "0",
                "0.0",
            ]

    def test_run_names_only_the_projections_asked_for(
        self, db: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        """`run --once case_queue` leaves the other projections where they were."""
        result = invoke("projections", "run", "--once", "case_queue")
        assert result.exit_code == 0, result.output
        positions = {row.projection: row.position for row in Tracking(db).all()}
        assert positions == {"case_queue": recorded.head}

    @pytest.mark.parametrize(
        "command", [("run", "--once"), ("rebuild", "case_queue")], ids=["run", "rebuild"]
    )
    def test_a_catch_up_batch_smaller_than_the_batch_is_one_line(
        self, db: ProjectionDatabase, command: tuple[str, ...]
    ) -> None:
        """Refused before anything is applied (ADR 89)."""
        result = invoke(
            "projections", *command, "--batch-size", "500", "--catch-up-batch-size", "100"
        )
        assert result.exit_code == 2
        assert result.stderr.strip().splitlines() == [
            "error: --catch-up-batch-size (100) must be at least --batch-size (500)"
        ]
        assert {row.projection: row.position for row in Tracking(db).all()} == {}

    def test_rebuild_swaps_in_equal_tables(
        self, db: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        """`rebuild case_queue` after a run gives the same rows and says where it got to."""
        assert invoke("projections", "run", "--once", "case_queue").exit_code == 0
        live = table_rows(db, "case_queue")
        result = invoke("projections", "rebuild", "case_queue", "--batch-size", "300")
        assert result.exit_code == 0, result.output
        assert (
            f"Rebuilt case_queue: applied {recorded.case_events} events; "
            f"live at position {recorded.head}."
        ) in result.stdout
        assert table_rows(db, "case_queue") == live

    def test_keep_moments_keeps_the_changes_by_moment_of_seals_made_catching_up(
        self, db: ProjectionDatabase
    ) -> None:
        """Seals made while catching up keep no changes by moment; `keep-moments`
        keeps them, one seal at a time, and a rebuild of the service levels ends
        by doing the same (ADR 84)."""
        result = invoke("projections", "rebuild", "service_levels", "--batch-size", "50")
        assert result.exit_code == 0, result.output
        assert "Every compliance seal keeps its changes by moment." in result.stdout
        state = seal_state(db, LIVE)
        assert state is not None
        first = state.seals[0]
        later = [first + timedelta(days=2), first + timedelta(days=3, hours=5)]
        with behind(more=True), db.transaction():
            reseal(db, LIVE, [first, *later], state.latest_recorded_at)
        kept = invoke("projections", "keep-moments")
        assert kept.exit_code == 0, kept.output
        assert kept.stdout.splitlines() == [
            *(f"Kept the changes by moment of the seal at {m.isoformat()}." for m in later),
            "Every compliance seal keeps its changes by moment.",
        ]
        after = seal_state(db, LIVE)
        assert after is not None
        assert after.by_moment == frozenset(later)

    def test_run_follows_the_log_until_sigterm(
        self, services: Services, db: ProjectionDatabase
    ) -> None:
        """`run` (no --once) in its own process applies what is recorded while it
        runs, and stops cleanly on SIGTERM."""
        with _running_follower() as process:
            _record_and_wait(services, db, process)
            stdout, stderr = _stop(process)
        assert process.returncode == 0, stderr
        assert stdout.splitlines() == ["Running case_queue; Ctrl-C to stop.", "Stopped."]

    def test_run_serves_its_own_counters_for_prometheus(
        self, services: Services, db: ProjectionDatabase
    ) -> None:
        """`run --metrics-port` serves the runner's counters: a scrape parses, and
        the events it applied are counted by projection."""
        port = free_port()
        with _running_follower("--metrics-port", str(port)) as process:
            _record_and_wait(services, db, process)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
                text = answer.read().decode()
            stdout, stderr = _stop(process)
        assert process.returncode == 0, stderr
        assert stdout.splitlines()[0] == f"Metrics on http://127.0.0.1:{port}/metrics"
        applied = value(text, "cases_projection_events_applied_total", projection="case_queue")
        assert applied >= 1
        assert value(text, "cases_projection_batches_total", projection="case_queue") >= 1


@contextmanager
def _running_follower(*options: str) -> Iterator[subprocess.Popen[str]]:
    """`cases projections run case_queue` in its own process group, killed with
    its group whatever happens."""
    process = children.spawn(
        [
            *(sys.executable, "-m", "tests.support.projection_cli"),
            *("projections", "run", "case_queue", "--poll-interval", "0.05", *options),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
            "CASES_LOG_LEVEL": "WARNING",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        children.kill(process)  # nothing left of its group, whatever happened


def _record_and_wait(
    services: Services, db: ProjectionDatabase, process: subprocess.Popen[str]
) -> None:
    """Take in a case, then wait until the runner has applied it."""
    receipt = services.desk.receive_case(
        caller(), cmd.TakeIn(received_at=services.clock.now(), **intake())
    )
    deadline = time.monotonic() + 60
    while Tracking(db).position("case_queue") < receipt.position:
        assert time.monotonic() < deadline, "the runner did not catch up"
        # stderr is a pipe (`stderr=subprocess.PIPE` above).
        assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
        time.sleep(0.05)


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM, then what the process printed."""
    process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=20)
