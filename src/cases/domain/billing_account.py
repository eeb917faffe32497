"""The billing account: a customer's invoices, payments and access, and collection.

Money moves in three directions: invoices charge the account; payments,
credit notes and write-offs take charges off it. A payment is allocated to the
invoice it names, then to the oldest collectible invoices; what is left is
account credit, applied to later invoices as they are issued. So at every
version:

    balance = charges - payments - credit notes - write-offs
            = outstanding on invoices - account credit

Collection follows the oldest unpaid, undisputed invoice (the *anchor*). Each
invoice remembers the stages entered while it was the anchor, so a payment
that moves the anchor starts the new one from its own first stage (nothing is
skipped) and an anchor that comes back (a dispute closed) repeats nothing.
Every younger invoice is reminded of its own upcoming payment (ADR 47).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from cases.domain import billing_commands as c
from cases.domain import errors
from cases.domain.audited import AuditedAggregate
from cases.domain.billing_values import (
    Allocation,
    BillingPeriod,
    DisputeOutcome,
    Invoice,
    InvoiceDue,
    InvoiceLine,
    InvoicePeriod,
    SeatChange,
    Subscription,
)
from cases.domain.collection_policy import CollectionStage, PublishedPolicy, StageAction
from cases.domain.deliveries import Delivery, DeliveryFact, DeliveryHistory, RecordDelivery
from cases.domain.identity import derived_id
from cases.domain.metadata import CommandContext
from cases.domain.money import Money, UnitPrice, minor_unit_exponent
from cases.domain.text import LINE_LIMIT, aware, known_zone, required_text

MAX_NET_DAYS = 365
CARRY_OVER_DAYS = 366
"""How long before the account was opened an invoice or payment may be dated: a
customer's open items from before the account are carried over (ADR 32)."""


class InvoiceFact:
    """What a fact about one invoice does: applied, it puts back the invoice it
    names as `revised` makes it.

    A mixin, not an event (as `ClockFact`): each fact declares `invoice_number` itself.
    """

    invoice_number: str

    def apply(self, aggregate: Any) -> None:
        account: BillingAccount = aggregate
        account.invoices[self.invoice_number] = self.revised(account.invoices[self.invoice_number])

    def revised(self, invoice: Invoice) -> Invoice:
        raise NotImplementedError


class SubscriptionFact:
    """What a fact about one subscription does: applied, it puts back the
    subscription it names as `revised` makes it (a mixin, as `InvoiceFact`)."""

    subscription_id: str

    def apply(self, aggregate: Any) -> None:
        account: BillingAccount = aggregate
        account.subscriptions[self.subscription_id] = self.revised(
            account.subscriptions[self.subscription_id]
        )

    def revised(self, subscription: Subscription) -> Subscription:
        raise NotImplementedError


class BillingAccount(AuditedAggregate, DeliveryHistory):
    """One customer's billing relationship with the partner, in one currency."""

    # 2: `opened_at` (ADR 32); 3: unit prices as `UnitPrice` (ADR 47). Older
    # snapshots are upcast.
    class_version = 3

    @staticmethod
    def id_for(customer_id: str) -> UUID:
        """Accounts are one per customer: the id follows from the customer's."""
        customer_id = required_text("customer id", customer_id, 100)
        return derived_id("billing-account", customer_id)

    # Events ---------------------------------------------------------------

    class Opened(AuditedAggregate.Created):
        customer_id: str
        currency: str
        net_days: int
        billing_period: BillingPeriod
        time_zone: str

        def apply(self, aggregate: Any) -> None:
            account: BillingAccount = aggregate
            account.opened_at = self.meta.occurred_at

    class SubscriptionAdded(AuditedAggregate.Event):
        subscription_id: str
        product: str
        quantity: int
        paid_through: date | None

        def apply(self, aggregate: Any) -> None:
            account: BillingAccount = aggregate
            subscription = Subscription(
                self.subscription_id, self.product, self.quantity, self.paid_through
            )
            account.subscriptions[self.subscription_id] = subscription

    class PrepaymentRecorded(AuditedAggregate.Event):
        subscription_id: str
        paid_through: date

        def apply(self, aggregate: Any) -> None:
            account: BillingAccount = aggregate
            subscription = account.subscriptions[self.subscription_id]
            account.subscriptions[self.subscription_id] = subscription.prepaid_through(
                self.paid_through
            )

    class InvoiceIssued(AuditedAggregate.Event):
        # 2: unit prices as `UnitPrice`, not `Money` (ADR 47); older events are upcast.
        class_version = 2

        number: str
        period: InvoicePeriod
        lines: tuple[InvoiceLine, ...]
        total: Money
        issued_on: date
        due_on: date

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Lines stored with `Money` unit prices: the same prices, exactly."""
            state["lines"] = tuple(line.priced_exactly() for line in state["lines"])

        def apply(self, aggregate: Any) -> None:
            account: BillingAccount = aggregate
            zero = Money.zero(account.currency)
            account.invoices[self.number] = Invoice(
                number=self.number,
                period=self.period,
                lines=self.lines,
                total=self.total,
                issued_on=self.issued_on,
                due_on=self.due_on,
                settled=zero,
                credited=zero,
                written_off=zero,
            )
            account.charged += self.total

    class PaymentReceived(AuditedAggregate.Event):
        reference: str
        amount: Money
        received_on: date
        allocations: tuple[Allocation, ...]
        unapplied: Money

        def apply(self, aggregate: Any) -> None:
            account: BillingAccount = aggregate
            for allocation in self.allocations:
                invoice = account.invoices[allocation.invoice_number]
                account.invoices[invoice.number] = invoice.with_settled(allocation.amount)
            account.paid += self.amount
            account.credit_balance += self.unapplied
            account.payment_references = (*account.payment_references, self.reference)

    class CreditApplied(InvoiceFact, AuditedAggregate.Event):
        invoice_number: str
        amount: Money

        def revised(self, invoice: Invoice) -> Invoice:
            return invoice.with_settled(self.amount)

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            account: BillingAccount = aggregate
            account.credit_balance -= self.amount

    class CreditNoteIssued(InvoiceFact, AuditedAggregate.Event):
        number: str
        invoice_number: str
        amount: Money
        released: Money  # what the invoice no longer needed of its payments
        reason: str

        def revised(self, invoice: Invoice) -> Invoice:
            return invoice.with_credit(self.amount, self.released)

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            account: BillingAccount = aggregate
            account.credited += self.amount
            account.credit_balance += self.released
            account.credit_note_numbers = (*account.credit_note_numbers, self.number)

    class WrittenOff(InvoiceFact, AuditedAggregate.Event):
        invoice_number: str
        amount: Money
        reason: str

        def revised(self, invoice: Invoice) -> Invoice:
            return invoice.with_write_off(self.amount)

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            account: BillingAccount = aggregate
            account.written_off += self.amount

    class DisputeOpened(InvoiceFact, AuditedAggregate.Event):
        invoice_number: str
        reason: str

        def revised(self, invoice: Invoice) -> Invoice:
            return invoice.with_dispute(True)

    class DisputeClosed(InvoiceFact, AuditedAggregate.Event):
        invoice_number: str
        outcome: DisputeOutcome
        note: str

        def revised(self, invoice: Invoice) -> Invoice:
            return invoice.with_dispute(False)

    class StageEntered(InvoiceFact, AuditedAggregate.Event):
        policy_version: int
        stage: CollectionStage
        invoice_number: str
        due_on: date
        day: date
        days_overdue: int

        def revised(self, invoice: Invoice) -> Invoice:
            return invoice.with_stage(self.stage.days)

    class ReminderSent(AuditedAggregate.Event):
        """A notice sent for `invoice_number` (the period it bills), listing every
        invoice overdue on the day (ADR 47)."""

        # 2: `period` and `overdue_invoices` (ADR 47); older events are upcast.
        class_version = 2

        policy_version: int
        stage_days: int
        kind: StageAction
        invoice_number: str
        due_on: date
        amount_due: Money
        overdue_total: Money
        period: InvoicePeriod | None
        overdue_invoices: tuple[InvoiceDue, ...]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """A reminder recorded before ADR 47 named neither the invoice's period
            nor the overdue invoices: what it did not say stays unsaid."""
            state["period"] = None
            state["overdue_invoices"] = ()

    class AccessSuspended(SubscriptionFact, AuditedAggregate.Event):
        subscription_id: str
        product: str
        policy_version: int
        stage_days: int
        invoice_number: str

        def revised(self, subscription: Subscription) -> Subscription:
            return subscription.suspended(self.stage_days)

    class AccessReinstated(SubscriptionFact, AuditedAggregate.Event):
        subscription_id: str
        product: str
        reason: str

        def revised(self, subscription: Subscription) -> Subscription:
            return subscription.reinstated()

    class AccessSuspendedByHand(SubscriptionFact, AuditedAggregate.Event):
        subscription_id: str
        product: str
        reason: str

        def revised(self, subscription: Subscription) -> Subscription:
            return subscription.suspended(None)

    class CollectionHeld(AuditedAggregate.Event):
        until: date
        reason: str

        def apply(self, aggregate: Any) -> None:
            account: BillingAccount = aggregate
            account.held_until = self.until

    class QuantityChanged(SubscriptionFact, AuditedAggregate.Event):
        """A subscription's seats or licences changed, from `effective_on` (ADR 61)."""

        subscription_id: str
        product: str
        previous: int
        quantity: int
        effective_on: date
        reason: str

        def revised(self, subscription: Subscription) -> Subscription:
            return subscription.with_quantity(
                SeatChange(self.effective_on, self.previous, self.quantity)
            )

    class SubscriptionCancelled(SubscriptionFact, AuditedAggregate.Event):
        """A subscription cancelled: `effective_on` is the first day without it."""

        subscription_id: str
        product: str
        effective_on: date
        reason: str

        def revised(self, subscription: Subscription) -> Subscription:
            return subscription.cancelled(self.effective_on)

    class BillingCaseLinked(AuditedAggregate.Event):
        case_id: UUID

        def apply(self, aggregate: Any) -> None:
            account: BillingAccount = aggregate
            account.linked_cases = (*account.linked_cases, self.case_id)

    class DeliveryRecorded(DeliveryFact, AuditedAggregate.Event):
        """What became of a notice sent to the account's billing contacts (ADR 50)."""

        delivery: Delivery

    # State ----------------------------------------------------------------

    def __init__(
        self,
        customer_id: str,
        currency: str,
        net_days: int,
        billing_period: BillingPeriod,
        time_zone: str,
    ) -> None:
        self.customer_id = customer_id
        self.currency = currency
        self.net_days = net_days
        self.billing_period = billing_period
        self.time_zone = time_zone
        self.subscriptions: dict[str, Subscription] = {}
        self.invoices: dict[str, Invoice] = {}
        self.charged = Money.zero(currency)
        self.paid = Money.zero(currency)
        self.credited = Money.zero(currency)
        self.written_off = Money.zero(currency)
        self.credit_balance = Money.zero(currency)
        self.payment_references: tuple[str, ...] = ()
        self.credit_note_numbers: tuple[str, ...] = ()
        self.linked_cases: tuple[UUID, ...] = ()
        self.opened_at: datetime | None = None  # set by `Opened`
        self.held_until: date | None = None  # a payment promise (ADR 47)

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A snapshot taken before ADR 32: the account was opened no later than it
        was recorded (`_created_on`), the moment its state still shows."""
        state["opened_at"] = state["_created_on"]

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """A snapshot taken before ADR 47: its invoices' unit prices were `Money`,
        and collection was never held."""
        invoices: dict[str, Invoice] = state["invoices"]
        state["invoices"] = {n: i.priced_exactly() for n, i in invoices.items()}
        state["held_until"] = None

    @property
    def opened_on(self) -> date:
        """The day the account was opened, in its billing time zone."""
        return self.day_of(self.opened_at or self.created_on)

    @property
    def balance(self) -> Money:
        """What the customer owes; negative when the account is in credit."""
        return self.charged - self.paid - self.credited - self.written_off

    @property
    def anchor(self) -> Invoice | None:
        """The oldest unpaid, undisputed invoice: the one collection follows."""
        collectible = [i for i in self.invoices.values() if i.is_collectible]
        return min(collectible, key=Invoice.collection_order, default=None)

    def collectible_in_order(self) -> list[Invoice]:
        collectible = [i for i in self.invoices.values() if i.is_collectible]
        return sorted(collectible, key=Invoice.collection_order)

    def overdue_on(self, day: date) -> list[Invoice]:
        """The collectible invoices past their due date on `day`, oldest first."""
        return [i for i in self.collectible_in_order() if i.due_on < day]

    def overdue_total(self, day: date) -> Money:
        """What collectible invoices past their due date still ask for on `day`."""
        return sum((i.outstanding for i in self.overdue_on(day)), Money.zero(self.currency))

    def day_of(self, moment: datetime) -> date:
        """The calendar day `moment` falls on in the account's billing time zone."""
        return moment.astimezone(ZoneInfo(self.time_zone)).date()

    def invoice(self, number: str) -> Invoice:
        try:
            return self.invoices[number]
        except KeyError:
            raise errors.UnknownInvoiceError(
                f"the account has no invoice numbered {number!r}"
            ) from None

    def subscription(self, subscription_id: str) -> Subscription:
        try:
            return self.subscriptions[subscription_id]
        except KeyError:
            raise errors.UnknownSubscriptionError(
                f"the account has no subscription {subscription_id!r}"
            ) from None

    # Commands: the account and its subscriptions -----------------------------

    @classmethod
    def open(cls, ctx: CommandContext, command: c.OpenAccount) -> BillingAccount:
        """Open the customer's account: its currency, net terms and calendar."""
        currency, net_days, time_zone = command.currency, command.net_days, command.time_zone
        minor_unit_exponent(currency)  # refuses what is not ISO 4217
        if not 0 <= net_days <= MAX_NET_DAYS:
            raise errors.InvalidValueError(
                f"payment terms are net 0 to {MAX_NET_DAYS} days, not {net_days}"
            )
        known_zone(time_zone)
        customer_id = required_text("customer id", command.customer_id, 100)
        return cls._start(
            cls.Opened,
            ctx,
            cls.id_for(customer_id),
            customer_id=customer_id,
            currency=currency,
            net_days=net_days,
            billing_period=command.billing_period,
            time_zone=time_zone,
        )

    def add_subscription(self, ctx: CommandContext, command: c.AddSubscription) -> None:
        subscription = Subscription(
            command.subscription_id, command.product, command.quantity, command.paid_through
        )
        if subscription.subscription_id in self.subscriptions:
            raise errors.DuplicateSubscriptionError(
                f"the account already has subscription {subscription.subscription_id!r}"
            )
        self._record(
            self.SubscriptionAdded,
            ctx,
            subscription_id=subscription.subscription_id,
            product=subscription.product,
            quantity=subscription.quantity,
            paid_through=subscription.paid_through,
        )

    def record_prepayment(self, ctx: CommandContext, command: c.RecordPrepayment) -> None:
        """Record that a subscription is paid in advance up to `paid_through`."""
        subscription_id, paid_through = command.subscription_id, command.paid_through
        subscription = self.subscription(subscription_id)
        if subscription.paid_through is not None and paid_through <= subscription.paid_through:
            raise errors.PrepaymentNotLaterError(
                f"{subscription_id} is already paid through {subscription.paid_through}"
            )
        self._record(
            self.PrepaymentRecorded,
            ctx,
            subscription_id=subscription_id,
            paid_through=paid_through,
        )

    def _record_with_reason(
        self,
        event_class: type[AuditedAggregate.Event],
        ctx: CommandContext,
        reason: str,
        **attributes: Any,
    ) -> None:
        """Record an event that states why: the reason is required, one line at most."""
        self._record(
            event_class, ctx, **attributes, reason=required_text("reason", reason, LINE_LIMIT)
        )

    def _record_by_hand(
        self,
        event_class: type[AuditedAggregate.Event],
        ctx: CommandContext,
        subscription: Subscription,
        reason: str,
    ) -> None:
        """Record what was done by hand to a subscription's access, and why."""
        self._record_with_reason(
            event_class,
            ctx,
            reason,
            subscription_id=subscription.subscription_id,
            product=subscription.product,
        )

    def live_subscription(self, subscription_id: str) -> Subscription:
        """The subscription, refused if cancelled (even from a day to come)."""
        subscription = self.subscription(subscription_id)
        if subscription.cancelled_on is not None:
            raise errors.SubscriptionCancelledError(
                f"{subscription_id} is cancelled from {subscription.cancelled_on}"
            )
        return subscription

    def change_quantity(self, ctx: CommandContext, command: c.ChangeQuantity) -> None:
        """Change a subscription's seats or licences, from the day recorded (ADR 61)."""
        subscription = self.live_subscription(command.subscription_id)
        quantity = command.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise errors.InvalidValueError(
                f"a subscription's quantity must be a whole number of at least 1, not {quantity!r}"
            )
        if quantity == subscription.quantity:
            raise errors.SameQuantityError(
                f"{subscription.subscription_id} already has a quantity of {quantity}"
            )
        if subscription.is_suspended:
            raise errors.SubscriptionSuspendedError(
                f"{subscription.subscription_id} is suspended: reinstate it first"
            )
        self._record_with_reason(
            self.QuantityChanged,
            ctx,
            command.reason,
            subscription_id=subscription.subscription_id,
            product=subscription.product,
            previous=subscription.quantity,
            quantity=quantity,
            effective_on=self.day_of(ctx.recorded_at),
        )

    def cancel_subscription(self, ctx: CommandContext, command: c.CancelSubscription) -> None:
        """Cancel a subscription from a day (default today): no period starting
        then or later is invoiced, and access ends that day (ADR 61)."""
        subscription = self.live_subscription(command.subscription_id)
        today = self.day_of(ctx.recorded_at)
        effective_on = command.effective_on or today
        if effective_on < today:
            raise errors.CancellationInPastError(
                f"a cancellation cannot take effect on {effective_on}, before today ({today})"
            )
        self._record_with_reason(
            self.SubscriptionCancelled,
            ctx,
            command.reason,
            subscription_id=subscription.subscription_id,
            product=subscription.product,
            effective_on=effective_on,
        )

    def suspend_access(self, ctx: CommandContext, command: c.SuspendAccess) -> None:
        """Suspend a subscription by hand: no payment lifts it, only a reinstatement."""
        subscription = self.live_subscription(command.subscription_id)
        if subscription.is_suspended:
            raise errors.AccessAlreadySuspendedError(
                f"{subscription.subscription_id} is suspended already"
            )
        self._record_by_hand(self.AccessSuspendedByHand, ctx, subscription, command.reason)

    def reinstate_access(self, ctx: CommandContext, command: c.ReinstateAccess) -> None:
        """Reinstate a suspended subscription by hand. A collection stage that still
        holds suspends it again at the next run, unless collection is held."""
        subscription = self.live_subscription(command.subscription_id)
        if not subscription.is_suspended:
            raise errors.AccessNotSuspendedError(f"{subscription.subscription_id} is not suspended")
        self._record_by_hand(self.AccessReinstated, ctx, subscription, command.reason)

    def hold_collection(self, ctx: CommandContext, command: c.HoldCollection) -> None:
        """Hold collection through a day (the customer promised to pay by then)."""
        today = self.day_of(ctx.recorded_at)
        if command.until < today:
            raise errors.HoldInPastError(
                f"a collection hold cannot end on {command.until}, before today ({today})"
            )
        self._record_with_reason(
            self.CollectionHeld,
            ctx,
            command.reason,
            until=command.until,
        )

    def record_delivery(self, ctx: CommandContext, command: RecordDelivery) -> None:
        """Record a notice's outcome, once per message and outcome."""
        if not self.has_recorded(command.delivery):
            self._record(self.DeliveryRecorded, ctx, delivery=command.delivery)

    def is_held_on(self, day: date) -> bool:
        return self.held_until is not None and day <= self.held_until

    def link_case(self, ctx: CommandContext, case_id: UUID, customer_id: str) -> None:
        """Show on the account that a billing question (a support case) concerns it."""
        if customer_id != self.customer_id:
            raise errors.CustomerMismatchError(
                f"the case is customer {customer_id}'s; the account is {self.customer_id}'s"
            )
        if case_id in self.linked_cases:
            raise errors.CaseAlreadyLinkedToAccountError(
                f"the account already shows case {case_id}"
            )
        self._record(self.BillingCaseLinked, ctx, case_id=case_id)

    # Commands: money -------------------------------------------------------

    def issue_invoice(self, ctx: CommandContext, command: c.IssueInvoice) -> None:
        """Charge the account; due `net_days` after issue unless a due date is given.

        Account credit is applied to the new invoice at once.
        """
        lines, issued_on, due_on = command.lines, command.issued_on, command.due_on
        number = required_text("invoice number", command.number, 50)
        if number in self.invoices:
            raise errors.DuplicateInvoiceNumberError(
                f"invoice number {number} is already used on this account"
            )
        if not lines:
            raise errors.InvalidValueError("an invoice needs at least one line")
        for line in lines:
            self.check_currency(line.unit_price)
        total = sum((line.amount for line in lines), Money.zero(self.currency))
        self.check_positive("an invoice total", total)
        if issued_on > self.day_of(ctx.recorded_at):
            raise errors.InvoiceInFutureError(
                f"invoice {number} cannot be issued on {issued_on}, a day still to come"
            )
        self.check_dated_in_account_history(f"invoice {number}", issued_on)
        if due_on is None:
            due_on = issued_on + timedelta(days=self.net_days)
        if due_on < issued_on:
            raise errors.DueBeforeIssueError(
                f"invoice {number} would fall due on {due_on}, before its issue on {issued_on}"
            )
        self._record(
            self.InvoiceIssued,
            ctx,
            number=number,
            period=command.period,
            lines=lines,
            total=total,
            issued_on=issued_on,
            due_on=due_on,
        )
        self._apply_account_credit(ctx)

    def invoice_subscriptions(self, ctx: CommandContext, command: c.InvoiceSubscriptions) -> None:
        """Invoice a period in advance for the subscriptions priced (ADR 61): each
        line is the quantity in force on the period's first day times its price."""
        named = [price.subscription_id for price in command.prices]
        if len(set(named)) != len(named):
            raise errors.InvalidValueError("each subscription is priced at most once")
        lines = [
            self.subscription(price.subscription_id).line_for(command.period, price.unit_price)
            for price in command.prices
        ]
        billed = tuple(line for line in lines if line is not None)
        if not billed:
            raise errors.NothingToInvoiceError(
                f"no subscription priced is billed for the period from {command.period.starts_on}"
            )
        issue = c.IssueInvoice(
            command.number, command.period, billed, command.issued_on, command.due_on
        )
        self.issue_invoice(ctx, issue)

    def receive_payment(self, ctx: CommandContext, command: c.ReceivePayment) -> None:
        """Take a payment: to the invoice it names, then the oldest; the rest is
        account credit. Access suspended for an overdue balance it settles comes
        back in the same command."""
        amount, received_on = command.amount, command.received_on
        reference = required_text("payment reference", command.reference, 100)
        if reference in self.payment_references:
            raise errors.DuplicatePaymentError(
                f"payment {reference} was already received on this account"
            )
        self.check_currency(amount)
        self.check_positive("a payment", amount)
        if received_on > self.day_of(ctx.recorded_at):
            raise errors.PaymentInFutureError(
                f"a payment cannot be received on {received_on}, a day still to come"
            )
        self.check_dated_in_account_history(f"payment {reference}", received_on)
        named = [] if command.invoice_number is None else [self.invoice(command.invoice_number)]
        order = named + [i for i in self.collectible_in_order() if i not in named]
        allocations, unapplied = _allocate(amount, order)
        self._record(
            self.PaymentReceived,
            ctx,
            reference=reference,
            amount=amount,
            received_on=received_on,
            allocations=allocations,
            unapplied=unapplied,
        )
        self._reinstate_where_settled(ctx, f"payment {reference} received")

    def issue_credit_note(self, ctx: CommandContext, command: c.IssueCreditNote) -> None:
        """Take part or all of an invoice back; what was already paid becomes credit."""
        amount = command.amount
        number = required_text("credit note number", command.number, 50)
        if number in self.credit_note_numbers:
            raise errors.DuplicateCreditNoteError(
                f"credit note number {number} is already used on this account"
            )
        invoice = self.invoice(command.invoice_number)
        self.check_currency(amount)
        self.check_positive("a credit note", amount)
        if invoice.creditable < amount:
            raise errors.CreditExceedsInvoiceError(
                f"invoice {invoice.number} has {invoice.creditable} left to credit, not {amount}"
            )
        released = (
            amount - invoice.outstanding
            if invoice.outstanding < amount
            else Money.zero(self.currency)
        )
        self._record_with_reason(
            self.CreditNoteIssued,
            ctx,
            command.reason,
            number=number,
            invoice_number=invoice.number,
            amount=amount,
            released=released,
        )
        self._apply_account_credit(ctx)
        self._reinstate_where_settled(ctx, f"credit note {number} issued")

    def write_off(self, ctx: CommandContext, command: c.WriteOff) -> None:
        """Give up on collecting part or all of what an invoice has outstanding."""
        amount = command.amount
        invoice = self.invoice(command.invoice_number)
        self.check_currency(amount)
        self.check_positive("a write-off", amount)
        self.check_open(invoice, "written off")
        if invoice.outstanding < amount:
            raise errors.WriteOffExceedsOutstandingError(
                f"invoice {invoice.number} has {invoice.outstanding} outstanding, not {amount}"
            )
        self._record_with_reason(
            self.WrittenOff,
            ctx,
            command.reason,
            invoice_number=invoice.number,
            amount=amount,
        )
        self._reinstate_where_settled(ctx, f"invoice {invoice.number} written off")

    def open_dispute(self, ctx: CommandContext, command: c.OpenDispute) -> None:
        """Take an invoice out of collection while the customer disputes it."""
        invoice = self.invoice(command.invoice_number)
        self.check_open(invoice, "disputed")
        if invoice.disputed:
            raise errors.DisputeAlreadyOpenError(f"invoice {invoice.number} is already disputed")
        self._record_with_reason(
            self.DisputeOpened,
            ctx,
            command.reason,
            invoice_number=invoice.number,
        )
        self._reinstate_where_settled(ctx, f"invoice {invoice.number} disputed")

    def close_dispute(self, ctx: CommandContext, command: c.CloseDispute) -> None:
        """End a dispute; what is still outstanding is collected again."""
        invoice = self.invoice(command.invoice_number)
        if not invoice.disputed:
            raise errors.NoOpenDisputeError(f"invoice {invoice.number} is not disputed")
        self._record(
            self.DisputeClosed,
            ctx,
            invoice_number=invoice.number,
            outcome=command.outcome,
            note=required_text("note", command.note, LINE_LIMIT),
        )
        self._apply_account_credit(ctx)

    # Commands: collection -----------------------------------------------------

    def evaluate(self, ctx: CommandContext, policy: PublishedPolicy, at: datetime) -> None:
        """Bring collection up to date at `at` under `policy`; idempotent.

        Enters, in order, every stage of the anchor's that is due and not yet
        entered, and every upcoming-payment stage due for a younger invoice not
        yet past its due date; sends the latest notice among each invoice's; and
        holds the effect of every suspension stage the anchor entered (new or
        added subscriptions, prepaid periods that ran out).
        """
        aware("at", at)
        if at > ctx.recorded_at:
            raise errors.EvaluationInFutureError(
                f"collection cannot run as of {at.isoformat()}, a moment still to come"
            )
        self._reinstate_where_settled(ctx, "no invoice is overdue past its suspension stage")
        anchor = self.anchor
        day = self.day_of(at)
        if anchor is None or self.is_held_on(day):
            return
        younger = self.collectible_in_order()[1:]
        days_overdue = anchor.days_overdue(day)
        due = policy.terms.due_after(anchor.last_stage, days_overdue)
        self._enter(ctx, policy, anchor, due, day)
        for invoice in younger:
            self._enter(ctx, policy, invoice, _upcoming_due(policy, invoice, day), day)
        entered = self.invoices[anchor.number].stages_entered
        for stage in policy.terms.stages:
            if (
                stage.action is StageAction.SUSPEND_ACCESS
                and stage.days in entered
                and stage.days <= days_overdue
            ):
                self._suspend(ctx, policy, stage, anchor, day)

    def _enter(
        self,
        ctx: CommandContext,
        policy: PublishedPolicy,
        invoice: Invoice,
        due: tuple[CollectionStage, ...],
        day: date,
    ) -> None:
        """Enter `due` for `invoice`, in order, and send the latest notice among them."""
        days_overdue = invoice.days_overdue(day)
        notices = [stage for stage in due if stage.action.is_notice]
        last_notice = notices[-1] if notices else None
        for stage in due:
            self._record(
                self.StageEntered,
                ctx,
                policy_version=policy.version,
                stage=stage,
                invoice_number=invoice.number,
                due_on=invoice.due_on,
                day=day,
                days_overdue=days_overdue,
            )
            if stage is last_notice and _worth_sending(stage, days_overdue):
                self._send_reminder(ctx, policy, stage, invoice, day)

    def _send_reminder(
        self,
        ctx: CommandContext,
        policy: PublishedPolicy,
        stage: CollectionStage,
        invoice: Invoice,
        day: date,
    ) -> None:
        self._record(
            self.ReminderSent,
            ctx,
            policy_version=policy.version,
            stage_days=stage.days,
            kind=stage.action,
            invoice_number=invoice.number,
            due_on=invoice.due_on,
            amount_due=invoice.outstanding,
            overdue_total=self.overdue_total(day),
            period=invoice.period,
            overdue_invoices=tuple(i.as_due() for i in self.overdue_on(day)),
        )

    def _suspend(
        self,
        ctx: CommandContext,
        policy: PublishedPolicy,
        stage: CollectionStage,
        anchor: Invoice,
        day: date,
    ) -> None:
        spare = policy.terms.spare_paid_in_advance
        for subscription in list(self.subscriptions.values()):
            if (
                subscription.is_suspended
                or subscription.is_cancelled
                or not stage.targets(subscription.product)
                or (spare and subscription.is_paid_in_advance(day))
            ):
                continue
            self._record(
                self.AccessSuspended,
                ctx,
                subscription_id=subscription.subscription_id,
                product=subscription.product,
                policy_version=policy.version,
                stage_days=stage.days,
                invoice_number=anchor.number,
            )

    def _reinstate_where_settled(self, ctx: CommandContext, reason: str) -> None:
        """Reinstate each suspension no invoice is overdue enough to hold any more.

        Judged on the day the command is recorded: the decision is made now.
        """
        day = self.day_of(ctx.recorded_at)
        worst = max(
            (i.days_overdue(day) for i in self.invoices.values() if i.is_collectible),
            default=None,
        )
        for subscription in list(self.subscriptions.values()):
            threshold = subscription.suspended_at_days
            if threshold is None or (worst is not None and worst >= threshold):
                continue
            self._record(
                self.AccessReinstated,
                ctx,
                subscription_id=subscription.subscription_id,
                product=subscription.product,
                reason=reason,
            )

    def _apply_account_credit(self, ctx: CommandContext) -> None:
        if not self.credit_balance.is_positive:
            return
        allocations, _ = _allocate(self.credit_balance, self.collectible_in_order())
        for allocation in allocations:
            self._record(
                self.CreditApplied,
                ctx,
                invoice_number=allocation.invoice_number,
                amount=allocation.amount,
            )

    # Rules ----------------------------------------------------------------

    def check_currency(self, amount: Money | UnitPrice) -> None:
        if amount.currency != self.currency:
            raise errors.CurrencyMismatchError(
                f"the account is in {self.currency}; {amount} is not"
            )

    def check_dated_in_account_history(self, what: str, day: date) -> None:
        """`day` falls at most CARRY_OVER_DAYS before the account was opened."""
        earliest = self.opened_on - timedelta(days=CARRY_OVER_DAYS)
        if day < earliest:
            raise errors.DatedBeforeAccountHistoryError(
                f"{what} is dated {day}; the account was opened on {self.opened_on} and "
                f"carries over nothing dated before {earliest}"
            )

    @staticmethod
    def check_positive(what: str, amount: Money) -> None:
        if not amount.is_positive:
            raise errors.NonPositiveAmountError(f"{what} must be above zero, not {amount}")

    @staticmethod
    def check_open(invoice: Invoice, action: str) -> None:
        if not invoice.is_open:
            raise errors.InvoiceSettledError(
                f"invoice {invoice.number} has nothing outstanding to be {action}"
            )


def _allocate(amount: Money, invoices: list[Invoice]) -> tuple[tuple[Allocation, ...], Money]:
    """Spread `amount` over `invoices` in order; return the allocations and the rest."""
    allocations: list[Allocation] = []
    left = amount
    for invoice in invoices:
        if not left.is_positive:
            break
        outstanding = invoice.outstanding
        if not outstanding.is_positive:
            continue
        share = outstanding if outstanding < left else left
        allocations.append(Allocation(invoice.number, share))
        left -= share
    return tuple(allocations), left


def _upcoming_due(
    policy: PublishedPolicy, invoice: Invoice, day: date
) -> tuple[CollectionStage, ...]:
    """The upcoming-payment stages due for an invoice younger than the anchor: each
    invoice is reminded of its own payment; overdue stages follow the anchor only."""
    days_overdue = invoice.days_overdue(day)
    if days_overdue > 0:
        return ()
    due = policy.terms.due_after(invoice.last_stage, days_overdue)
    return tuple(s for s in due if s.action is StageAction.UPCOMING_PAYMENT_REMINDER)


def _worth_sending(stage: CollectionStage, days_overdue: int) -> bool:
    """An upcoming-payment reminder is pointless once the due date has passed."""
    return stage.action is not StageAction.UPCOMING_PAYMENT_REMINDER or days_overdue <= 0


DECISIONS: dict[type[c.AccountCommand], Callable[[BillingAccount, CommandContext, Any], object]] = {
    c.AddSubscription: BillingAccount.add_subscription,
    c.RecordPrepayment: BillingAccount.record_prepayment,
    c.IssueInvoice: BillingAccount.issue_invoice,
    c.InvoiceSubscriptions: BillingAccount.invoice_subscriptions,
    c.ReceivePayment: BillingAccount.receive_payment,
    c.IssueCreditNote: BillingAccount.issue_credit_note,
    c.WriteOff: BillingAccount.write_off,
    c.OpenDispute: BillingAccount.open_dispute,
    c.CloseDispute: BillingAccount.close_dispute,
    c.SuspendAccess: BillingAccount.suspend_access,
    c.ReinstateAccess: BillingAccount.reinstate_access,
    c.HoldCollection: BillingAccount.hold_collection,
    c.ChangeQuantity: BillingAccount.change_quantity,
    c.CancelSubscription: BillingAccount.cancel_subscription,
    RecordDelivery: BillingAccount.record_delivery,
}
"""The account's decision on each command."""
