"""Worker processes that follow ranges of the log, each on its own connections.

Hashing the leaves and reading the rows hold the GIL for most of a row's time, so
a second thread does not help and a second process does (ADR 0043). Each worker
opens the event log and the tree's database once, with one pooled connection,
and follows the ranges it is given (`ranges.follow_range`).

Workers are forked where the platform can (`START_METHOD`): a fresh interpreter
(`spawn`) imports the domain and the drivers again, about a second of CPU each,
a tenth of a million-event run. The fork happens in the thread that submits,
before any range is read; a worker never touches what it inherited (the
parent's connections and their pools' threads, which do not survive the fork):
it opens its own, and leaves with `os._exit`, so nothing inherited is closed
behind the parent's back.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from cases.audit_log.ranges import RangeResult, RangeTask, follow_range
from cases.audit_log.tree_store import TreeStore
from cases.db.database import ProjectionDatabase, open_projection_db
from cases.persistence.event_log import EventLog
from cases.persistence.store import open_event_log
from cases.settings import Settings


@dataclass(slots=True)
class _Opened:
    log: EventLog
    db: ProjectionDatabase


START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"

_opened: _Opened | None = None  # the worker process's store, opened by `_open`


def _open(settings: Settings) -> None:
    global _opened  # noqa: PLW0603 - one store per worker process, for its whole life
    own = settings.model_copy(update={"postgres_pool_size": 1})
    _opened = _Opened(open_event_log(own), open_projection_db(own))
    multiprocessing.util.Finalize(None, _close, exitpriority=10)


def _close() -> None:
    if _opened is not None:
        _opened.db.close()
        _opened.log.close()


def _follow(task: RangeTask) -> RangeResult:
    if _opened is None:
        raise RuntimeError("a verify worker without its store")
    return follow_range(_opened.log, TreeStore(_opened.db), task)


@contextmanager
def followed(
    settings: Settings, workers: int, tasks: Sequence[RangeTask]
) -> Iterator[Iterator[RangeResult]]:
    """The results of `tasks`, in their order, each followed by one of `workers`
    processes on the store of `settings`. Leaving early cancels the tasks not
    started and waits for those running, so no worker outlives it."""
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(START_METHOD),
        initializer=_open,
        initargs=(settings,),
    )
    futures: list[Future[RangeResult]] = [pool.submit(_follow, task) for task in tasks]
    try:
        yield (future.result() for future in futures)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
