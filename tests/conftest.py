"""Fixtures shared by every layer of tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from hypothesis import settings as hypothesis_settings

from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.settings import Settings, get_settings
from tests.support import children
from tests.support.postgres import throwaway_database

# A property's examples are judged by what they assert, not by how long one took:
# on a loaded 2-core CI machine the default 200 ms deadline fails sound examples.
hypothesis_settings.register_profile("cases", deadline=None)
hypothesis_settings.load_profile("cases")

STORES = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo the logging set-up a CLI command did inside CliRunner: it binds the
    runner's stderr, which is closed afterwards, and a thread that logs to it
    later would die of the ValueError."""
    handlers = logging.root.handlers[:]
    config = structlog.get_config()
    yield
    logging.root.handlers[:] = handlers
    structlog.configure(**config)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))


@pytest.fixture(params=STORES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store of each kind: in-memory, SQLite, PostgreSQL."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
    else:
        with throwaway_database() as url:
            yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, snapshot_interval=5)


@pytest.fixture
def services(settings: Settings, clock: ManualClock) -> Iterator[Services]:
    services = bootstrap(settings, clock)
    try:
        yield services
    finally:
        services.close()


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM/SIGHUP of the run kill every test server and runner first
    (tests/support/children.py)."""
    children.install_signal_handlers()


def pytest_unconfigure(config: pytest.Config) -> None:
    """However the run ends (Ctrl-C too), no child process outlives it."""
    children.kill_all()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        help="also run the long property, concurrency and chaos tests (marked slow)",
    )


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A command line on a fresh SQLite store in `tmp_path` (the settings are read
    afresh before and after)."""
    monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CASES_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long runs (marked slow) stay out of the default run and CI unless asked for with
    --slow or selected with -m."""
    if config.getoption("--slow") or config.getoption("-m"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)
