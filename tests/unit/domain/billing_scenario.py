"""Given / when / then for billing accounts and the collection policy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from cases.domain import billing_commands as bcmd
from cases.domain.audited import AuditedAggregate
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import BillingPeriod, InvoiceLine, InvoicePeriod
from cases.domain.collection_policy import (
    CollectionStage,
    CollectionTerms,
    PublishedPolicy,
    StageAction,
    describe_policy,
)
from cases.domain.errors import DomainError
from cases.domain.metadata import Actor, CommandContext, Role
from cases.domain.money import Money, UnitPrice
from tests.support.builders import ctx as case_ctx

A = TypeVar("A", bound=AuditedAggregate)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
OPENED_ON = T0.date()
DUE = OPENED_ON + timedelta(days=30)  # 2026-04-01: net 30 from the first invoice
BILLING = Actor("billing-bea", Role.BILLING_ADMIN)
SCHEDULER = Actor("collection-run", Role.SYSTEM)
M365 = "Microsoft 365 Business Premium"
DYNAMICS = "Dynamics 365 Sales"


def ctx(at: datetime = T0, actor: Actor = BILLING) -> CommandContext:
    return case_ctx(at, actor=actor)


def on(day: date, hour: int = 9) -> datetime:
    """A moment on `day` (UTC)."""
    return datetime.combine(day, time(hour), tzinfo=UTC)


def after_due(days: int, due: date = DUE) -> datetime:
    """A moment `days` after the due date (negative: before it)."""
    return on(due + timedelta(days=days))


def eur(amount: str | int | Decimal) -> Money:
    return Money.of(amount, "EUR")


def line(amount: str | int, quantity: int = 1, description: str = M365) -> InvoiceLine:
    return InvoiceLine(description, Decimal(quantity), UnitPrice.of(amount, "EUR"))


def march() -> InvoicePeriod:
    return InvoicePeriod(date(2026, 3, 1), date(2026, 3, 31))


def opened(net_days: int = 30, time_zone: str = "UTC", **overrides: Any) -> BillingAccount:
    fields: dict[str, Any] = {
        "customer_id": "contoso",
        "currency": "EUR",
        "net_days": net_days,
        "billing_period": BillingPeriod.MONTHLY,
        "time_zone": time_zone,
    }
    fields.update(overrides)
    return BillingAccount.open(ctx(T0), bcmd.OpenAccount(**fields))


def subscribed(
    *products: str, paid_through: date | None = None
) -> Callable[[BillingAccount], None]:
    def step(account: BillingAccount) -> None:
        for product in products or (M365,):
            account.add_subscription(
                ctx(T0),
                bcmd.AddSubscription(
                    subscription_id=f"sub-{product.split()[0].lower()}",
                    product=product,
                    quantity=10,
                    paid_through=paid_through,
                ),
            )

    return step


def invoiced(
    number: str = "INV-1",
    amount: str | int = 1000,
    issued_on: date = OPENED_ON,
    due_on: date | None = None,
    period: InvoicePeriod | None = None,
) -> Callable[[BillingAccount], None]:
    def step(account: BillingAccount) -> None:
        account.issue_invoice(
            ctx(on(issued_on)),
            bcmd.IssueInvoice(
                number=number,
                period=period or march(),
                lines=(line(amount),),
                issued_on=issued_on,
                due_on=due_on,
            ),
        )

    return step


def paid(
    amount: str | int,
    at: datetime,
    reference: str = "BANK-1",
    invoice_number: str | None = None,
) -> Callable[[BillingAccount], None]:
    def step(account: BillingAccount) -> None:
        account.receive_payment(
            ctx(at),
            bcmd.ReceivePayment(
                reference=reference,
                amount=eur(amount),
                received_on=at.date(),
                invoice_number=invoice_number,
            ),
        )

    return step


def evaluated(
    at: datetime, policy: PublishedPolicy | None = None
) -> Callable[[BillingAccount], None]:
    def step(account: BillingAccount) -> None:
        account.evaluate(ctx(at, SCHEDULER), policy or standard_policy(), at)

    return step


def standard_terms(
    spare_paid_in_advance: bool = True, products: tuple[str, ...] = ()
) -> CollectionTerms:
    return CollectionTerms(
        stages=(
            CollectionStage(-7, StageAction.UPCOMING_PAYMENT_REMINDER),
            CollectionStage(1, StageAction.OVERDUE_REMINDER),
            CollectionStage(7, StageAction.OVERDUE_REMINDER),
            CollectionStage(14, StageAction.FINAL_WARNING),
            CollectionStage(30, StageAction.SUSPEND_ACCESS, products),
        ),
        spare_paid_in_advance=spare_paid_in_advance,
    )


def standard_policy(version: int = 1, **kwargs: Any) -> PublishedPolicy:
    terms = standard_terms(**kwargs)
    return PublishedPolicy(version, T0 - timedelta(days=60), terms, describe_policy(terms))


def given(aggregate: A, *steps: Callable[[A], object]) -> A:
    """Apply earlier commands as history: their events count as already stored."""
    for step in steps:
        step(aggregate)
    aggregate.collect_events()
    return aggregate


def then_events(aggregate: A, when: Callable[[A], object]) -> list[Any]:
    when(aggregate)
    return list(aggregate.collect_events())


def then_refused(
    aggregate: A, when: Callable[[A], object], error: type[DomainError]
) -> DomainError:
    """The command is refused with `error` and records nothing."""
    version = aggregate.version
    with pytest.raises(error) as refused:
        when(aggregate)
    assert aggregate.pending_events == []
    assert aggregate.version == version
    return refused.value


def kinds(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]
