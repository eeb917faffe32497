"""Wiring: build the application services for one process from its settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cases.application.audit_trail import AuditTrail
from cases.application.billing_office import BillingOffice
from cases.application.command_runner import CommandRunner
from cases.application.customer_directory import CustomerDirectory
from cases.application.principal_registry import PrincipalRegistry
from cases.application.privacy_office import PrivacyOffice
from cases.application.support_desk import SupportDesk
from cases.application.webhook_secrets import WebhookSecrets
from cases.application.working_copies import WorkingCopies
from cases.clock import Clock, SystemClock
from cases.domain.metadata import BACKDATING_ALLOWANCE
from cases.persistence.event_log import EventLog
from cases.persistence.store import open_event_log
from cases.settings import Settings


@dataclass
class Services:
    """Everything a process needs to run commands and read histories."""

    log: EventLog
    clock: Clock
    runner: CommandRunner
    desk: SupportDesk
    audit: AuditTrail
    billing: BillingOffice
    principals: PrincipalRegistry
    privacy: PrivacyOffice
    customers: CustomerDirectory
    webhook_secrets: WebhookSecrets

    def close(self) -> None:
        self.log.close()


def bootstrap(settings: Settings, clock: Clock | None = None, working_copies: int = 0) -> Services:
    clock = clock or SystemClock()
    log = open_event_log(settings)
    return services_on(
        log,
        clock,
        working_copies,
        settings.backdating_allowance,
        allow_bare_customer_ids=settings.allow_bare_customer_ids,
    )


def services_on(
    log: EventLog,
    clock: Clock,
    working_copies: int = 0,
    backdating_allowance: timedelta = BACKDATING_ALLOWANCE,
    *,
    allow_bare_customer_ids: bool = False,
) -> Services:
    """The services on `log`; with `working_copies`, its command runner keeps that
    many aggregates between commands (a long-running process such as the API).
    Acts may be dated up to `backdating_allowance` back (ADR 32)."""
    copies = WorkingCopies(working_copies) if working_copies > 0 else None
    if copies is not None and log.subject_keys is not None:
        log.subject_keys.erasure_listeners.append(copies.forget_all)
    runner = CommandRunner(log, clock, copies=copies, backdating_allowance=backdating_allowance)
    customers = CustomerDirectory(runner, allow_bare_ids=allow_bare_customer_ids)
    return Services(
        log=log,
        clock=clock,
        runner=runner,
        desk=SupportDesk(runner, customers),
        audit=AuditTrail(runner),
        billing=BillingOffice(runner, customers),
        principals=PrincipalRegistry(runner),
        privacy=PrivacyOffice(runner),
        customers=customers,
        webhook_secrets=WebhookSecrets.of(customers),
    )
