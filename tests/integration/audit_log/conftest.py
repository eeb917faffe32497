"""Stores holding a generated history of more than 10 000 real events, with the
audit log's tree built over them and a checkpoint every 1 000 events.

The history is recorded once per session and store kind (the bulk writer: the
domain's own commands, saved by the event log), its tree built and its
checkpoints signed and witnessed, then copied for each test (SQLite's backup
API; a PostgreSQL database made from it as a template), so every test may
mutate its own copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cases.audit_log.keys import verifier_from
from cases.audit_log.tree_store import TreeStore
from cases.audit_log.verify import LogVerifier
from cases.db.database import ProjectionDatabase, open_projection_db
from cases.db.schema import migrate
from cases.followers.tree_builder import TreeBuilder, tree_builders
from cases.persistence.database_url import parse_database_url
from cases.persistence.event_log import EventLog
from cases.persistence.store import open_event_log
from cases.settings import Settings
from tests.support.history import BulkWriter, SupportHistory
from tests.support.postgres import database_copy, throwaway_database

HISTORY_EVENTS = 10_000
CHECKPOINT_EVERY = 1_000
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass(frozen=True, slots=True)
class VerifyPool:
    """How `Copy.verifier()` verifies: in how many processes, over ranges of how many
    leaves, reading how many rows at a time."""

    workers: int
    range_events: int | None = None
    batch_size: int = 10_000


ONE_PROCESS = VerifyPool(1)
TWO_WORKERS = VerifyPool(2, range_events=2_000, batch_size=1_000)
"""Six ranges of the history, so every mutation falls in a range after the first."""
VERIFYING_MODULES = ("test_verify_mutations",)
"""Whose tests run both ways (`pytest_generate_tests`)."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The verifier's tests run in one process and with a pool over small ranges."""
    if "verify_pool" in metafunc.fixturenames and metafunc.module.__name__.endswith(
        VERIFYING_MODULES
    ):
        metafunc.parametrize("verify_pool", [ONE_PROCESS, TWO_WORKERS], ids=["one", "pool"])


@pytest.fixture
def verify_pool() -> VerifyPool:
    return ONE_PROCESS


@dataclass(frozen=True, slots=True)
class TreeHistory:
    """A recorded store with its tree: where, its key, its witness directory."""

    url: str
    key_file: Path
    witness_dir: Path
    events: int


def history_settings(url: str, key_file: Path, data_dir: Path, **more: object) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data_dir,
        audit_log_key_file=key_file,
        audit_log_checkpoint_events=CHECKPOINT_EVERY,
        audit_log_checkpoint_seconds=86_400,
        **more,  # type: ignore[arg-type]
    )


def _record(url: str, folder: Path) -> TreeHistory:
    migrate(parse_database_url(url))
    key_file, witness = folder / "audit-log.key", folder / "witness"
    settings = history_settings(url, key_file, folder, audit_log_witness_dir=witness)
    log = open_event_log(settings)
    db = open_projection_db(settings)
    try:
        SupportHistory(seed=5).record(BulkWriter(log, chunk=2_000), HISTORY_EVENTS)
        builder = tree_builders(settings, log, lambda: db, create_key=True)()
        builder.issue_now()
        events = builder.store.head().size
    finally:
        db.close()
        log.close()
    return TreeHistory(url, key_file, witness, events)


@pytest.fixture(scope="session")
def sqlite_tree_history(tmp_path_factory: pytest.TempPathFactory) -> TreeHistory:
    folder = tmp_path_factory.mktemp("tree-history")
    return _record(f"sqlite:///{folder / 'history.db'}", folder)


@pytest.fixture(scope="session")
def postgres_tree_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TreeHistory]:
    with throwaway_database() as url:
        yield _record(url, tmp_path_factory.mktemp("tree-history"))


@pytest.fixture(params=STORES)
def history(request: pytest.FixtureRequest) -> TreeHistory:
    found: TreeHistory = request.getfixturevalue(f"{request.param}_tree_history")
    return found


@pytest.fixture
def database_url(history: TreeHistory, tmp_path: Path) -> Iterator[str]:
    """A copy of the recorded history and its tree, for this test alone."""
    with database_copy(history.url, tmp_path) as url:
        yield url


@pytest.fixture
def settings(database_url: str, history: TreeHistory, tmp_path: Path) -> Settings:
    return history_settings(database_url, history.key_file, tmp_path)


@dataclass
class Copy:
    """The copied store, opened: its log, tree database and a verifier of it."""

    settings: Settings
    log: EventLog
    db: ProjectionDatabase
    pool: VerifyPool = ONE_PROCESS

    def verifier(self, pool: VerifyPool | None = None) -> LogVerifier:
        how = pool or self.pool
        return LogVerifier(
            self.log,
            TreeStore(self.db),
            verifier_from(self.settings),
            self.settings.audit_log_origin,
            batch_size=how.batch_size,
            workers=how.workers,
            range_events=how.range_events,
            settings=self.settings,
        )

    def builder(self) -> TreeBuilder:
        return tree_builders(self.settings, self.log, lambda: self.db, create_key=False)()


@pytest.fixture
def copy(settings: Settings, verify_pool: VerifyPool) -> Iterator[Copy]:
    log = open_event_log(settings)
    db = open_projection_db(settings)
    try:
        yield Copy(settings, log, db, verify_pool)
    finally:
        db.close()
        log.close()
