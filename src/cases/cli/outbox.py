"""`cases outbox …`: what the outbox holds, its dead letters, and the delivery worker.

    cases outbox status              # messages by status; the follower's position
    cases outbox list [--dead]       # the latest messages (or the dead-lettered ones)
    cases outbox retry MESSAGE-ID    # put a dead-lettered message back in the queue
    cases outbox sweep               # blank messages past their retention (ADR 68)
    cases outbox run [--once]        # deliver (until Ctrl-C), beside `cases projections run`

Message bodies and recipients are personal data: `list` shows recipients to the
operator who asked, never in the logs.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from cases.cli.groups import command_group
from cases.cli.projections import _stop_signals, projection_store
from cases.clock import SystemClock
from cases.db.database import open_runner_db
from cases.followers.outbox import OUTBOX, delivery_workers
from cases.followers.tracking import Tracking
from cases.outbox.store import OutboxStore
from cases.outbox.worker import Retention, run_deliveries

outbox_app = command_group("The outbox: messages derived from recorded events, and their delivery.")


@outbox_app.command("status")
def status_command() -> None:
    """How many messages are in each state, and how far the outbox follower is."""
    with projection_store() as store:
        counts = OutboxStore(store.db).counts()
        position = Tracking(store.db).position(OUTBOX)
        head = store.log.head()
    for status, count in counts.items():
        print(f"{status.value:<10} {count}")
    print(f"follower   at position {position} of {head} ({max(head - position, 0)} behind)")


@outbox_app.command("list")
def list_command(
    dead: Annotated[bool, typer.Option("--dead", help="Only dead-lettered messages.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
) -> None:
    """The latest messages, newest first."""
    with projection_store() as store:
        messages = OutboxStore(store.db).listed(dead=dead, limit=limit)
    table = Table(title="Dead letters" if dead else "Outbox")
    for column in ("message", "kind", "channel", "recipient", "status", "attempts", "last error"):
        table.add_column(column)
    for m in messages:
        table.add_row(
            str(m.message_id),
            m.kind,
            m.channel.value,
            m.recipient,
            m.status.value,
            str(m.attempts),
            m.last_error or "",
        )
    Console().print(table)


@outbox_app.command("retry")
def retry_command(
    message_id: Annotated[UUID, typer.Argument(help="The dead-lettered message.")],
) -> None:
    """Put a dead-lettered message back in the queue, due now, for a new retry period."""
    with projection_store() as store:
        outbox = OutboxStore(store.db)
        if outbox.get(message_id) is None:
            print(f"error: no message {message_id} in the outbox")
            raise typer.Exit(1)
        if not outbox.retry(message_id, SystemClock().now()):
            print(f"error: message {message_id} is not dead-lettered; only those are retried")
            raise typer.Exit(1)
    print(f"Message {message_id} is queued again.")


@outbox_app.command("sweep")
def sweep_command() -> None:
    """Blank the recipient, subject and body of messages past their retention
    (CASES_OUTBOX_RETENTION_DAYS, CASES_OUTBOX_DEAD_RETENTION_DAYS); the delivery
    events stay in the log. The running worker does this by itself, hourly."""
    with projection_store(quiet=True) as store:
        retention = Retention.from_settings(store.settings)
        swept = OutboxStore(store.db).sweep(
            SystemClock().now(), retention.delivered, retention.dead
        )
    print(f"Swept {swept} messages.")


@outbox_app.command("run")
def run_command(
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due, then exit.")] = False,
) -> None:
    """Deliver the outbox's messages through the configured mail server and webhook."""
    with projection_store(quiet=once) as store:
        make = delivery_workers(store.settings, store.log, partial(open_runner_db, store.settings))
        if make is None:
            print("error: no transport configured: set CASES_SMTP_HOST or CASES_OUTBOX_WEBHOOK_URL")
            raise typer.Exit(2)
        if once:
            worker = make()
            try:
                delivered = worker.drain()
            finally:
                worker.db.close()
            print(f"Delivered {delivered} messages.")
            return
        with _stop_signals() as stopping:
            print("Delivering; Ctrl-C to stop.", flush=True)
            thread = threading.Thread(target=run_deliveries, args=(make, stopping), daemon=True)
            thread.start()
            while thread.is_alive() and not stopping.wait(0.2):
                pass
            stopping.set()
            thread.join(10)
    print("Stopped.")
