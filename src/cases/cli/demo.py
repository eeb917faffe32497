"""`cases demo`: the scripted story on the configured store, printed for people."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

import typer

from cases.bootstrap import Services
from cases.cli.history_view import render_case_header, render_history
from cases.cli.services import open_services
from cases.clock import ManualClock, SystemClock
from cases.domain.billing_account import BillingAccount
from cases.domain.support_case import SupportCase
from cases.scenario.demo import run_demo
from cases.scenario.read_models import (
    audit_checkpoint,
    outbox_lines,
    projections_in_process,
    read_model_lines,
)
from cases.settings import get_settings


def demo(
    days: Annotated[int, typer.Option(help="How many days back the simulated story starts.")] = 75,
) -> None:
    """Run the scripted scenario on the configured store and print what it recorded."""
    start = (SystemClock().now() - timedelta(days=days)).replace(
        hour=7, minute=10, second=0, microsecond=0
    )
    clock = ManualClock(start)
    settings = get_settings()
    with open_services(clock) as services, projections_in_process(settings, services) as views:
        print(f"Store: {settings.effective_database_url}")
        story = run_demo(services, clock, settings.vendor_name)
        views.wait_for(services.log.head(), timeout=60)
        checkpoint = audit_checkpoint(settings, services)
        print(f"Recorded {len(story.support.cases)} support cases:")
        for key, case_id in story.support.cases.items():
            case = services.desk.case(case_id)
            print(f"  {key:<20} {case_id}  {case.status.value:<12} v{case.version}")
        print(f"\nRecorded {len(story.billing.accounts)} billing accounts:")
        for key, account_id in story.billing.accounts.items():
            account = services.billing.account(account_id)
            print(f"  {key:<20} {account_id}  balance {account.balance}  v{account.version}")
        print("\nWhat the nightly collection runs did:")
        for line in story.billing.nightly_actions:
            print(f"  {line}")
        print("\nSteps the rules refused (nothing was recorded for them):")
        for refusal in story.support.refusals:
            print(f"  - {refusal}")
        print()
        print_case(services, story.support.cases["fabrikam-teams"])
        print()
        _print_account(services, story.billing.accounts["fabrikam"])
        print()
        print("\n".join(read_model_lines(settings)))
        print("\n".join(outbox_lines(settings, services)))
        print(f"\n{checkpoint}")


def print_case(services: Services, case_id: UUID, case: SupportCase | None = None) -> None:
    case = case or services.desk.case(case_id)
    print("\n".join(render_case_header(case)))
    entries = services.audit.history(SupportCase, case_id)[: case.version]
    print("\n".join(render_history(entries)))


def _print_account(services: Services, account_id: UUID) -> None:
    account = services.billing.account(account_id)
    print(f"Billing account {account_id} of {account.customer_id}, balance {account.balance}")
    print("\n".join(render_history(services.audit.history(BillingAccount, account_id))))
