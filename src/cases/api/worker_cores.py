"""Each of `cases serve`'s workers kept on a core of its own (ADR 96).

A worker is one interpreter: its event loop's thread and its pool threads take
turns holding one GIL, so they never run Python at the same time. Each command is
handed from the event loop to a pool thread and back, and the group commit wakes
the threads waiting for their batch (ADR 27). When the waker and the woken thread
sit on different cores, each wake-up crosses cores (an inter-processor interrupt,
costly on a virtual machine) and the woken thread, on its own core, finds the GIL
still held and sleeps again. On one core the same hand-off costs half as much
(`queue.Queue` ping-pong between two threads here: 50 µs a round trip across
cores, 20 µs on one).

So each worker claims a slot when it starts: the first of `slot-0`, `slot-1`, ...
in a directory `cases serve` makes for its workers, that it can lock (`flock`,
held for as long as the worker runs). Slot *i* is the *i*-th core the worker may
run on (`sched_getaffinity`), wrapping round when there are more workers than
cores, and every thread of the worker is kept on it, those started later too. A
worker that dies releases its lock with its last file descriptor; the worker
uvicorn starts in its place takes the freed slot, so its core. Nothing else is
pinned: PostgreSQL, the projection runner and the supervisor run where the kernel
puts them.

Those threads are also scheduled as batch work (`SCHED_BATCH`, ADR 97): a thread
under that policy does not preempt the running one when it wakes, but waits for
the scheduler's tick or for the core to fall idle. The policy is the kernel's
ordinary time-sharing otherwise: the same share of the core, the same nice level.
Measured, a worker's commands then meet more often in one group commit
(PostgreSQL commits a plain command 1.6-1.7 against 1.8-1.9) and plain commands
go 6-10 % faster; keyed ones are no faster. A worker's thread woken by its socket
does not preempt PostgreSQL or the projection runner either: they keep their own
policy.

One worker is left alone: it has no other worker to share the cores with. Where
the platform cannot set affinity, nothing is pinned.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cases.workers_directory import workers_directory

CORES_DIRECTORY = "CASES_WORKER_CORES_DIR"
"""The environment variable `cases serve` sets for its workers: where they claim slots."""

MOST_SLOTS = 1024  # a bound on the slots a worker tries (more workers than any server runs)

_held: list[IO[bytes]] = []  # the claimed slot's file, kept open (and so locked) for life


def can_pin() -> bool:
    """Whether this platform lets a process choose its cores (Linux does)."""
    return hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


@contextlib.contextmanager
def cores_directory(workers: int) -> Iterator[Path | None]:
    """For `cases serve`: the directory its workers claim their slots in, named in
    their environment while they run; none for one worker or where cores cannot be
    chosen."""
    if workers <= 1 or not can_pin():
        yield None
        return
    with workers_directory(CORES_DIRECTORY, "cases-cores-") as made:
        yield made


def pin_this_worker() -> int | None:
    """In a worker of `cases serve`: claim a slot and keep every thread of this
    process on its core; the core, or None when this worker is not to be pinned
    (no directory named, no free slot, or the directory or the kernel refused).
    A worker that cannot be pinned serves all the same."""
    directory = os.environ.get(CORES_DIRECTORY)
    if not directory or not can_pin() or _held:
        return None
    try:
        cores = sorted(os.sched_getaffinity(0))
        for slot in range(MOST_SLOTS):
            if (claimed := _claim(Path(directory) / f"slot-{slot}")) is not None:
                _held.append(claimed)
                core = cores[slot % len(cores)]
                keep_on_core(core)
                return core
    except OSError:
        pass
    return None


def keep_on_core(core: int) -> None:
    """Every thread of this process (and so each it starts from now on) on `core`,
    scheduled as batch work."""
    tasks = Path("/proc/self/task")
    threads = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [0]  # 0: this one
    for thread in threads:
        with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
            os.sched_setaffinity(thread, {core})
        schedule_as_batch(thread)


def schedule_as_batch(thread: int) -> None:
    """`thread` under `SCHED_BATCH` (ADR 97), where the platform has that policy;
    a thread whose policy the kernel will not change (or that ended meanwhile)
    keeps its own."""
    batch: int | None = getattr(os, "SCHED_BATCH", None)
    if batch is not None:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(thread, batch, os.sched_param(0))


def _claim(path: Path) -> IO[bytes] | None:
    """The slot's file, open and locked by this process; None if another holds it."""
    file = path.open("ab")
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        return None
    return file
