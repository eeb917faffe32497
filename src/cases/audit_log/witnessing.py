"""Hand each new checkpoint to the witnesses configured: the append-only
directory (at once: a fork there stops the tree builder) and the signed
webhook (from a thread of its own: a failing receiver delays only itself)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path

import structlog

from cases.audit_log.tree_store import KeptCheckpoint
from cases.audit_log.webhook_outbox import WebhookOutbox
from cases.db.database import ProjectionDatabase
from cases.settings import Settings
from cases.transparency.webhook import WebhookWitness
from cases.transparency.witness import CheckpointDirectory, note_body

logger = structlog.get_logger("cases.audit_log")

Witness = Callable[[KeptCheckpoint], None]


class WitnessSettingsError(ValueError):
    """The witnesses' settings are incomplete or unreadable; the message names the setting."""


def write_to_witness_dir(directory: Path, checkpoint: KeptCheckpoint) -> None:
    """Keep the checkpoint's note in `directory` (`cases.transparency.witness`): never
    over a file already there; a different checkpoint for a kept size raises
    CheckpointForkError, which stops the tree builder for the operator to look."""
    CheckpointDirectory(directory).keep(checkpoint.note)


def fork_in_witness_dir(directory: Path, checkpoint: KeptCheckpoint) -> str | None:
    """Why the witness directory refuses `checkpoint` (it holds another for its size),
    or None: what stopped a tree builder, for `cases audit status` to report."""
    kept = CheckpointDirectory(directory).at(checkpoint.size)
    if kept is None or note_body(kept) == note_body(checkpoint.note):
        return None
    return (
        f"the witness directory {directory} holds a different checkpoint of size "
        f"{checkpoint.size} than the database: the log was rewritten or forked; "
        "the tree builder stops until an operator looks"
    )


@dataclass(eq=False)
class WebhookDelivery:
    """Delivers the webhook's pending checkpoints from a daemon thread (ADR 0055).

    What is pending is stored (`WebhookOutbox`), so the thread starts by
    resuming what an earlier process left; the tree builder, right after its
    commit, only wakes it. It runs a delivery round, then sleeps until the next
    attempt is due or `poll` seconds pass (checkpoints issued by another
    process, such as `cases audit checkpoint`, are picked up then). A dead or
    slow receiver costs this thread alone. The thread has its own connection,
    from `open_db` (opened again after a round that failed, a database that went
    away for instance), which it closes when stopped."""

    webhook: WebhookWitness
    open_db: Callable[[], ProjectionDatabase]
    _: KW_ONLY
    poll: float = 30.0
    first_delay: float = 1.0
    max_delay: float = 300.0
    _wake: threading.Event = field(init=False, default_factory=threading.Event)
    _idle: threading.Event = field(init=False, default_factory=threading.Event)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _thread: threading.Thread | None = field(init=False, default=None)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __call__(self, checkpoint: KeptCheckpoint) -> None:  # noqa: ARG002 - read from the store
        self._idle.clear()
        self.start()
        self._wake.set()

    def start(self) -> None:
        """Start the delivery thread (once): it resumes what is pending at once."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name="audit-log-webhook", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        outbox: WebhookOutbox | None = None
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    outbox = outbox or WebhookOutbox(
                        self.open_db(),
                        self.webhook,
                        first_delay=self.first_delay,
                        max_delay=self.max_delay,
                    )
                    due = outbox.deliver_due()
                except Exception as e:  # noqa: BLE001 - the database, say: retried next round
                    logger.warning("audit_log_webhook_round_failed", error=type(e).__name__)
                    if outbox is not None:  # a connection the database broke: open another
                        outbox.db.close()
                        outbox = None
                    due = time.time() + self.poll
                if due is None and not self._wake.is_set():  # nothing handed over since
                    self._idle.set()
                wait = self.poll if due is None else min(self.poll, max(0.0, due - time.time()))
                self._wake.wait(wait)
        finally:
            if outbox is not None:
                outbox.db.close()

    def wait(self, timeout: float = 60.0) -> bool:
        """Whether every checkpoint handed over so far was delivered within `timeout`."""
        return self._idle.wait(timeout)

    def stop(self) -> None:
        """Stop the thread after its current round (pending deliveries stay stored)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()


def webhook_secret(settings: Settings) -> bytes:
    """The webhook's signing secret, from its file or the setting."""
    if settings.audit_log_webhook_secret_file is not None:
        path = settings.audit_log_webhook_secret_file
        try:
            secret = path.read_bytes().strip()
        except OSError as e:
            raise WitnessSettingsError(
                f"audit_log_webhook_secret_file {path} cannot be read: {e.strerror}"
            ) from None
    elif settings.audit_log_webhook_secret is not None:
        secret = settings.audit_log_webhook_secret.get_secret_value().strip().encode()
    else:
        secret = b""
    if not secret:
        raise WitnessSettingsError(
            "audit_log_webhook_url is set but its secret is not: set "
            "CASES_AUDIT_LOG_WEBHOOK_SECRET_FILE or CASES_AUDIT_LOG_WEBHOOK_SECRET"
        )
    return secret


def webhook_of(settings: Settings) -> WebhookWitness | None:
    """The configured webhook, one attempt per post (the outbox keeps the backoff)."""
    if settings.audit_log_webhook_url is None:
        return None
    return WebhookWitness(settings.audit_log_webhook_url, webhook_secret(settings), attempts=1)


def witness_of(
    settings: Settings, open_db: Callable[[], ProjectionDatabase] | None = None
) -> Witness | None:
    """Every configured witness of new checkpoints in one call (None if there are none):
    the webhook woken first, then the directory, whose fork error propagates. The
    webhook is delivered from a thread with a connection from `open_db`; without
    it (a one-off command), its pending checkpoints are left to the running builder's
    thread, or the next `cases audit checkpoint`."""
    witnesses: list[Witness] = []
    webhook = webhook_of(settings)
    if webhook is not None and open_db is not None:
        delivery = WebhookDelivery(webhook, open_db)
        delivery.start()  # resumes what an earlier process left pending
        witnesses.append(delivery)
    if settings.audit_log_witness_dir is not None:
        directory = settings.audit_log_witness_dir
        witnesses.append(lambda checkpoint: write_to_witness_dir(directory, checkpoint))
    if not witnesses:
        return None
    if len(witnesses) == 1:
        return witnesses[0]

    def every(checkpoint: KeptCheckpoint) -> None:
        for witness in witnesses:
            witness(checkpoint)

    return every
