"""The workers' connection counts and the rule that sheds a connection (ADR 92)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from cases.api import connection_shares
from cases.api.connection_shares import (
    HEARTBEAT_INTERVAL,
    RELIST_INTERVAL,
    SHARES_DIRECTORY,
    STALE_AFTER,
    ConnectionShares,
    counting_connections,
    running,
    shares_directory,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def worker(directory: Path, pid: int, clock: Clock, dead: set[int]) -> ConnectionShares:
    return ConnectionShares(directory, pid, alive=lambda p: p not in dead, now=clock)


def two_workers(
    directory: Path,
) -> tuple[Clock, set[int], ConnectionShares, ConnectionShares]:
    """Workers 101 and 102 on one clock, and the set of pids that have ended."""
    clock, dead = Clock(), set[int]()
    return clock, dead, worker(directory, 101, clock, dead), worker(directory, 102, clock, dead)


def connections(shares: ConnectionShares, n: int) -> None:
    for _ in range(n):
        shares.opened()


class TestOverShare:
    def test_two_more_than_the_fewest_is_over_one_more_is_not(self, tmp_path: Path) -> None:
        _clock, _dead, a, b = two_workers(tmp_path)
        connections(a, 9)
        connections(b, 8)
        assert not a.over_share()
        assert not b.over_share()
        a.opened()  # 10 against 8
        assert a.over_share()
        assert not b.over_share()
        b.opened()  # 10 against 9
        assert not a.over_share()

    def test_closing_counts_down(self, tmp_path: Path) -> None:
        _clock, _dead, a, b = two_workers(tmp_path)
        connections(a, 4)
        assert a.over_share()
        a.closed()
        a.closed()
        a.closed()
        assert (a.count, a.over_share()) == (1, False)
        assert b.count == 0

    def test_the_fewest_of_three_is_the_measure(self, tmp_path: Path) -> None:
        clock, dead = Clock(), set[int]()
        a, b, c = (worker(tmp_path, pid, clock, dead) for pid in (101, 102, 103))
        connections(a, 5)
        connections(b, 5)
        connections(c, 3)
        assert (a.over_share(), b.over_share(), c.over_share()) == (True, True, False)

    def test_a_lone_worker_is_never_over(self, tmp_path: Path) -> None:
        a = worker(tmp_path, 101, Clock(), set())
        connections(a, 50)
        assert not a.over_share()


class TestOtherWorkers:
    def test_a_new_worker_counts_from_the_next_listing(self, tmp_path: Path) -> None:
        clock, dead = Clock(), set[int]()
        a = worker(tmp_path, 101, clock, dead)
        connections(a, 6)
        assert not a.over_share()  # listed: alone
        b = worker(tmp_path, 102, clock, dead)
        clock.now += RELIST_INTERVAL / 2
        assert not a.over_share()  # not listed again yet
        clock.now += RELIST_INTERVAL / 2
        b.beat()
        assert a.over_share()

    def test_a_killed_workers_file_is_left_out_and_removed(self, tmp_path: Path) -> None:
        clock, dead, a, b = two_workers(tmp_path)
        connections(a, 6)
        assert a.over_share()
        dead.add(102)  # killed: its file says 0 for ever
        clock.now += RELIST_INTERVAL
        assert not a.over_share()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["101"]
        assert b.count == 0

    def test_a_stopped_worker_removes_its_file(self, tmp_path: Path) -> None:
        clock, _dead, a, b = two_workers(tmp_path)
        connections(a, 6)
        assert a.over_share()
        b.forget()
        clock.now += RELIST_INTERVAL
        assert not a.over_share()
        assert [p.name for p in tmp_path.iterdir()] == ["101"]

    def test_a_worker_without_a_heartbeat_for_a_second_is_left_out(self, tmp_path: Path) -> None:
        """Stopped or hung: it accepts nothing, so shedding toward it would only
        make the others' clients reconnect again and again."""
        clock, _dead, a, b = two_workers(tmp_path)
        connections(a, 6)
        clock.now += STALE_AFTER - 0.01
        a.beat()
        assert a.over_share()
        clock.now += 0.01  # b's last word is a second old
        assert not a.over_share()
        b.beat()
        assert a.over_share()
        clock.now += STALE_AFTER / 2
        b.closed()  # counting is a sign of life too
        clock.now += STALE_AFTER * 0.9
        assert a.over_share()

    def test_files_that_are_no_workers_are_ignored(self, tmp_path: Path) -> None:
        (tmp_path / "notes.txt").write_text("not a count")
        a = worker(tmp_path, 101, Clock(), set())
        connections(a, 6)
        assert not a.over_share()

    def test_a_worker_reads_the_others_counts_as_they_change(self, tmp_path: Path) -> None:
        _clock, _dead, a, b = two_workers(tmp_path)
        connections(a, 3)
        connections(b, 3)
        assert not a.over_share()
        b.closed()
        b.closed()  # read at once, without a new listing
        assert a.over_share()


def test_running_tells_a_live_process_from_an_ended_one() -> None:
    assert running(os.getpid())
    assert not running(2**22 + 12_345)  # above the kernel's pid limit: never a process


class TestServe:
    def test_one_worker_is_served_as_uvicorn_serves(self) -> None:
        with shares_directory(1) as protocol:
            assert protocol == "auto"
            assert SHARES_DIRECTORY not in os.environ

    def test_several_workers_count_in_a_directory_removed_afterwards(self) -> None:
        with shares_directory(2) as protocol:
            assert protocol is connection_shares.BalancedHttpToolsProtocol
            directory = Path(os.environ[SHARES_DIRECTORY])
            assert directory.is_dir()
        assert SHARES_DIRECTORY not in os.environ
        assert not directory.exists()

    def test_a_worker_counts_and_beats_while_it_serves(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(SHARES_DIRECTORY, str(tmp_path))
        other = ConnectionShares(tmp_path, 1, alive=lambda _: True)
        connections(other, 5)

        async def serve() -> tuple[list[str], bool]:
            async with counting_connections() as shares:
                assert shares is not None
                assert connection_shares._shares is shares
                connections(shares, 3)
                files = sorted(p.name for p in tmp_path.iterdir())
                await asyncio.sleep(STALE_AFTER + HEARTBEAT_INTERVAL)  # nothing counted
                return files, other.over_share()

        files, over = asyncio.run(serve())
        assert files == sorted(["1", str(os.getpid())])
        assert over  # the serving worker's heartbeat kept it in: 5 against its 3
        assert connection_shares._shares is None
        assert [p.name for p in tmp_path.iterdir()] == ["1"]  # its own file removed
        assert not other.over_share()  # and it is left out

    def test_outside_cases_serve_nothing_is_counted(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(SHARES_DIRECTORY, raising=False)

        async def serve() -> object:
            async with counting_connections() as shares:
                return shares

        assert asyncio.run(serve()) is None
        assert connection_shares._shares is None
