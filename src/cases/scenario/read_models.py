"""Keep the read models up to date while the demo runs, and show what they hold."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cases.audit_log.keys import KeyFileError
from cases.bootstrap import Services
from cases.clock import wait_until
from cases.db.database import open_projection_db
from cases.db.schema import migrate
from cases.followers.in_process import InProcessProjections
from cases.followers.outbox import OUTBOX
from cases.followers.tracking import Tracking
from cases.followers.tree_builder import checkpoint_now
from cases.outbox.store import OutboxStore
from cases.persistence.database_url import StoreKind, parse_database_url
from cases.projections.case_queue import CaseFilter, CaseQueueView
from cases.projections.escalation_register import EscalationRegisterView
from cases.settings import Settings


@contextmanager
def projections_in_process(
    settings: Settings, services: Services
) -> Iterator[InProcessProjections]:
    """Run every projection, and the audit log's tree builder, in threads of this
    process.

    The embedded SQLite store is the user's own file: its schema is brought up
    to date here. PostgreSQL is shared, so it must be migrated with `cases
    migrate` first (an old schema is refused with that advice).
    """
    url = parse_database_url(settings.effective_database_url)
    if url.kind is StoreKind.SQLITE:
        migrate(url)
    with InProcessProjections.from_settings(
        settings, log=services.log, audit_log=True, outbox=True
    ) as runners:
        yield runners


def audit_checkpoint(settings: Settings, services: Services) -> str:
    """A checkpoint of the whole log now (the audit log's key made on first use on
    the embedded store), said in one line; on a store without a key, why not."""
    db = open_projection_db(settings)
    try:
        checkpoint = checkpoint_now(settings, services.log, db)
    except KeyFileError as e:
        return f"Audit log: no checkpoint signed: {e}."
    finally:
        db.close()
    return (
        f"Audit log: checkpoint of {checkpoint.size} events signed "
        "(check it with `cases audit verify`)."
    )


def outbox_lines(settings: Settings, services: Services, timeout: float = 10.0) -> list[str]:
    """What the outbox holds once its follower has read the whole log (ADR 50):
    delivered if a mail server is configured (CASES_SMTP_HOST), else waiting."""
    db = open_projection_db(settings)
    try:
        head = services.log.head()
        wait_until(lambda: Tracking(db).position(OUTBOX) >= head, timeout)
        outbox = OutboxStore(db)
        counts = outbox.counts()
        latest = outbox.listed(limit=5)
    finally:
        db.close()
    states = ", ".join(f"{count} {status.value}" for status, count in counts.items() if count)
    where = "sent to " + str(settings.smtp_host) if settings.smtp_host else "no mail server set"
    lines = [f"Outbox ({where}): {states or 'empty'}; the latest:"]
    lines += [f"  {m.status.value:<9} {m.recipient:<26} {m.subject}" for m in latest]
    return lines


def read_model_lines(settings: Settings) -> list[str]:
    """A glance at the case queue and the escalation register."""
    db = open_projection_db(settings)
    try:
        queue = CaseQueueView(db).page(CaseFilter(), sort="last_update", limit=8)
        counts = EscalationRegisterView(db).counts_by_vehicle_and_category()
    finally:
        db.close()
    lines = ["Case queue (read model), latest updates first:"]
    lines += [
        f"  {row['customer_id']:<14} {row['status']:<12} {row['severity']:<9} "
        f"{str(row['title'])[:44]:<44} v{row['version']}"
        for row in queue
    ]
    lines.append("Escalation register (read model), by vehicle and category:")
    lines += [
        f"  {count:>3} x {(vehicle or 'indirect provider').replace('_', ' ')}: "
        f"{category.replace('_', ' ')}"
        for (vehicle, category), count in sorted(counts.items(), key=str)
    ]
    return lines
