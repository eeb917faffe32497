"""Realistic billing histories, generated: for tests and for benchmarks.

Accounts in three currencies (EUR, SEK and JPY, which has no minor unit) and
four time zones are invoiced monthly for their subscriptions. Each customer
pays the way its kind does: on time, late, in instalments, too much (the rest
becomes account credit, applied to the next invoice), or slowly and sometimes
never (written off three months past due). Some payments are recorded days
after they were received. Invoices are disputed and the disputes closed
(upheld ones followed by a credit note); credit notes also come after payment
(what they release becomes credit). Every night at 02:00 UTC the collection
run evaluates every account under the policy in force, which enters stages,
sends reminders, suspends access (prepaid subscriptions are spared) and
reinstates it when the debt is settled. A second policy version takes effect
half-way. A few accounts have a billing case linked.

Every `BillingAccount` event type occurs. The same seed gives the same
history; `record_days` goes on from where the last call stopped, so a test
can let projections run between stretches.

Two books record it (as `DeskWriter` and `BulkWriter` do a support history):

- `OfficeBooks`: each command through the billing office (and the support desk
  for the linked cases), the collection run as the scheduler runs it; for tests.
- `BulkBooks`: the same domain commands on aggregates kept in memory, events
  handed to a `BulkWriter` (saved in time order, one `log.save` per chunk),
  so a billing history can share a log, and its timeline, with a support
  history; for the million-event benchmarks.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Protocol
from uuid import UUID

from cases.application.caller import Caller
from cases.application.collection_run import run_collection
from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain import billing_commands as bcmd
from cases.domain import case_commands as cmd
from cases.domain.billing_account import DECISIONS, BillingAccount
from cases.domain.billing_values import (
    BillingPeriod,
    DisputeOutcome,
    Invoice,
    InvoiceLine,
    InvoicePeriod,
)
from cases.domain.case_values import CaseCategory
from cases.domain.collection_policy import (
    CollectionPolicy,
    CollectionStage,
    CollectionTerms,
    StageAction,
)
from cases.domain.metadata import Actor, CommandContext, Role, Source
from cases.domain.money import UnitPrice
from cases.domain.support_case import SupportCase
from cases.domain.support_offering import SupportOffering
from tests.support.builders import intake, terms
from tests.support.history import BulkWriter

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday
BILLING = Actor("billing-berit", Role.BILLING_ADMIN)
RUN = Actor("collection-run", Role.SYSTEM)
AGENT = Actor("agent-anna", Role.HELPDESK_AGENT)
SALES = Actor("sales-sam", Role.SALES_AGENT)

CURRENCIES = ("EUR", "SEK", "JPY")
TIME_ZONES = ("UTC", "Europe/Stockholm", "Asia/Tokyo", "America/New_York")
DYNAMICS = "Dynamics 365 Sales"
PRODUCTS: dict[str, dict[str, str]] = {  # unit price per seat and month
    "Microsoft 365 Business Premium": {"EUR": "20.60", "SEK": "229.00", "JPY": "2750"},
    "Microsoft 365 E3": {"EUR": "33.75", "SEK": "379.50", "JPY": "4500"},
    DYNAMICS: {"EUR": "61.90", "SEK": "689.00", "JPY": "8210"},
    "Visio Plan 2": {"EUR": "14.45", "SEK": "159.25", "JPY": "1930"},
}
KINDS = ("prompt", "late", "instalments", "over", "slow")


def first_policy() -> CollectionTerms:
    return CollectionTerms(
        stages=(
            CollectionStage(-7, StageAction.UPCOMING_PAYMENT_REMINDER),
            CollectionStage(1, StageAction.OVERDUE_REMINDER),
            CollectionStage(7, StageAction.OVERDUE_REMINDER),
            CollectionStage(14, StageAction.FINAL_WARNING),
            CollectionStage(30, StageAction.SUSPEND_ACCESS),
        )
    )


def second_policy() -> CollectionTerms:
    return CollectionTerms(
        stages=(
            CollectionStage(-5, StageAction.UPCOMING_PAYMENT_REMINDER),
            CollectionStage(3, StageAction.OVERDUE_REMINDER),
            CollectionStage(10, StageAction.FINAL_WARNING),
            CollectionStage(21, StageAction.SUSPEND_ACCESS, (DYNAMICS,)),
            CollectionStage(45, StageAction.SUSPEND_ACCESS),
        ),
    )


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    account_id: UUID
    currency: str
    time_zone: str
    kind: str
    net_days: int
    billing_day: int  # of the month


Action = Callable[[], None]


class BillingHistory:
    """Accounts' billing lives, day by day, recorded in `books`."""

    def __init__(
        self,
        books: BillingBooks | Services,
        clock: ManualClock,
        *,
        seed: int = 3,
        accounts: int = 24,
        start: datetime = START,
        second_policy_after: timedelta = timedelta(days=80),
    ) -> None:
        self.books = books if not isinstance(books, Services) else OfficeBooks(books, clock)
        self.clock = clock
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data, not crypto
        self.start = start
        self.second_policy_from = start + second_policy_after
        self.today = start.date()
        self.customers = [self._customer(n) for n in range(accounts)]
        self.agenda: dict[date, list[tuple[time, Action]]] = defaultdict(list)
        self.numbers: dict[UUID, int] = defaultdict(int)
        self.began = False
        self.before: Callable[[datetime], object] | None = None
        """Told each moment before the history records at it (a mixed history
        records another history's steps up to it first)."""

    # Running ------------------------------------------------------------------

    def record_days(self, days: int) -> None:
        """Record the next `days` days of billing."""
        if not self.began:
            self._begin()
        for _ in range(days):
            self._day(self.today)
            self.today += timedelta(days=1)

    @property
    def last_day(self) -> date:
        """The last day recorded."""
        return self.today - timedelta(days=1)

    def _begin(self) -> None:
        self.began = True
        self._moment(self.start)
        admin = self._caller(BILLING, Source.CLI)
        self.books.begin(
            admin, ((first_policy(), self.start), (second_policy(), self.second_policy_from))
        )
        for customer in self.customers:
            self._open(customer)

    def _day(self, day: date) -> None:
        self._at(day, time(2))
        self.books.collect(self._caller(RUN, Source.SCHEDULER), self.clock.now())
        for customer in self.customers:
            if day.day == customer.billing_day:
                self._plan(day, time(8, self.rng.randint(0, 59)), partial(self._invoice, customer))
            if self.rng.random() < 0.004:
                self._plan(day, time(10), partial(self._add_subscription, customer))
            if self.rng.random() < 0.004:
                self._plan(day, time(11), partial(self._prepay, customer))
        for moment, action in sorted(self.agenda.pop(day, []), key=lambda a: a[0]):
            self._at(day, moment)
            action()

    def _plan(self, day: date, moment: time, action: Action) -> None:
        self.agenda[day].append((moment, action))

    def _later(self, days: int, action: Action) -> None:
        """Do `action` `days` from today, at some time between 09:00 and 16:59 UTC."""
        when = time(self.rng.randint(9, 16), self.rng.randint(0, 59), self.rng.randint(0, 59))
        self._plan(self.today + timedelta(days=max(1, days)), when, action)

    def _at(self, day: date, moment: time) -> None:
        at = datetime.combine(day, moment, tzinfo=UTC)
        self._moment(max(at, self.clock.now() + timedelta(seconds=1)))

    def _moment(self, at: datetime) -> None:
        if self.before is not None:
            self.before(at)
        self.clock.set(at)

    def _caller(self, actor: Actor = BILLING, source: Source = Source.API) -> Caller:
        return Caller(actor, source, str(UUID(int=self.rng.getrandbits(128), version=4)))

    # Accounts -------------------------------------------------------------------

    def _customer(self, n: int) -> Customer:
        r = self.rng
        customer_id = f"customer-{n:03d}"
        return Customer(
            customer_id=customer_id,
            account_id=BillingAccount.id_for(customer_id),
            currency=CURRENCIES[n % len(CURRENCIES)],
            time_zone=TIME_ZONES[n % len(TIME_ZONES)],
            kind=KINDS[n % len(KINDS)],
            net_days=r.choice((14, 30, 30, 45)),
            billing_day=r.randint(1, 28),
        )

    def _open(self, c: Customer) -> None:
        self.books.open_account(
            self._caller(),
            bcmd.OpenAccount(
                customer_id=c.customer_id,
                currency=c.currency,
                net_days=c.net_days,
                billing_period=BillingPeriod.MONTHLY,
                time_zone=c.time_zone,
            ),
        )
        products = self.rng.sample(sorted(PRODUCTS), self.rng.randint(1, 3))
        if c.kind == "slow" and DYNAMICS not in products:
            products.append(DYNAMICS)
        for n, product in enumerate(products):
            prepaid = self.rng.random() < 0.2
            self.books.handle(
                self._caller(),
                c.account_id,
                bcmd.AddSubscription(
                    subscription_id=f"sub-{n + 1}",
                    product=product,
                    quantity=self.rng.randint(1, 40),
                    paid_through=self.today + timedelta(days=60) if prepaid else None,
                ),
            )
        if self.rng.random() < 0.25:
            self._link_case(c)

    def _link_case(self, c: Customer) -> None:
        case_id = UUID(int=self.rng.getrandbits(128), version=4)
        self.books.link_case(self._caller(AGENT), c.customer_id, c.account_id, case_id)

    def _add_subscription(self, c: Customer) -> None:
        account = self.books.account(c.account_id)
        self.books.handle(
            self._caller(),
            c.account_id,
            bcmd.AddSubscription(
                subscription_id=f"sub-{len(account.subscriptions) + 1}",
                product=self.rng.choice(sorted(PRODUCTS)),
                quantity=self.rng.randint(1, 10),
            ),
        )

    def _prepay(self, c: Customer) -> None:
        account = self.books.account(c.account_id)
        subscription = self.rng.choice(sorted(account.subscriptions.values(), key=str))
        through = max(self.today, subscription.paid_through or self.today)
        self.books.handle(
            self._caller(),
            c.account_id,
            bcmd.RecordPrepayment(
                subscription.subscription_id,
                through + timedelta(days=self.rng.choice((30, 90, 365))),
            ),
        )

    # Invoices -------------------------------------------------------------------

    def _invoice(self, c: Customer) -> None:
        account = self.books.account(c.account_id)
        self.numbers[c.account_id] += 1
        number = f"{c.customer_id.upper()}-{self.numbers[c.account_id]:04d}"
        ends = self.today - timedelta(days=1)
        lines = [
            InvoiceLine(
                f"{s.product}, {s.quantity} seats",
                Decimal(s.quantity),
                UnitPrice.of(PRODUCTS[s.product][c.currency], c.currency),
            )
            for s in sorted(account.subscriptions.values(), key=lambda s: s.subscription_id)
        ]
        if self.rng.random() < 0.4:
            usage = Decimal(self.rng.randint(1_000, 250_000)).scaleb(-2)
            scale = Decimal(150) if c.currency == "JPY" else Decimal(1)
            lines.append(
                InvoiceLine("Azure consumption", Decimal(1), UnitPrice(usage * scale, c.currency))
            )
        self.books.handle(
            self._caller(),
            c.account_id,
            bcmd.IssueInvoice(
                number=number,
                period=InvoicePeriod(ends - timedelta(days=29), ends),
                lines=tuple(lines),
                issued_on=self.today,
            ),
        )
        due = self.today + timedelta(days=c.net_days)
        self._plan_payments(c, number, due)
        if self.rng.random() < 0.12:
            self._later(self.rng.randint(2, 12), lambda: self._dispute(c, number))
        if self.rng.random() < 0.08:
            self._later(self.rng.randint(3, 70), lambda: self._credit(c, number, "price corrected"))
        if self.rng.random() < 0.05:
            self._later(c.net_days + self.rng.randint(2, 20), lambda: self._promise(c))
        if self.rng.random() < 0.03:
            self._later(self.rng.randint(1, 30), lambda: self._suspend_by_hand(c))
        if self.rng.random() < 0.04:
            self._later(self.rng.randint(1, 30), lambda: self._change_seats(c))

    def _promise(self, c: Customer) -> None:
        """The customer promises to pay within a few weeks: collection holds."""
        until = self.today + timedelta(days=self.rng.randint(3, 21))
        self.books.handle(
            self._caller(), c.account_id, bcmd.HoldCollection(until, "Promised to pay")
        )

    def _suspend_by_hand(self, c: Customer) -> None:
        account = self.books.account(c.account_id)
        active = sorted(
            s
            for s, sub in account.subscriptions.items()
            if not sub.is_suspended and not sub.is_cancelled
        )
        if not active:
            return
        chosen = self.rng.choice(active)
        self.books.handle(
            self._caller(), c.account_id, bcmd.SuspendAccess(chosen, "Asked by the customer")
        )
        self._later(self.rng.randint(2, 20), lambda: self._reinstate_by_hand(c, chosen))

    def _change_seats(self, c: Customer) -> None:
        """Sales changes a subscription's seats, or cancels it from a day to come."""
        account = self.books.account(c.account_id)
        live = sorted(
            s
            for s, sub in account.subscriptions.items()
            if not sub.is_suspended and not sub.is_cancelled
        )
        if not live:
            return
        chosen = self.rng.choice(live)
        if self.rng.random() < 0.25:
            today = account.day_of(self.clock.now())  # in the account's time zone
            effective_on = today + timedelta(days=self.rng.randint(0, 30))
            command: bcmd.AccountCommand = bcmd.CancelSubscription(
                chosen, "Customer moves to another plan", effective_on
            )
        else:
            held = account.subscriptions[chosen].quantity
            quantity = self.rng.choice([q for q in range(1, 41) if q != held])
            command = bcmd.ChangeQuantity(chosen, quantity, "Customer asked")
        self.books.handle(self._caller(SALES), c.account_id, command)

    def _reinstate_by_hand(self, c: Customer, subscription_id: str) -> None:
        subscription = self.books.account(c.account_id).subscriptions[subscription_id]
        if subscription.is_suspended and not subscription.is_cancelled:
            self.books.handle(
                self._caller(),
                c.account_id,
                bcmd.ReinstateAccess(subscription_id, "Customer asked to resume"),
            )

    def _plan_payments(self, c: Customer, number: str, due: date) -> None:
        until_due = (due - self.today).days
        r = self.rng
        if c.kind == "prompt":
            self._later(until_due - r.randint(-2, 10), lambda: self._pay(c, number, Decimal(1)))
        elif c.kind == "late":
            self._later(until_due + r.randint(3, 40), lambda: self._pay(c, number, Decimal(1)))
        elif c.kind == "instalments":
            first = until_due + r.randint(-3, 12)
            self._later(first, lambda: self._pay(c, number, Decimal("0.4")))
            self._later(first + r.randint(10, 30), lambda: self._pay(c, number, Decimal(1)))
        elif c.kind == "over":
            extra = Decimal(r.choice(("1.1", "1.25", "1.5")))
            self._later(until_due - r.randint(0, 6), lambda: self._pay(c, number, extra))
        elif r.random() < 0.6:  # slow: pays well past due, or never
            self._later(until_due + r.randint(25, 80), lambda: self._pay(c, number, Decimal(1)))
        else:
            self._later(until_due + 95, lambda: self._write_off(c, number))

    def _open_invoice(self, c: Customer, number: str) -> tuple[BillingAccount, Invoice] | None:
        account = self.books.account(c.account_id)
        invoice = account.invoices[number]
        return (account, invoice) if invoice.is_open else None

    def _pay(self, c: Customer, number: str, share: Decimal) -> None:
        """Pay `share` of what the invoice has outstanding (above 1: too much)."""
        found = self._open_invoice(c, number)
        if found is None:
            return
        _, invoice = found
        amount = invoice.outstanding * share
        if not amount.is_positive:
            return
        self.numbers[c.account_id] += 1
        backdated = self.rng.choice((0, 0, 0, 1, 2, 6))
        self.books.handle(
            self._caller(),
            c.account_id,
            bcmd.ReceivePayment(
                reference=f"PAY-{c.customer_id}-{self.numbers[c.account_id]:04d}",
                amount=amount,
                received_on=self.today - timedelta(days=backdated),
                invoice_number=number if self.rng.random() < 0.5 else None,
            ),
        )

    def _write_off(self, c: Customer, number: str) -> None:
        found = self._open_invoice(c, number)
        if found is None:
            return
        _, invoice = found
        share = Decimal(self.rng.choice(("1", "0.5")))
        self.books.handle(
            self._caller(),
            c.account_id,
            bcmd.WriteOff(
                invoice_number=number,
                amount=invoice.outstanding * share,
                reason="Uncollectable after three months",
            ),
        )

    def _dispute(self, c: Customer, number: str) -> None:
        found = self._open_invoice(c, number)
        if found is None or found[1].disputed:
            return
        self.books.handle(
            self._caller(), c.account_id, bcmd.OpenDispute(number, "Seats billed twice")
        )
        self._later(self.rng.randint(4, 40), lambda: self._close_dispute(c, number))

    def _close_dispute(self, c: Customer, number: str) -> None:
        outcome = self.rng.choice(list(DisputeOutcome))
        self.books.handle(
            self._caller(),
            c.account_id,
            bcmd.CloseDispute(number, outcome=outcome, note="Checked the seat count"),
        )
        if outcome is DisputeOutcome.UPHELD:
            self._credit(c, number, "dispute upheld")

    def _credit(self, c: Customer, number: str, reason: str) -> None:
        creditable = self.books.account(c.account_id).invoices[number].creditable
        amount = creditable * Decimal(self.rng.choice(("0.1", "0.25", "0.5", "1")))
        if not amount.is_positive:
            return
        self.numbers[c.account_id] += 1
        self.books.handle(
            self._caller(),
            c.account_id,
            bcmd.IssueCreditNote(
                number=f"CN-{c.customer_id}-{self.numbers[c.account_id]:04d}",
                invoice_number=number,
                amount=amount,
                reason=reason,
            ),
        )


# Books ------------------------------------------------------------------------

Policies = Iterable[tuple[CollectionTerms, datetime]]
"""Collection policy versions and when each takes effect."""


class BillingBooks(Protocol):
    """Where a billing history records what happens."""

    def begin(self, caller: Caller, policies: Policies) -> None:
        """Publish the collection policies (and the support terms a linked case needs)."""
        ...

    def open_account(self, caller: Caller, command: bcmd.OpenAccount) -> None: ...

    def account(self, account_id: UUID) -> BillingAccount: ...

    def handle(self, caller: Caller, account_id: UUID, command: bcmd.AccountCommand) -> None: ...

    def collect(self, caller: Caller, at: datetime) -> None:
        """The collection run: every account evaluated as of `at`."""
        ...

    def link_case(self, caller: Caller, customer_id: str, account_id: UUID, case_id: UUID) -> None:
        """Take in a billing case for the customer and link it to the account."""
        ...


class OfficeBooks:
    """Records through the billing office and the support desk, one command at a time."""

    def __init__(self, services: Services, clock: ManualClock) -> None:
        self.services = services
        self.office = services.billing
        self.clock = clock

    def begin(self, caller: Caller, policies: Policies) -> None:
        for policy, effective_from in policies:
            self.office.publish_collection_policy(caller, policy, effective_from)
        self.services.desk.publish_terms(caller, terms(), self.clock.now())

    def open_account(self, caller: Caller, command: bcmd.OpenAccount) -> None:
        self.office.open_account(caller, command)

    def account(self, account_id: UUID) -> BillingAccount:
        return self.office.account(account_id)

    def handle(self, caller: Caller, account_id: UUID, command: bcmd.AccountCommand) -> None:
        self.office.handle(caller, account_id, command)

    def collect(self, caller: Caller, at: datetime) -> None:
        run_collection(self.office, caller, at)

    def link_case(self, caller: Caller, customer_id: str, account_id: UUID, case_id: UUID) -> None:
        receipt = self.services.desk.receive_case(
            caller,
            cmd.TakeIn(
                received_at=self.clock.now(),
                case_id=case_id,
                **intake(CaseCategory.BILLING, customer_id=customer_id),
            ),
        )
        self.office.link_billing_case(caller, receipt.aggregate_id, account_id)


class BulkBooks:
    """Runs the billing commands on aggregates kept in memory and hands their
    events to `writer` (which saves them in time order, a chunk at a time).

    With a support history on the same writer, its offering (begun first)
    takes the linked cases; alone, the books establish one of their own."""

    def __init__(self, writer: BulkWriter, clock: ManualClock) -> None:
        self.writer = writer
        self.clock = clock
        self.accounts: dict[UUID, BillingAccount] = {}
        self.policy: CollectionPolicy | None = None

    def begin(self, caller: Caller, policies: Policies) -> None:
        ctx = self._context(caller)
        self.policy = CollectionPolicy.establish(ctx)
        for policy, effective_from in policies:
            self.policy.publish(ctx, policy, effective_from)
        self._saved(self.policy)
        if self.writer.offering is None:
            offering = SupportOffering.establish(ctx)
            offering.publish_terms(ctx, terms(), self.clock.now())
            self.writer.offering = offering
            self._saved(offering)

    def open_account(self, caller: Caller, command: bcmd.OpenAccount) -> None:
        account = BillingAccount.open(self._context(caller), command)
        self.accounts[account.id] = account
        self._saved(account)

    def account(self, account_id: UUID) -> BillingAccount:
        return self.accounts[account_id]

    def handle(self, caller: Caller, account_id: UUID, command: bcmd.AccountCommand) -> None:
        account = self.accounts[account_id]
        DECISIONS[type(command)](account, self._context(caller), command)
        self._saved(account)

    def collect(self, caller: Caller, at: datetime) -> None:
        if self.policy is None:
            raise RuntimeError("the books have not begun")
        ctx = self._context(caller.at(at))
        policy = self.policy.in_force_at(at)
        for account in self.accounts.values():
            account.evaluate(ctx, policy, at)
            self._saved(account)

    def link_case(self, caller: Caller, customer_id: str, account_id: UUID, case_id: UUID) -> None:
        ctx = self._context(caller)
        take_in = cmd.TakeIn(
            received_at=ctx.recorded_at, **intake(CaseCategory.BILLING, customer_id=customer_id)
        )
        if self.writer.offering is None:
            raise RuntimeError("the books have not begun")
        in_force = self.writer.offering.in_force_at(ctx.recorded_at)
        case = SupportCase.receive(ctx, take_in, case_id=case_id, terms=in_force)
        account = self.accounts[account_id]
        case.link_billing_account(ctx, account.id)
        account.link_case(ctx, case.id, case.customer_id)
        self._saved(case, account)

    def _context(self, caller: Caller) -> CommandContext:
        return caller.context(self.clock.now())

    def _saved(self, *aggregates: Any) -> None:
        for aggregate in aggregates:
            self.writer.add(aggregate.collect_events())
