"""A scripted two months of billing: reminders, suspension, settlement.

Day 0 is the clock's start. A nightly collection run evaluates every account.
Fabrikam falls behind: reminders, a final warning, suspension of its
Business Premium seats while its prepaid Exchange plan stays on, a partial
payment that moves collection to the next unpaid invoice, then settlement and
reinstatement at once. Contoso pays on time, Northwind disputes an invoice
and asks about it in a billing case, Tailspin overpays and keeps a credit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from cases.application.caller import Caller
from cases.application.collection_run import run_collection
from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain import billing_commands as bcmd
from cases.domain.billing_values import (
    BillingPeriod,
    DisputeOutcome,
    InvoiceLine,
    InvoicePeriod,
)
from cases.domain.collection_policy import CollectionStage, CollectionTerms, StageAction
from cases.domain.errors import NoCollectionPolicyError
from cases.domain.metadata import Actor, Role, Source
from cases.domain.money import Money, UnitPrice

BILLING = Actor("billing-bea", Role.BILLING_ADMIN)
NIGHTLY = Actor("collection-run", Role.SYSTEM)

STANDARD_POLICY = CollectionTerms(
    stages=(
        CollectionStage(-7, StageAction.UPCOMING_PAYMENT_REMINDER),
        CollectionStage(1, StageAction.OVERDUE_REMINDER),
        CollectionStage(7, StageAction.OVERDUE_REMINDER),
        CollectionStage(14, StageAction.FINAL_WARNING),
        CollectionStage(30, StageAction.SUSPEND_ACCESS),
    ),
    spare_paid_in_advance=True,
)


@dataclass
class BillingResult:
    accounts: dict[str, UUID] = field(default_factory=dict)
    nightly_actions: list[str] = field(default_factory=list)


class BillingScenario:
    """Drives the billing office through two months, night by night."""

    def __init__(self, services: Services, clock: ManualClock, suffix: str = "") -> None:
        self.services = services
        self.billing = services.billing
        self.clock = clock
        self.suffix = suffix
        self.day0 = clock.now().date()
        self.result = BillingResult()

    def caller(self) -> Caller:
        return Caller.new(BILLING, Source.CLI)

    def day(self, n: int) -> date:
        return self.day0 + timedelta(days=n)

    def run(self, days: int = 60) -> BillingResult:
        self.ensure_policy()
        schedule = {
            0: self.open_accounts,
            1: self.issue_first_invoices,
            11: self.issue_second_invoices,
            14: self.northwind_disputes,
            24: self.contoso_pays,
            36: self.northwind_dispute_rejected,
            46: self.fabrikam_pays_the_oldest_invoice,
            56: self.fabrikam_settles,
        }
        for n in range(days):
            if n:  # the night's run at 06:00, the office's work from 09:00
                night = datetime.combine(self.day(n), time(6), tzinfo=self.clock.now().tzinfo)
                self.clock.set(night)
                self.nightly_collection(n)
                self.clock.advance(timedelta(hours=3))
            if n in schedule:
                schedule[n]()
        return self.result

    def ensure_policy(self) -> None:
        try:
            self.billing.policy_in_force(self.clock.now())
        except NoCollectionPolicyError:
            self.billing.publish_collection_policy(self.caller(), STANDARD_POLICY)

    def nightly_collection(self, n: int) -> None:
        caller = Caller.new(NIGHTLY, Source.SCHEDULER)
        summary = run_collection(self.billing, caller, self.clock.now())
        for evaluation in summary.acted_on:
            if evaluation.customer_id.startswith(("fabrikam", "northwind")):
                what = [k.value.replace("_", " ") for k in evaluation.reminders]
                what += [f"suspended {s}" for s in evaluation.suspended]
                what += [f"reinstated {s}" for s in evaluation.reinstated]
                if what:
                    self.result.nightly_actions.append(
                        f"day {n:>2}: {evaluation.customer_id}: {', '.join(what)}"
                    )

    def open_accounts(self) -> None:
        for customer, currency, net_days in (
            ("contoso", "EUR", 30),
            ("fabrikam", "SEK", 14),
            ("northwind", "EUR", 30),
            ("tailspin", "SEK", 30),
        ):
            receipt = self.billing.open_account(
                self.caller(),
                bcmd.OpenAccount(
                    customer_id=f"{customer}{self.suffix}",
                    currency=currency,
                    net_days=net_days,
                    billing_period=BillingPeriod.MONTHLY,
                    time_zone="Europe/Stockholm",
                ),
            )
            self.result.accounts[customer] = receipt.aggregate_id
        fabrikam = self.result.accounts["fabrikam"]
        self.billing.handle(
            self.caller(),
            fabrikam,
            bcmd.AddSubscription(
                subscription_id="sub-bp-40", product="Microsoft 365 Business Premium", quantity=40
            ),
        )
        self.billing.handle(
            self.caller(),
            fabrikam,
            bcmd.AddSubscription(
                subscription_id="sub-exo-10",
                product="Exchange Online (Plan 1)",
                quantity=10,
                paid_through=self.day(365),
            ),
        )
        self.billing.handle(
            self.caller(),
            self.result.accounts["contoso"],
            bcmd.AddSubscription(
                subscription_id="sub-e3-25", product="Microsoft 365 E3", quantity=25
            ),
        )

    def invoice(self, customer: str, number: str, amount: str, currency: str, month: int) -> None:
        start = self.day(30 * (month - 1))
        self.billing.handle(
            self.caller(),
            self.result.accounts[customer],
            bcmd.IssueInvoice(
                number=f"{number}{self.suffix}",
                period=InvoicePeriod(start, start + timedelta(days=29)),
                lines=(
                    InvoiceLine(
                        f"Cloud services, month {month}", Decimal(1), UnitPrice.of(amount, currency)
                    ),
                ),
                issued_on=self.clock.now().date(),
            ),
        )

    def issue_first_invoices(self) -> None:
        self.invoice("contoso", "C-1001", "3125.00", "EUR", 1)
        self.invoice("fabrikam", "F-2001", "18400.00", "SEK", 1)
        self.invoice("northwind", "N-3001", "940.50", "EUR", 1)
        self.invoice("tailspin", "T-4001", "5000.00", "SEK", 1)
        self.pay("tailspin", "BG-77120", "6000.00", "SEK")  # overpaid: 1 000 SEK credit

    def issue_second_invoices(self) -> None:
        self.invoice("fabrikam", "F-2002", "18400.00", "SEK", 2)
        self.invoice("tailspin", "T-4002", "5000.00", "SEK", 2)  # the credit applies

    def pay(self, customer: str, reference: str, amount: str, currency: str) -> None:
        self.billing.handle(
            self.caller(),
            self.result.accounts[customer],
            bcmd.ReceivePayment(
                reference=f"{reference}{self.suffix}",
                amount=Money.of(amount, currency),
                received_on=self.clock.now().date(),
            ),
        )

    def northwind_disputes(self) -> None:
        self.billing.handle(
            self.caller(),
            self.result.accounts["northwind"],
            bcmd.OpenDispute(
                f"N-3001{self.suffix}", "Customer says the Azure plan line double-counts October."
            ),
        )

    def contoso_pays(self) -> None:
        self.pay("contoso", "SEPA-5521", "3125.00", "EUR")

    def northwind_dispute_rejected(self) -> None:
        self.billing.handle(
            self.caller(),
            self.result.accounts["northwind"],
            bcmd.CloseDispute(
                f"N-3001{self.suffix}",
                outcome=DisputeOutcome.REJECTED,
                note="Usage export confirms each line once.",
            ),
        )

    def fabrikam_pays_the_oldest_invoice(self) -> None:
        self.pay("fabrikam", "BG-88001", "18400.00", "SEK")

    def fabrikam_settles(self) -> None:
        self.pay("fabrikam", "BG-88002", "18400.00", "SEK")

    def link_billing_case(self, account_id: UUID, case_id: UUID) -> None:
        self.billing.link_billing_case(self.caller(), case_id, account_id)
