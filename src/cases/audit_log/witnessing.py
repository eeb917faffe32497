"""Hand each new checkpoint to the witnesses configured: the append-only
directory (at once: a fork there stops the tree builder) and the signed
webhook (from a thread of its own: a failing receiver delays only itself)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path

import structlog

from cases.audit_log.tree_store import KeptCheckpoint
from cases.settings import Settings
from cases.transparency.webhook import WebhookDeliveryError, WebhookWitness
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


class WebhookDelivery:
    """Posts each checkpoint to the webhook from a daemon thread, in issue order.

    The caller (the tree builder, right after its commit) only queues the note;
    retries and a dead receiver cost this thread's time alone. A checkpoint not
    delivered after the webhook's attempts is logged (`audit_log_webhook_failed`)
    and the next one is tried: each checkpoint vouches for every event before
    it, so a later delivery covers the missed one."""

    def __init__(self, webhook: WebhookWitness) -> None:
        self.webhook = webhook
        self._notes: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, checkpoint: KeptCheckpoint) -> None:
        self._notes.put((checkpoint.size, checkpoint.note))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._deliver, name="audit-log-webhook", daemon=True
                )
                self._thread.start()

    def _deliver(self) -> None:
        while (item := self._notes.get()) is not None:
            size, note = item
            try:
                attempts = self.webhook.send(note)
            except WebhookDeliveryError as e:
                logger.warning("audit_log_webhook_failed", size=size, error=str(e))
            else:
                logger.info("audit_log_webhook_delivered", size=size, attempts=attempts)
            finally:
                self._notes.task_done()

    def wait(self) -> None:
        """Return once every checkpoint queued so far was delivered or given up on."""
        self._notes.join()


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


def witness_of(settings: Settings) -> Witness | None:
    """Every configured witness of new checkpoints in one call (None if there are none):
    the webhook queued first, then the directory, whose fork error propagates."""
    witnesses: list[Witness] = []
    if settings.audit_log_webhook_url is not None:
        webhook = WebhookWitness(settings.audit_log_webhook_url, webhook_secret(settings))
        witnesses.append(WebhookDelivery(webhook))
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
