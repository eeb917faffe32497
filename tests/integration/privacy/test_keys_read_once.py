"""Threads of one process that miss the same subject's key at once read it once:
the others wait for the first one's read and take the key it holds (a projection
runner's decoding threads, or commands on a case not yet loaded, ADR 0067)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain.erasure import SubjectKind
from cases.persistence.subject_keys import KeyRow, SubjectKeys
from tests.integration.test_support_desk import walk_a_case_through_escalation

THREADS = 4


class CountingLock:
    """The keys' lock for missing keys, counting the threads that came to it."""

    def __init__(self, lock: Any) -> None:
        self.lock = lock
        self.arrived = 0

    def __enter__(self) -> None:
        self.arrived += 1
        self.lock.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.lock.release()


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.mark.parametrize("use", ["reading", "writing"])
def test_threads_missing_one_key_read_it_once(
    sealed: Services,
    other_process: Services,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    use: str,
) -> None:
    case_id = walk_a_case_through_escalation(sealed, clock).case.id
    keys = other_process.log.subject_keys
    assert keys is not None
    lock = CountingLock(keys._missing_lock)
    monkeypatch.setattr(keys, "_missing_lock", lock)
    real_row = keys._row
    reads: list[UUID] = []

    def row_once_all_came(subject: UUID) -> KeyRow | None:
        """The first read waits until every thread has come to the keys (they
        would each read the key themselves if nothing held them back)."""
        reads.append(subject)
        if len(reads) == 1:
            wait_for(lambda: lock.arrived == THREADS)
        return real_row(subject)

    monkeypatch.setattr(keys, "_row", row_once_all_came)

    def get(k: SubjectKeys) -> AESGCM | None:
        if use == "reading":
            return k.for_reading(case_id)
        return k.for_writing(case_id, SubjectKind.CONTACT)

    ciphers: list[AESGCM | None] = []
    threads = [threading.Thread(target=lambda: ciphers.append(get(keys))) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert reads == [case_id]
    assert lock.arrived == THREADS
    assert len(ciphers) == THREADS
    assert all(c is not None and c is ciphers[0] for c in ciphers)
    assert get(keys) is ciphers[0]
    assert reads == [case_id]  # held from then on
