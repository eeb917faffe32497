"""On the embedded SQLite store a newcomer gets the audit log with nothing to set
up: `cases demo` and the server's in-process runners keep the tree, sign with a
key made on first use in the data directory, and `cases audit verify` passes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cases.audit_log.tree_store import TreeStore
from cases.bootstrap import bootstrap
from cases.cli.main import app
from cases.clock import ManualClock
from cases.db.database import open_projection_db
from cases.db.schema import migrate
from cases.followers.in_process import InProcessProjections
from cases.persistence.database_url import parse_database_url
from cases.scenario.demo import run_demo
from cases.scenario.read_models import audit_checkpoint
from cases.settings import Settings, get_settings
from tests.support.postgres import throwaway_database

WAIT = 60.0


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
    for name in ("CASES_DATABASE_URL", "CASES_AUDIT_LOG_KEY_FILE", "CASES_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_the_demo_signs_a_checkpoint_with_a_key_made_on_first_use(cli_env: Path) -> None:
    demo = CliRunner().invoke(app, ["demo"])
    assert demo.exit_code == 0, demo.output
    assert "audit_log_key_generated" in demo.output
    assert (cli_env / "audit-log.key").exists()
    assert (cli_env / "audit-log.key.pub").exists()
    assert "Audit log: checkpoint of" in demo.output

    verified = CliRunner().invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "verified" in verified.output


def test_the_servers_runners_keep_the_tree_and_issue_checkpoints(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    settings = Settings(database_url=url, data_dir=tmp_path, audit_log_checkpoint_events=50)
    migrate(parse_database_url(url))
    clock = ManualClock(datetime(2026, 1, 5, 8, tzinfo=UTC))
    services = bootstrap(settings, clock)
    db = open_projection_db(settings)
    try:
        with InProcessProjections.from_settings(
            settings, log=services.log, audit_log=True, poll_interval=0.02
        ):
            run_demo(services, clock, settings.vendor_name)
            head = services.log.head()
            deadline = time.monotonic() + WAIT
            while TreeStore(db).head().position < head:
                assert time.monotonic() < deadline, "the tree did not reach the head"
                time.sleep(0.05)
        checkpoints = TreeStore(db).checkpoints()
    finally:
        db.close()
        services.close()
    assert (tmp_path / "audit-log.key").exists()
    assert checkpoints  # the first batch issues one; then about every 50 events
    assert checkpoints[-1].size <= head


@pytest.mark.postgres
def test_on_postgresql_no_key_is_made_and_the_demo_says_why_nothing_was_signed(
    tmp_path: Path,
) -> None:
    with throwaway_database() as url:
        migrate(parse_database_url(url))
        settings = Settings(database_url=url, data_dir=tmp_path)
        services = bootstrap(settings, ManualClock(datetime(2026, 1, 5, 8, tzinfo=UTC)))
        try:
            line = audit_checkpoint(settings, services)
        finally:
            services.close()
    assert line.startswith("Audit log: no checkpoint signed: no checkpoint signing key at ")
    assert "cases audit keygen" in line
    assert not (tmp_path / "audit-log.key").exists()
