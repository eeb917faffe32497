"""Keep-alive connections spread evenly over `cases serve`'s workers (ADR 92).

uvicorn's workers share one listening socket, and the worker that wakes first
accepts every connection waiting. Sixteen clients connecting together landed
12/4, 13/3, 11/5 and 10/6 on two workers (`api_load`, 2026-12-06). A client keeps
its connection for every later request, so one worker then served two or three
times the other's requests, with one interpreter, while the other had time to
spare: the busier worker's queue made the tail.

Each worker keeps the count of its open connections in a file of its own in a
directory every worker of the server shares (two numbers, mapped into memory),
beside a heartbeat its event loop writes every quarter second. A worker holding
at least two more connections than the fewest any other live worker holds asks
the client of its next request to reconnect: the response carries
`Connection: close`, and the connection is closed after it, as uvicorn does when
it shuts down. An HTTP client opens a new connection for its next request, and
that goes to whichever worker accepts it, most often the idle one. The counts
settle with no two workers more than one apart. A request is never refused or
cut short; a shed connection costs its client one reconnect.

A worker whose heartbeat is older than a second is left out: a worker stopped,
hung or busy for that long accepts nothing, and shedding toward it would only
make the others' clients reconnect again and again. A worker's own file is
written by its event loop's thread only. The others' are read at each request
(a few microseconds), and the directory is listed again at most once a second:
a new worker counts from then on, and the file of a worker no longer running
(its pid answers no signal) is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import mmap
import os
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cases.observability import metrics
from cases.workers_directory import workers_directory

SHARES_DIRECTORY = "CASES_CONNECTION_SHARES_DIR"
"""The environment variable `cases serve` sets for its workers: where they count."""

HEARTBEAT_INTERVAL = 0.25  # seconds between a worker's heartbeats
STALE_AFTER = 1.0  # seconds without a heartbeat after which a worker is left out
RELIST_INTERVAL = 1.0  # seconds between listings of the other workers' files
_RECORD = struct.Struct("=qd")  # open connections, heartbeat (monotonic seconds)


def running(pid: int) -> bool:
    """Whether a process with this pid is running (it answers signal 0)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # running, as someone else
        pass
    return True


class ConnectionShares:
    """This worker's open connections, counted where the other workers read them."""

    def __init__(
        self,
        directory: Path,
        pid: int,
        *,
        alive: Callable[[int], bool] = running,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.pid = pid
        self.count = 0
        self._alive = alive
        self._now = now
        self._own = directory / str(pid)
        made = directory / f".{pid}.new"  # written whole before the others can see it
        made.write_bytes(_RECORD.pack(0, now()))
        made.replace(self._own)
        self._own_map = _mapped(self._own)
        self._others: dict[int, mmap.mmap] = {}
        self._listed_at = -RELIST_INTERVAL

    def opened(self) -> None:
        self.count += 1
        self._write()

    def closed(self) -> None:
        self.count -= 1
        self._write()

    def beat(self) -> None:
        """Say this worker's event loop is running."""
        self._write()

    def over_share(self) -> bool:
        """Whether this worker holds at least two connections more than another live
        worker holds."""
        now = self._now()
        if now - self._listed_at >= RELIST_INTERVAL:
            self._list_others(now)
        fewest: int | None = None
        for mapped in self._others.values():
            count, heartbeat = _RECORD.unpack_from(mapped)
            if now - heartbeat < STALE_AFTER and (fewest is None or count < fewest):
                fewest = count
        return fewest is not None and self.count >= fewest + 2

    def forget(self) -> None:
        """Remove this worker's file (it stops serving); a worker that still maps it
        leaves it out at once."""
        for mapped in self._others.values():
            mapped.close()
        self._others.clear()
        if not self._own_map.closed:
            _RECORD.pack_into(self._own_map, 0, self.count, -math.inf)
            self._own_map.close()
        self._own.unlink(missing_ok=True)

    def _write(self) -> None:
        _RECORD.pack_into(self._own_map, 0, self.count, self._now())

    def _list_others(self, now: float) -> None:
        self._listed_at = now
        seen: set[int] = set()
        for path in self.directory.iterdir():
            if not path.name.isdigit() or int(path.name) == self.pid:
                continue
            pid = int(path.name)
            if not self._alive(pid):  # ended without removing its file (killed)
                path.unlink(missing_ok=True)
                continue
            seen.add(pid)
            if pid not in self._others:
                with contextlib.suppress(OSError):  # gone meanwhile
                    self._others[pid] = _mapped(path)
        for pid in self._others.keys() - seen:
            self._others.pop(pid).close()


def _mapped(path: Path) -> mmap.mmap:
    with path.open("r+b") as file:
        return mmap.mmap(file.fileno(), _RECORD.size)


_shares: ConnectionShares | None = None  # this worker's, while it serves


@contextlib.asynccontextmanager
async def counting_connections() -> AsyncIterator[ConnectionShares | None]:
    """For a worker's lifespan: its shares, with its heartbeat on the running event
    loop, for as long as it serves; nothing outside `cases serve` with several
    workers."""
    global _shares  # noqa: PLW0603 - one count per worker process
    directory = os.environ.get(SHARES_DIRECTORY)
    if not directory:
        yield None
        return
    shares = _shares = ConnectionShares(Path(directory), os.getpid())
    loop = asyncio.get_running_loop()
    timer: asyncio.TimerHandle | None = None

    def beat() -> None:
        nonlocal timer
        shares.beat()
        timer = loop.call_later(HEARTBEAT_INTERVAL, beat)

    beat()
    try:
        yield shares
    finally:
        if timer is not None:
            timer.cancel()
        _shares = None
        shares.forget()


class BalancedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, counting this worker's connections and shedding one
    at the end of a request while the worker holds more than its share."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._shares = _shares  # the one that counted it counts it out
        if self._shares is not None:
            self._shares.opened()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._shares is not None and self._shares is _shares:
            self._shares.closed()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.keep_alive or self.pipeline:
            return  # closing anyway, or requests queued behind this one on the connection
        if _shares is not None and _shares.over_share():
            cycle.keep_alive = False
            metrics.connection_shed()


@contextlib.contextmanager
def shares_directory(workers: int) -> Iterator[type[asyncio.Protocol] | str]:
    """For `cases serve`: uvicorn's `http` option, with the directory the workers
    count in for as long as they run; uvicorn's own choice ("auto") for one worker."""
    if workers <= 1:
        yield "auto"
        return
    with workers_directory(SHARES_DIRECTORY, "cases-connections-"):
        yield BalancedHttpToolsProtocol
