"""An API app on a fresh SQLite or PostgreSQL store, through FastAPI's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cases.api.app import create_app
from cases.clock import ManualClock
from cases.db.schema import migrate
from cases.persistence.database_url import parse_database_url
from cases.persistence.subject_keys import MasterKey
from cases.settings import Settings
from tests.support.postgres import throwaway_database

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The API needs SQLite or PostgreSQL (read models); PostgreSQL is migrated first."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
    else:
        with throwaway_database() as url:
            migrate(parse_database_url(url))
            yield url


def sealed_settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings of a store with a master key (personal data and secrets sealed)."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        log_level="WARNING",
        master_key=MasterKey.generate().as_text(),  # type: ignore[arg-type]
    )


@pytest.fixture
def api_clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def client(database_url: str, tmp_path: Path, api_clock: ManualClock) -> Iterator[TestClient]:
    """The app with its read models running in-process."""
    settings = Settings(database_url=database_url, data_dir=tmp_path, log_level="WARNING")
    with TestClient(create_app(settings, api_clock, run_projections=True)) as test_client:
        yield test_client
