"""Projection runners on threads of the calling process.

The main job on the embedded SQLite store runs its projections this way, so a
new user needs no second command; the API waits on it for read-your-writes.
Each runner has its own connection to the projection database (and takes the
projection's leadership, so a separate `cases projections run` is harmless).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType
from typing import Protocol, Self

import structlog

from cases.application.contact_book import ContactBook
from cases.clock import Clock, wait_until
from cases.db.database import CONNECTION_ERRORS, ProjectionDatabase, open_runner_db
from cases.db.schema import check_schema_current
from cases.followers.advisory_loop import ADVISORY_SYNC, AdvisorySyncLoop, advisory_loop
from cases.followers.catalog import PROJECTIONS, projection_named
from cases.followers.log_head import LogHead
from cases.followers.outbox import OUTBOX, delivery_workers, outbox_runners
from cases.followers.runner import (
    Follower,
    ProjectionRunner,
    RunnerLoop,
    refuse_smaller_catch_up,
)
from cases.followers.sealer import Sealer
from cases.followers.tree_builder import TREE, TreeBuilder, tree_builders
from cases.outbox.worker import DeliveryWorker, run_deliveries
from cases.persistence.database_url import StoreKind, parse_database_url
from cases.persistence.event_log import EventLog
from cases.persistence.store import open_event_log
from cases.projections.layout import PARTITIONABLE, layout, least_positions
from cases.settings import Settings

logger = structlog.get_logger("cases.projections")

OpenDatabase = Callable[[], ProjectionDatabase]


class Loop(Protocol):
    """What runs on a thread here until stopped."""

    def run(self) -> None: ...

    def stop(self) -> None: ...


class InProcessProjections:
    """A `RunnerLoop` thread per projection, and a way to wait for them."""

    def __init__(
        self,
        log: EventLog,
        open_db: OpenDatabase,
        names: Sequence[str] | None = None,
        *,
        batch_size: int = 1000,
        catch_up_batch_size: int | None = None,
        poll_interval: float = 0.1,
        max_backoff: float = 5.0,
        clock: Clock | None = None,
        tree: Callable[[], TreeBuilder] | None = None,
        vendor: AdvisorySyncLoop | None = None,
        outbox: Callable[[], Follower] | None = None,
        deliveries: Callable[[], DeliveryWorker] | None = None,
    ) -> None:
        self.log = log
        self.open_db = open_db
        self.names = tuple(names) if names else tuple(sorted(PROJECTIONS))
        for name in self.names:
            projection_named(name)  # an unknown name fails here, not in a thread
        self.batch_size = batch_size
        # Far behind, on PostgreSQL, only if asked (ADR 89): followers sharing one
        # interpreter caught up no sooner in larger batches, and held twice the memory.
        self.catch_up_batch_size = catch_up_batch_size
        if catch_up_batch_size is not None:
            refuse_smaller_catch_up(batch_size, catch_up_batch_size)  # here, not in a thread
        self.clock = clock
        # one watch of the log's head for every follower here (ADR 12 amended)
        self.head = LogHead(log.head, poll_interval)
        following = partial(
            RunnerLoop, poll_interval=poll_interval, max_backoff=max_backoff, head=self.head
        )
        self.loops: dict[str, Loop] = {
            name: following(partial(self._make_runner, name)) for name in self.names
        }
        if tree is not None:  # the audit log's tree builder, beside the projections
            self.loops[TREE] = following(tree)
        if vendor is not None:  # the scheduled advisory sync, beside them
            self.loops[ADVISORY_SYNC] = vendor
        if outbox is not None:  # the outbox's follower, which queues messages (ADR 50)
            self.loops[OUTBOX] = following(outbox)
        self.deliveries = deliveries
        self._delivering = threading.Event()
        self.failures: dict[str, Exception] = {}
        self._threads: list[threading.Thread] = []
        self._owned_log = False
        self._reader: ProjectionDatabase | None = None
        self._reader_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        log: EventLog | None = None,
        names: Sequence[str] | None = None,
        check_schema: bool = True,
        batch_size: int = 1000,
        poll_interval: float = 0.1,
        audit_log: bool = False,
        vendor: bool = False,
        outbox: bool = False,
        contacts: ContactBook | None = None,
    ) -> InProcessProjections:
        """Runners on the configured store; refuses an old schema (SchemaBehindError).
        With `audit_log`, the audit log's tree builder runs beside them (ADR 43); on
        the embedded store its signing key is generated on first use. With `vendor`,
        the scheduled advisory sync too, if the settings ask for it. With `outbox`,
        the outbox's follower and (if a transport is configured) its delivery
        worker run beside them (ADR 50)."""
        url = parse_database_url(settings.effective_database_url)
        if check_schema:
            check_schema_current(url)
        owned = log is None
        log = log or open_event_log(settings)
        open_db = partial(open_runner_db, settings)
        tree = (
            tree_builders(
                settings,
                log,
                open_db,
                create_key=url.kind is StoreKind.SQLITE,
                webhook_db=open_db,
            )
            if audit_log
            else None
        )
        projections = cls(
            log,
            open_db,
            names,
            batch_size=batch_size,
            poll_interval=poll_interval,
            tree=tree,
            vendor=advisory_loop(settings, log, open_db) if vendor else None,
            outbox=outbox_runners(settings, log, open_db, contacts=contacts) if outbox else None,
            deliveries=delivery_workers(settings, log, open_db) if outbox else None,
        )
        projections._owned_log = owned
        return projections

    def _make_runner(self, name: str) -> Follower:
        db = self.open_db()
        try:
            if name in PARTITIONABLE and db.is_postgres and layout(db, name) > 1:
                # Its partitions run in processes of their own; here, their sealer.
                return Sealer(self.log, db)
            return ProjectionRunner(
                self.log,
                projection_named(name),
                db,
                batch_size=self.batch_size,
                catch_up_batch_size=self.catch_up_batch_size,
                clock=self.clock,
            )
        except BaseException:
            db.close()
            raise

    # Lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("the projections are already running")
        for name, loop in self.loops.items():
            thread = threading.Thread(
                target=self._run, args=(name, loop), name=f"projection-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        if self.deliveries is not None:
            self._delivering.clear()
            thread = threading.Thread(
                target=self._deliver, args=(self.deliveries,), name="outbox-delivery", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _deliver(self, make_worker: Callable[[], DeliveryWorker]) -> None:
        try:
            run_deliveries(make_worker, self._delivering)
        except Exception as e:  # as a runner's thread: kept for the caller
            logger.exception("outbox_delivery_failed")
            self.failures["outbox_delivery"] = e

    def _run(self, name: str, loop: RunnerLoop) -> None:
        try:
            loop.run()
        except Exception as e:  # a thread has no caller to raise to: keep it for them
            logger.exception("projection_failed", projection=name)
            self.failures[name] = e

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every runner (each finishes its batch) and wait for the threads."""
        for loop in self.loops.values():
            loop.stop()
        self._delivering.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        self._threads = []
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        if self._owned_log:
            self.log.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # Waiting --------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        """Each projection's committed position (0 if it never ran)."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = self.open_db()
            try:
                known = least_positions(self._reader, self.names)  # partitions: their least
            except CONNECTION_ERRORS:
                self._reader.close()
                self._reader = None
                raise
        return {name: known.get(name, 0) for name in self.names}

    def wait_for(self, position: int, timeout: float, poll: float = 0.02) -> bool:
        """Wait, at most `timeout` seconds, until every projection has applied the
        log up to `position` (a command's receipt position: read-your-writes)."""

        def applied() -> bool:
            try:
                return min(self.positions().values(), default=position) >= position
            except CONNECTION_ERRORS:
                logger.warning("projection_position_unreadable")
                return False

        return wait_until(applied, timeout, poll)
