"""`cases serve --workers 2` spreads keep-alive connections over its workers (ADR 92).

One worker is stopped (SIGSTOP) while sixteen clients connect, so the other accepts
all sixteen: the worst of what uvicorn's shared socket gives when clients connect
together. Meanwhile the running worker sheds nothing: the stopped one's heartbeat is
stale, and it would accept nothing. Then both run, and the clients go on sending
requests on their connections (reconnecting when a response says `Connection:
close`, as HTTP clients do). The connections each worker holds are read from the
kernel (/proc), not from the server's own counts.
"""

from __future__ import annotations

import http.client
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cases.api.connection_shares import STALE_AFTER
from tests.support.postgres import throwaway_database
from tests.support.scrape import value
from tests.support.server import ServerProcess, serving, worker_pids

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

CLIENTS = 16
ROUNDS = 60  # a bound: the connections settle in a few rounds


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with (
        throwaway_database() as url,
        serving(url, tmp_path_factory.mktemp("balance"), workers=2, projections=False) as up,
    ):
        yield up


def workers_of(server: ServerProcess) -> list[int]:
    """The pids of the server's worker processes."""
    assert server.process is not None
    return sorted(worker_pids(server.process.pid))


def established(port: int) -> set[int]:
    """The socket inodes of the connections established to `port` (the server's ends)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
                inodes.add(int(fields[9]))
    return inodes


def held(pid: int, inodes: set[int]) -> int:
    """How many of those sockets the process holds open."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and int(target[8:-1]) in inodes:
            count += 1
    return count


def split(server: ServerProcess, workers: list[int]) -> list[int]:
    inodes = established(server.port)
    return [held(pid, inodes) for pid in workers]


def ask(connection: http.client.HTTPConnection) -> bool:
    """GET /health on the connection (reopened if the last answer closed it); whether
    the server asked to close it after this answer."""
    connection.request("GET", "/health")
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    return response.getheader("connection", "").lower() == "close"


def test_connections_accepted_by_one_worker_spread_over_both(server: ServerProcess) -> None:
    workers = workers_of(server)
    assert len(workers) == 2
    idle, busy = workers
    clients = [
        http.client.HTTPConnection("127.0.0.1", server.port, timeout=10) for _ in range(CLIENTS)
    ]
    os.kill(idle, signal.SIGSTOP)
    try:
        time.sleep(STALE_AFTER * 1.5)  # its heartbeat stale: the other sheds nothing toward it
        for client in clients:
            client.connect()
            assert not ask(client)  # the other worker has none: nothing to give it
    finally:
        os.kill(idle, signal.SIGCONT)
    assert split(server, [idle, busy]) == [0, CLIENTS]
    time.sleep(STALE_AFTER)  # its heartbeat fresh again (a bound: it beats at once)

    shed = []
    for _ in range(ROUNDS):
        closed = sum(ask(client) for client in clients)
        shed.append(closed)
        if closed == 0:
            break
    try:
        counts = split(server, [idle, busy])
        assert sum(counts) == CLIENTS
        assert abs(counts[0] - counts[1]) <= 1, (counts, shed)
        assert sum(shed) >= CLIENTS // 2 - 1  # each move to the idle worker was one shed
        scraped = httpx.get(f"{server.url}/metrics", timeout=10).text
        assert value(scraped, "cases_http_connections_shed_total") == sum(shed)
    finally:
        for client in clients:
            client.close()
