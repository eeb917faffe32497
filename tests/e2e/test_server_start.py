"""Starting the server on PostgreSQL beside other processes of the same store."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.e2e._deployment import publish_terms
from tests.support.postgres import throwaway_database
from tests.support.server import (
    ServerProcess,
    free_port,
    prepare_store,
    server_command,
    store_env,
)

pytestmark = pytest.mark.postgres


@contextmanager
def store_functions_held(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An open transaction that has just altered the event store's insert function,
    as another process re-creating it at its own start would have; committed on exit."""
    with psycopg.connect(database_url) as holder:
        [name] = holder.execute(
            "SELECT oid::regprocedure::text FROM pg_proc WHERE proname LIKE '%insert_events%'"
        ).fetchone() or [None]
        holder.execute(f"ALTER FUNCTION {name} COST 101")
        yield holder
        holder.commit()


class TestServerStart:
    def test_a_server_starts_while_another_process_opens_the_store(self, tmp_path: Path) -> None:
        """A server starts while another process holds the event store's functions
        (as one re-creating them at its own start would): once the store exists, a
        process does not run the library's DDL again, so nothing waits or collides."""
        with throwaway_database() as url:
            prepare_store(url)
            publish_terms(url, tmp_path)
            outcome: ServerProcess | str
            with ThreadPoolExecutor(1) as starter, store_functions_held(url):
                outcome = starter.submit(try_to_start, url, tmp_path).result(timeout=120)
            if isinstance(outcome, ServerProcess):
                outcome.stop()
        assert isinstance(outcome, ServerProcess), outcome


def try_to_start(database_url: str, data_dir: Path) -> ServerProcess | str:
    """A healthy server, or the end of its log if it would not start (once: not
    `start_server`, which tries again after this very failure)."""
    port = free_port()
    env = store_env(database_url, data_dir)
    server = ServerProcess(server_command(port, 1), env, data_dir / "server.log", port)
    server.start()
    try:
        server.wait_until_healthy()
    except RuntimeError as e:
        server.stop()
        return str(e)[-500:]
    return server
