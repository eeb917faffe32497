"""What one command costs in thread hand-offs, statements and commits (ADR 31, amendment kap).

Run: PYTHONPATH=src:. .venv/bin/python benchmarks/keyed_command_counts.py [--notes 300]
     [--plain] [--settle 11]

The app runs in this process (FastAPI's TestClient) on a throwaway PostgreSQL
database, its projections not run. One helpdesk agent adds notes to one case; by
default each note carries an Idempotency-Key of its own and the case's ETag as
If-Match (api_load's keyed variant), with --plain neither. Over --notes notes after
30 of warm-up, the script counts per note: hand-offs to a worker thread
(`anyio.to_thread.run_sync` wrapped), statements sent (psycopg's `Cursor.execute` and
`executemany` wrapped, every connection of the process) and the database's commits
(`pg_stat_database.xact_commit`; each backend reports its commits within 10 s of
going idle, hence --settle seconds of quiet before and after the window). Counts do
not depend on the machine's load; the process CPU a note, also printed, does.
Compare two trees by running it under each (PYTHONPATH).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import psycopg
from fastapi.testclient import TestClient

from cases.api.app import create_app
from cases.application.caller import Caller
from cases.db.schema import migrate
from cases.domain.metadata import Actor, Role, Source
from cases.persistence.database_url import parse_database_url
from cases.settings import Settings
from tests.e2e._api import intake
from tests.support.app_services import services_of
from tests.support.builders import terms

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
WARM_UP = 30
counted: Counter[str] = Counter()


def count_calls() -> None:
    """Count hand-offs to threads and statements sent, from now on."""
    run_sync = anyio.to_thread.run_sync

    async def handed_off(*args: Any, **kwargs: Any) -> Any:
        counted["hand-offs"] += 1
        return await run_sync(*args, **kwargs)

    anyio.to_thread.run_sync = handed_off  # type: ignore[assignment]
    for name in ("execute", "executemany"):
        setattr(psycopg.Cursor, name, _counting(getattr(psycopg.Cursor, name)))


def _counting(method: Callable[..., Any]) -> Callable[..., Any]:
    def sent(self: Any, *args: Any, **kwargs: Any) -> Any:
        counted["statements"] += 1
        return method(self, *args, **kwargs)

    return sent


def commits(admin: psycopg.Connection[Any], database: str) -> int:
    admin.execute("SELECT pg_stat_clear_snapshot()")
    row = admin.execute(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (database,)
    ).fetchone()
    return int(row[0]) if row else 0


def measure(url: str, notes: int, keyed: bool, settle: float) -> dict[str, float]:
    """Per note: hand-offs, statements, commits and process CPU milliseconds."""
    admin = psycopg.connect(ADMIN_URL, autocommit=True)
    database = url.rsplit("/", 1)[1]
    settings = Settings(database_url=url, data_dir=Path(tempfile.mkdtemp()), metrics_enabled=False)
    with TestClient(create_app(settings, run_projections=False)) as client:
        services = services_of(client)
        yesterday = services.clock.now() - timedelta(days=1)
        setup = Caller.new(Actor("setup", Role.SYSTEM), Source.CLI)
        services.desk.publish_terms(setup.at(yesterday), terms(), yesterday)
        agent = services.principals.create(setup, name="agent", role=Role.HELPDESK_AGENT)
        auth = {"Authorization": f"Bearer {agent.token}"}
        opened = client.post("/cases", json=intake("contoso"), headers=auth)
        if opened.status_code != 201:
            raise SystemExit(f"the case was not opened: {opened.text}")
        path, etag = f"/cases/{opened.json()['id']}/notes", opened.headers["etag"]

        def note(number: int) -> None:
            nonlocal etag
            headers = dict(auth)
            if keyed:
                headers |= {"Idempotency-Key": f"note-{uuid.uuid4()}", "If-Match": etag}
            answer = client.post(path, json={"text": f"Note {number}."}, headers=headers)
            if answer.status_code != 200:
                raise SystemExit(f"a note was not added: {answer.text}")
            etag = answer.headers["etag"]

        for number in range(WARM_UP):
            note(number)
        time.sleep(settle)
        before, calls, cpu = commits(admin, database), counted.copy(), time.process_time()
        for number in range(notes):
            note(number)
        cpu = time.process_time() - cpu
        calls = counted - calls
        time.sleep(settle)
        committed = commits(admin, database) - before - 1  # less the first count's own
    return {
        "hand-offs": calls["hand-offs"] / notes,
        "statements": calls["statements"] / notes,
        "commits": committed / notes,
        "CPU ms": cpu * 1000 / notes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notes", type=int, default=300)
    parser.add_argument("--plain", action="store_true", help="no Idempotency-Key, no If-Match")
    parser.add_argument("--settle", type=float, default=11.0)
    args = parser.parse_args()
    name = f"keyed_counts_{os.getpid()}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(parse_database_url(url))
        count_calls()
        figures = measure(url, args.notes, not args.plain, args.settle)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    kind = "plain" if args.plain else "keyed (Idempotency-Key, If-Match)"
    print(f"{kind}, {args.notes} notes: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
