"""A streaming replica of the test PostgreSQL, started and stopped by a fixture.

`pg_basebackup -R` copies the test server (the whole cluster: every database
on it, so this is slow and grows with it) into a temporary directory, and a
`postgres` on a free port replays it as a hot standby. Databases the tests
create on the primary afterwards reach the replica by replication too, so one
replica serves a whole test module.

PostgreSQL refuses to run as root: run as root, the copy and the server run as
the `postgres` user, which owns the directory. The copy is taken through a
replication slot of its own, so the primary keeps the WAL the replica has yet to
receive (a busy shared server recycles it in seconds otherwise); the slot is
dropped at teardown, and a slot a killed run left is dropped by the next run.
The server is a registered child (`tests.support.children`): stopped at
teardown, and killed with its process group however the run ends; the directory
is removed at teardown and at exit.

Whether the replica can be made: `replication_unavailable` gives the reason it
cannot (no binaries, no user to run as, a server without `wal_level=replica`,
WAL senders or a `replication` line in pg_hba.conf). Tests then skip with that
reason, even with CASES_REQUIRE_POSTGRES=1 (the server offering replication is
the machine's set-up, ADR 0064); once it is offered, a replica that will not
start fails the test.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import psycopg

from cases.clock import wait_until
from tests.support import children
from tests.support.postgres import ADMIN_URL
from tests.support.server import free_port

BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin")
SLOT_PREFIX = "cases_test_replica_"
START_DEADLINE = 120.0  # seconds for the replica to accept connections: a correctness bound
PORT_ATTEMPTS = 3  # ports tried, each picked free, before the replica's start fails
PORT_TAKEN = ("could not bind", "could not create any TCP/IP sockets")  # in its log
# Settings a hot standby must hold at least as high as its primary's.
MATCHED = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


def _binary(name: str) -> str | None:
    for folder in BIN_DIRS:
        path = Path(folder) / name
        if path.exists():
            return str(path)
    return shutil.which(name)


def _run_as() -> dict[str, Any]:
    """Popen options running a child as `postgres` when this process is root."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": pwd.getpwnam("postgres").pw_gid}


def replication_unavailable() -> str | None:
    """Why the test server cannot be replicated here, or None."""
    for name in ("pg_basebackup", "postgres"):
        if _binary(name) is None:
            return f"{name} is not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the replica as"
    return _server_refusal()


def _server_refusal() -> str | None:
    """Why the test server refuses replication, or None."""
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            level = admin.execute("SHOW wal_level").fetchone()
            senders = admin.execute("SHOW max_wal_senders").fetchone()
            hba = admin.execute(
                "SELECT count(*) FROM pg_hba_file_rules "
                "WHERE 'replication' = ANY(database) AND error IS NULL"
            ).fetchone()
    except psycopg.Error as e:
        return f"PostgreSQL unreachable at {ADMIN_URL}: {str(e).strip().splitlines()[0]}"
    if level is None or level[0] == "minimal":
        return "the test PostgreSQL has wal_level=minimal (a replica needs 'replica')"
    if senders is None or int(senders[0]) == 0:
        return "the test PostgreSQL has max_wal_senders=0"
    if hba is None or int(hba[0]) == 0:
        return (
            "the test PostgreSQL's pg_hba.conf allows no replication connections "
            "(add 'host replication all 127.0.0.1/32 trust' and reload)"
        )
    return None


@dataclass(frozen=True)
class ReplicaServer:
    """A running hot standby of the test server."""

    port: int
    log: Path

    def log_tail(self) -> str:
        with suppress(OSError):
            return self.log.read_text(errors="replace")[-3000:]
        return "(no log)"

    def url_of(self, primary_url: str, port: int | None = None) -> str:
        """The replica's copy of the database `primary_url` names (through `port`,
        a proxy's, if given)."""
        parts = urlsplit(primary_url)
        return primary_url.replace(
            f"{parts.hostname}:{parts.port}", f"127.0.0.1:{port or self.port}", 1
        )

    def caught_up(self, deadline: float) -> bool:
        """Whether the replica replays, within `deadline` seconds, every commit the
        primary has made so far.

        The target is the primary's insert position, not its write position
        (`pg_current_wal_lsn`): a commit made with `synchronous_commit=off`, as the
        projection runners make theirs (ADR 0028), returns while its record is still
        in the WAL buffers, past the write position, until the WAL writer writes it
        (within a few `wal_writer_delay`s); a replica at the write position may not
        have the rows that commit made yet."""
        with admin_connection() as primary:
            row = primary.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        target = row[0] if row is not None else "0/0"

        def replayed() -> bool:
            with self.admin() as admin:
                found = admin.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
                ).fetchone()
            return found is not None and bool(found[0])

        return wait_until(replayed, deadline)

    def admin(self) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    @contextmanager
    def replay_paused(self) -> Iterator[None]:
        """The replica receives WAL but applies none of it until the block ends."""
        with self.admin() as admin:
            admin.execute("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            with self.admin() as admin:
                admin.execute("SELECT pg_wal_replay_resume()")

    def has_database(self, primary_url: str) -> bool:
        try:
            with psycopg.connect(self.url_of(primary_url), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False


def _primary_settings() -> list[str]:
    with admin_connection() as admin:
        lines = []
        for name in MATCHED:
            row = admin.execute(f"SHOW {name}").fetchone()
            if row is not None:
                lines.append(f"{name} = '{row[0]}'")
        return lines


def _slot_name() -> str:
    return f"{SLOT_PREFIX}{os.getpid()}_{uuid4().hex[:8]}"


def create_slot(name: str) -> None:
    """A physical slot holding the primary's WAL from now on (made here, not by
    pg_basebackup -C, whose slot reserves nothing until streaming starts: a
    checkpoint in between, frequent on a shared test server, invalidates it)."""
    with admin_connection() as admin:
        admin.execute("SELECT pg_create_physical_replication_slot(%s, true)", (name,))


def drop_slot(name: str) -> None:
    """Drop the slot (a slot left behind keeps its WAL)."""
    with admin_connection() as admin:
        admin.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = %s",
            (name,),
        )


def admin_connection(attempts: int = 40) -> psycopg.Connection[tuple[Any, ...]]:
    """An admin connection to the test server, trying for a while: a busy shared
    server may be out of connections for a moment."""
    for _ in range(attempts - 1):
        try:
            return psycopg.connect(ADMIN_URL, autocommit=True)
        except psycopg.OperationalError:
            time.sleep(0.5)
    return psycopg.connect(ADMIN_URL, autocommit=True)


def drop_abandoned_slots() -> None:
    """Drop the slots of earlier runs that died before dropping theirs (their
    process is gone): a slot keeps the primary's WAL until it is dropped."""
    with admin_connection() as admin:
        rows = admin.execute(
            "SELECT slot_name FROM pg_replication_slots WHERE NOT active AND slot_name LIKE %s",
            (SLOT_PREFIX.replace("_", r"\_") + "%",),
        ).fetchall()
    for (name,) in rows:
        pid = int(str(name).removeprefix(SLOT_PREFIX).split("_")[0])
        if not _alive(pid):
            drop_slot(str(name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prepare(base: Path, slot: str) -> Path:
    """The primary copied into `base`/data through a new replication slot (so the
    primary keeps the WAL the replica has yet to receive), configured to stand by
    on its own."""
    data = base / "data"
    primary = urlsplit(ADMIN_URL)
    copied = subprocess.run(  # noqa: S603 - our own command
        [
            str(_binary("pg_basebackup")),
            *("-h", primary.hostname or "127.0.0.1", "-p", str(primary.port or 5432)),
            *("-U", primary.username or "postgres", "-D", str(data)),
            *("-R", "-X", "stream", "-c", "fast", "-S", slot),
        ],
        check=False,
        capture_output=True,
        timeout=600,
        **_run_as(),
    )
    if copied.returncode != 0:
        raise RuntimeError(f"pg_basebackup failed: {copied.stderr.decode(errors='replace')}")
    # The copy carries no configuration files on a Debian-style server (they live in
    # /etc); the replica gets its own, trusting local connections only.
    (data / "postgresql.conf").write_text("\n".join(_primary_settings()) + "\n")
    (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    (data / "pg_ident.conf").write_text("")
    if os.geteuid() == 0:
        for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
            shutil.chown(data / name, "postgres")
    return data


@contextmanager
def streaming_replica() -> Iterator[ReplicaServer]:
    """A hot standby of the test server on a free port; stopped and removed after."""
    base = Path(tempfile.mkdtemp(prefix="cases-replica-"))
    atexit.register(shutil.rmtree, base, True)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    with ExitStack() as stack:
        try:
            yield from _started(base, stack)
        finally:
            shutil.rmtree(base, ignore_errors=True)


def _started(base: Path, stack: ExitStack) -> Iterator[ReplicaServer]:
    drop_abandoned_slots()
    slot = _slot_name()
    create_slot(slot)
    stack.callback(drop_slot, slot)
    data = _prepare(base, slot)
    yield _on_a_free_port(base, data, stack)


def _on_a_free_port(base: Path, data: Path, stack: ExitStack) -> ReplicaServer:
    """The replica's server started on a free port, once it accepts connections.

    A free port is free when it is picked, not when the server binds it: another
    process (five test runs share the machine) may take it in between; the server
    then exits, and it is started again on another port."""
    for _ in range(PORT_ATTEMPTS):
        server = ReplicaServer(free_port(), base / "replica.log")
        with server.log.open("wb") as log:
            process = children.spawn(
                [
                    str(_binary("postgres")),
                    *("-D", str(data), "-p", str(server.port)),
                    *("-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={base}"),
                    *("-c", "hot_standby=on", "-c", "max_standby_streaming_delay=1s"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                **_run_as(),
            )
        if not wait_until(partial(_up_or_gone, server, process), START_DEADLINE):
            _shut_down(process)
            raise RuntimeError(f"the replica did not start: {server.log_tail()}")
        if process.poll() is None:
            stack.callback(_shut_down, process)
            return server
        children.stop(process)
        if not any(sign in server.log_tail() for sign in PORT_TAKEN):
            raise RuntimeError(f"the replica exited: {server.log_tail()}")
    raise RuntimeError(f"the replica found no free port in {PORT_ATTEMPTS} tries")


def _up_or_gone(server: ReplicaServer, process: subprocess.Popen[Any]) -> bool:
    return _accepts(server) or process.poll() is not None


def _shut_down(process: subprocess.Popen[Any]) -> None:
    """A fast shutdown (SIGINT: sessions cut, no waiting for them), then the group
    stopped and unregistered."""
    with suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGINT)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    children.stop(process)


def _accepts(server: ReplicaServer) -> bool:
    with suppress(psycopg.OperationalError), server.admin():
        return True
    return False
