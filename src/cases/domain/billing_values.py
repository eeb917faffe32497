"""Values a billing account is made of: periods, lines, invoices, subscriptions.

Every value is a frozen dataclass or an enum, so it can be stored inside an
event or a snapshot as it is, and an account's state changes only by
replacing values, never by mutating them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

from cases.domain.errors import InvalidValueError
from cases.domain.money import Money, UnitPrice
from cases.domain.text import LINE_LIMIT, required_text


class BillingPeriod(StrEnum):
    """How often an account is invoiced."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"


class AccessState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class DisputeOutcome(StrEnum):
    """How a dispute ended; an upheld one is usually followed by a credit note."""

    UPHELD = "upheld"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class InvoicePeriod:
    """The days an invoice bills for, both inclusive."""

    starts_on: date
    ends_on: date

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            raise InvalidValueError(
                f"an invoice period cannot end ({self.ends_on}) before it starts ({self.starts_on})"
            )


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """What was billed: quantity times unit price; a negative price is a discount.

    The unit price keeps the price list's decimals; the line's amount is rounded
    half-up to the currency's minor unit, once (ADR 47).
    """

    description: str
    quantity: Decimal
    unit_price: UnitPrice

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "description", required_text("line description", self.description, LINE_LIMIT)
        )
        quantity = self.quantity
        if not isinstance(quantity, Decimal) or not quantity.is_finite() or quantity <= 0:
            raise InvalidValueError(f"line quantity {quantity!r} must be a positive Decimal")

    @property
    def amount(self) -> Money:
        return self.unit_price.times(self.quantity)

    def priced_exactly(self) -> InvoiceLine:
        """This line with a `UnitPrice`: a line stored before ADR 47 carries its
        unit price as `Money` (already at the minor unit, so exactly the same)."""
        price: object = self.unit_price
        if isinstance(price, Money):
            return replace(self, unit_price=UnitPrice(price.amount, price.currency))
        return self


@dataclass(frozen=True, slots=True)
class InvoiceDue:
    """An invoice as a notice lists it: the period it bills, when it falls due and
    what it still asks for."""

    number: str
    period: InvoicePeriod
    due_on: date
    outstanding: Money


@dataclass(frozen=True, slots=True)
class Allocation:
    """The part of a payment settled against one invoice."""

    invoice_number: str
    amount: Money


@dataclass(frozen=True, slots=True)
class Invoice:
    """An issued invoice and what has happened to it since.

    `settled` counts payments and account credit applied to it; `credited`
    counts credit notes against it. `stages_entered` holds the days (relative
    to the due date) of the collection stages entered while it was the oldest
    unpaid invoice: collection never enters the same stage twice for it.
    """

    number: str
    period: InvoicePeriod
    lines: tuple[InvoiceLine, ...]
    total: Money
    issued_on: date
    due_on: date
    settled: Money
    credited: Money
    written_off: Money
    disputed: bool = False
    stages_entered: tuple[int, ...] = ()

    @property
    def outstanding(self) -> Money:
        return self.total - self.settled - self.credited - self.written_off

    @property
    def is_open(self) -> bool:
        return self.outstanding.is_positive

    @property
    def is_collectible(self) -> bool:
        """Open and not disputed: collection chases it."""
        return self.is_open and not self.disputed

    @property
    def creditable(self) -> Money:
        """What a credit note may still take off: billed, less credits and write-offs."""
        return self.total - self.credited - self.written_off

    @property
    def last_stage(self) -> int | None:
        return self.stages_entered[-1] if self.stages_entered else None

    def days_overdue(self, day: date) -> int:
        """Days past the due date on `day`: negative before it, 0 on it."""
        return (day - self.due_on).days

    def as_due(self) -> InvoiceDue:
        return InvoiceDue(self.number, self.period, self.due_on, self.outstanding)

    def collection_order(self) -> tuple[date, date, str]:
        return (self.due_on, self.issued_on, self.number)

    def with_settled(self, amount: Money) -> Invoice:
        return replace(self, settled=self.settled + amount)

    def with_credit(self, amount: Money, released: Money) -> Invoice:
        return replace(self, credited=self.credited + amount, settled=self.settled - released)

    def with_write_off(self, amount: Money) -> Invoice:
        return replace(self, written_off=self.written_off + amount)

    def with_dispute(self, disputed: bool) -> Invoice:
        return replace(self, disputed=disputed)

    def with_stage(self, days: int) -> Invoice:
        return replace(self, stages_entered=(*self.stages_entered, days))

    def priced_exactly(self) -> Invoice:
        """This invoice with every line's unit price a `UnitPrice` (ADR 47)."""
        return replace(self, lines=tuple(line.priced_exactly() for line in self.lines))


@dataclass(frozen=True, slots=True)
class SeatChange:
    """A subscription's quantity changed from `previous` to `quantity` on
    `effective_on` (ADR 61)."""

    effective_on: date
    previous: int
    quantity: int


@dataclass(frozen=True, slots=True)
class SubscriptionPrice:
    """What one seat or licence of a subscription costs for a period: asked when
    invoicing subscriptions, never stored by itself (the lines keep it)."""

    subscription_id: str
    unit_price: UnitPrice


@dataclass(frozen=True, slots=True)
class Subscription:
    """A product the customer subscribes to, and whether it may be used.

    `paid_through` is the last day paid for in advance, if any.
    `suspended_at_days` is the collection stage (days past due) that
    suspended it: it stays suspended only while an invoice is that overdue.
    `changes` are its quantity changes, oldest first; `cancelled_on` is the
    first day without it, once cancelled (ADR 61).
    """

    subscription_id: str
    product: str
    quantity: int
    paid_through: date | None = None
    access: AccessState = AccessState.ACTIVE
    suspended_at_days: int | None = None
    changes: tuple[SeatChange, ...] = ()
    cancelled_on: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "subscription_id",
            required_text("subscription id", self.subscription_id, 100),
        )
        object.__setattr__(self, "product", required_text("product", self.product, 200))
        if self.quantity < 1:
            raise InvalidValueError("a subscription's quantity must be at least 1")

    @property
    def is_suspended(self) -> bool:
        return self.access is AccessState.SUSPENDED

    def is_paid_in_advance(self, day: date) -> bool:
        return self.paid_through is not None and self.paid_through >= day

    def suspended(self, days: int | None) -> Subscription:
        """Suspended by the collection stage `days`, or by hand (None: only a
        reinstatement by hand lifts it)."""
        return replace(self, access=AccessState.SUSPENDED, suspended_at_days=days)

    def reinstated(self) -> Subscription:
        return replace(self, access=AccessState.ACTIVE, suspended_at_days=None)

    def prepaid_through(self, day: date) -> Subscription:
        return replace(self, paid_through=day)

    @property
    def is_cancelled(self) -> bool:
        """Cancelled, whether or not the cancellation has taken effect yet."""
        return self.cancelled_on is not None

    def with_quantity(self, change: SeatChange) -> Subscription:
        return replace(self, quantity=change.quantity, changes=(*self.changes, change))

    def cancelled(self, effective_on: date) -> Subscription:
        return replace(self, cancelled_on=effective_on)

    def quantity_on(self, day: date) -> int:
        """The quantity in force on `day` (changes take effect on their day)."""
        quantity = self.quantity
        for change in reversed(self.changes):
            if change.effective_on <= day:
                break
            quantity = change.previous
        return quantity

    def line_for(self, period: InvoicePeriod, unit_price: UnitPrice) -> InvoiceLine | None:
        """What the subscription charges for `period`, billed in advance (ADR 61):
        the quantity in force on the period's first day times the unit price; no
        line for a period starting on or after the cancellation's day."""
        if self.cancelled_on is not None and period.starts_on >= self.cancelled_on:
            return None
        quantity = self.quantity_on(period.starts_on)
        description = (
            f"{self.product} ({self.subscription_id}), {period.starts_on} to {period.ends_on}"
        )
        return InvoiceLine(description, Decimal(quantity), unit_price)
