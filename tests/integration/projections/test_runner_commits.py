"""A projection runner's commits do not wait for the disk; the API's reads and
idempotency records do (ADR 0028)."""

from __future__ import annotations

import pytest

from cases.db.database import open_projection_db, open_runner_db
from cases.settings import Settings


@pytest.mark.postgres
def test_only_runner_connections_commit_without_waiting_for_the_flush(
    settings: Settings, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("synchronous_commit is PostgreSQL's")
    runner, reader = open_runner_db(settings), open_projection_db(settings)
    try:
        assert runner.fetchone("SHOW synchronous_commit") == ("off",)
        assert reader.fetchone("SHOW synchronous_commit") == ("on",)
    finally:
        runner.close()
        reader.close()
