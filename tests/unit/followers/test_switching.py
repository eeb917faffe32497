"""The switch interval while a batch is read ahead (ADR 71 amendment): lowered
while a read-ahead runs, put back when the process's last one ends."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from cases.followers.runner import ReadAhead, ReadBatch
from cases.followers.switching import SWITCH_INTERVAL, prompt_switching

DEFAULT = 0.005  # the interpreter's own


@pytest.fixture(autouse=True)
def default_switching() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(DEFAULT)
    yield
    sys.setswitchinterval(before)


def test_a_read_ahead_runs_with_the_lower_interval_and_puts_the_default_back() -> None:
    seen: list[float] = []

    def read(after: int) -> ReadBatch:
        seen.append(sys.getswitchinterval())
        return ReadBatch(after=after, head=after, events=[], reached=after)

    batch = ReadAhead(read, 7, "test").join()
    assert batch is not None
    assert batch.reached == 7
    assert seen == [SWITCH_INTERVAL]
    assert sys.getswitchinterval() == DEFAULT


def test_a_failed_read_puts_the_default_back_too() -> None:
    def read(after: int) -> ReadBatch:
        raise ConnectionError(after)

    assert ReadAhead(read, 7, "test").join() is None
    assert sys.getswitchinterval() == DEFAULT


def test_the_default_comes_back_only_after_the_last_read_ahead() -> None:
    first_in, release_first = threading.Event(), threading.Event()

    def slow(after: int) -> ReadBatch:
        first_in.set()
        release_first.wait(10)
        return ReadBatch(after=after, head=after, events=[], reached=after)

    def quick(after: int) -> ReadBatch:
        return ReadBatch(after=after, head=after, events=[], reached=after)

    first = ReadAhead(slow, 1, "slow")
    assert first_in.wait(10)
    ReadAhead(quick, 2, "quick").join()
    assert sys.getswitchinterval() == SWITCH_INTERVAL  # the slow one still reads
    release_first.set()
    first.join()
    assert sys.getswitchinterval() == DEFAULT


def test_a_lower_interval_found_stays() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL / 2)
    with prompt_switching():
        assert sys.getswitchinterval() == SWITCH_INTERVAL / 2
    assert sys.getswitchinterval() == SWITCH_INTERVAL / 2
