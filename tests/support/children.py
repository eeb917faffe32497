"""Child processes of a test run (or a benchmark) that cannot outlive it.

    process = spawn([sys.executable, "-m", "..."], env=env, stdout=log)
    ...
    stop(process)          # SIGTERM its process group, then SIGKILL; unregistered

Every child is started in its own session, so its own process group: a signal to
the group reaches what the child started too (the workers of `cases serve
--workers 2`), and Ctrl-C at the terminal does not race the test's own clean-up.
Being in its own group, though, nothing stops it when the test run dies, so each
live child is registered here and its group killed on every way out:

- normal teardown: `stop` (the helpers' context managers and fixtures call it);
- Ctrl-C: KeyboardInterrupt unwinds those same context managers, and
  `kill_all` runs in the `pytest_unconfigure` hook and at interpreter exit;
- SIGTERM or SIGHUP of pytest (a CI timeout, a closed terminal): Python would die
  at once, running nothing, so `install_signal_handlers` (called by
  tests/conftest.py) kills every live group first, then raises KeyboardInterrupt so
  pytest still tears its fixtures down (throwaway databases dropped) and reports;
- pytest SIGKILLed (or dying of anything else that runs no Python): a watchdog.
  The first spawn starts one small process in a session of its own, whose stdin is
  a pipe from this process; every spawn and stop writes "+PGID"/"-PGID" to it. When
  this process dies, however it dies, the kernel closes the pipe's write end; the
  watchdog reads EOF, SIGKILLs every group still registered and exits.

Why not prctl(PR_SET_PDEATHSIG) in the child: it needs a preexec_fn, which
subprocess documents as unsafe when threads are running (the tests run runners
and proxies in threads); the signal fires when the *thread* that spawned the
child exits, not the process; and it reaches only the direct child, not the
uvicorn workers it starts. The pipe's EOF is delivered by the kernel for any kind
of death, needs nothing from the child, and the watchdog kills the whole group.
(It cannot help if the watchdog itself is SIGKILLed too, as when a whole container
or cgroup is killed, which kills the children with it anyway.)
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from contextlib import suppress
from types import FrameType
from typing import Any

STOP_TIMEOUT = 15.0  # seconds a child gets to exit on SIGTERM before SIGKILL

# The watchdog: stdlib only, run with -I so it depends on nothing of the project.
WATCHDOG = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    line = line.strip()
    if line.startswith("+"):
        groups.add(int(line[1:]))
    elif line.startswith("-"):
        groups.discard(int(line[1:]))
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""


class _Registry:
    """The live children (pid = process group id) and the watchdog that knows them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.live: dict[int, subprocess.Popen[Any]] = {}
        self.watchdog: subprocess.Popen[bytes] | None = None
        self.pipe: int | None = None  # the write end; closed at exit or by dying
        self.interrupted = False

    def add(self, process: subprocess.Popen[Any]) -> None:
        with self.lock:
            self.live[process.pid] = process
            self.tell(f"+{process.pid}\n")

    def remove(self, process: subprocess.Popen[Any]) -> None:
        with self.lock:
            if self.live.pop(process.pid, None) is not None:
                self.tell(f"-{process.pid}\n")

    def tell(self, line: str) -> None:
        """Write a line to the watchdog, starting one first if there is none."""
        with self.lock:
            watching = self.watchdog is not None and self.watchdog.poll() is None
            if self.pipe is None or not watching:
                self.start_watchdog()
            assert self.pipe is not None
            with suppress(OSError):  # a watchdog that died is replaced on the next line
                os.write(self.pipe, line.encode())

    def start_watchdog(self) -> None:
        if self.pipe is not None:
            os.close(self.pipe)
        read_end, self.pipe = os.pipe()  # neither end is inherited by later children
        try:
            self.watchdog = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
                [sys.executable, "-I", "-c", WATCHDOG],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # not killed with the test run's process group
            )
        finally:
            os.close(read_end)
        for pid in self.live:
            with suppress(OSError):
                os.write(self.pipe, f"+{pid}\n".encode())

    def close(self) -> None:
        """Let the watchdog go (EOF) and reap it."""
        with self.lock:
            if self.pipe is not None:
                os.close(self.pipe)
                self.pipe = None
            if self.watchdog is not None:
                with suppress(subprocess.TimeoutExpired):
                    self.watchdog.wait(5)


_registry = _Registry()


def spawn(command: Sequence[str], **options: Any) -> subprocess.Popen[Any]:
    """subprocess.Popen in a new session (its own process group), registered so that
    it is killed if the run ends without stopping it. Options go to Popen."""
    options.setdefault("stdin", subprocess.DEVNULL)
    process: subprocess.Popen[Any] = subprocess.Popen(  # noqa: S603 - callers pass our own commands
        list(command), start_new_session=True, **options
    )
    _registry.add(process)
    return process


def forget(process: subprocess.Popen[Any]) -> None:
    """No longer kill this child's group at exit (it has been stopped and reaped)."""
    _registry.remove(process)


def kill_group(process: subprocess.Popen[Any], sig: int = signal.SIGKILL) -> None:
    """Send `sig` to the child's whole process group (nothing if it has gone)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def stop(process: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM the child's process group, SIGKILL it if the child has not exited in
    `timeout` s, and SIGKILL the group once more for stragglers (workers whose
    parent died first). Its exit status (None if it could not be reaped)."""
    try:
        if process.poll() is None:
            kill_group(process, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                kill_group(process)
        kill_group(process)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    finally:
        if process.returncode is not None:
            forget(process)
    return process.returncode


def kill(process: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGKILL the child's process group at once and reap the child."""
    kill_group(process)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout)
    if process.returncode is not None:
        forget(process)
    return process.returncode


def live() -> list[subprocess.Popen[Any]]:
    """The registered children not yet stopped."""
    with _registry.lock:
        return list(_registry.live.values())


def kill_all(*, reap: bool = True) -> None:
    """SIGKILL the group of every registered child. `reap=False` only signals (what a
    signal handler may do: the interrupted code may hold a child's wait lock)."""
    children = live()
    for process in children:
        kill_group(process)
    if not reap:
        return
    for process in children:
        with suppress(subprocess.TimeoutExpired):
            process.wait(5)
        if process.returncode is not None:
            forget(process)


def _at_exit() -> None:
    kill_all()
    _registry.close()


atexit.register(_at_exit)


def _on_termination(signum: int, _frame: FrameType | None) -> None:
    """Kill every child group now; the first time, also interrupt the run so that
    pytest tears down and reports (a second signal does not cut the clean-up short)."""
    kill_all(reap=False)
    if not _registry.interrupted:
        _registry.interrupted = True
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP: kill the children, then KeyboardInterrupt (main thread only;
    a handler someone else installed is left alone)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _on_termination)
