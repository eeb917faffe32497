"""A store with a master key, on every kind of store (ADR 0044)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.db.schema import migrate
from cases.persistence.database_url import StoreKind, parse_database_url
from cases.persistence.subject_keys import MasterKey
from cases.settings import Settings
from tests.support.builders import T0, caller, terms

MASTER = MasterKey.generate()


@pytest.fixture
def sealed_settings(database_url: str, tmp_path: Path) -> Settings:
    url = parse_database_url(database_url)
    if url.kind is not StoreKind.MEMORY:
        migrate(url)
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        snapshot_interval=5,
        master_key=MASTER.as_text(),  # type: ignore[arg-type]
    )


@pytest.fixture
def sealed(sealed_settings: Settings, clock: ManualClock) -> Iterator[Services]:
    """Services storing personal fields sealed, with the support terms published."""
    services = bootstrap(sealed_settings, clock)
    try:
        services.desk.publish_terms(caller(), terms(), effective_from=T0)
        yield services
    finally:
        services.close()


@pytest.fixture
def other_process(sealed_settings: Settings, clock: ManualClock) -> Iterator[Services]:
    """A second API process on the same store, keeping working copies."""
    if sealed_settings.effective_database_url.startswith("memory"):
        pytest.skip("the in-memory store has no second process")
    services = bootstrap(sealed_settings, clock, working_copies=100)
    try:
        yield services
    finally:
        services.close()
