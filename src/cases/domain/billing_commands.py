"""What may be asked of a billing account: one frozen value per command (ADR 0039).

Declared once, in the domain's values (money as `Money`, days as `date`): the
API builds each from its request body and path, the billing office carries it,
and the account decides on it. The events the account records keep their own
fields.
"""

from __future__ import annotations

from datetime import date

from cases.domain import billing_values as v
from cases.domain.command import command
from cases.domain.deliveries import RecordDelivery
from cases.domain.money import Money


@command
class OpenAccount:
    """Open the customer's account: its currency, net terms and calendar."""

    customer_id: str
    currency: str
    net_days: int
    billing_period: v.BillingPeriod
    time_zone: str = "UTC"


@command
class AddSubscription:
    """Add a subscription, paid in advance through `paid_through` if given."""

    subscription_id: str
    product: str
    quantity: int
    paid_through: date | None = None


@command
class RecordPrepayment:
    """Record that a subscription is paid in advance through a later day."""

    subscription_id: str
    paid_through: date


@command
class IssueInvoice:
    """Charge the account; due net days after issue unless `due_on` is given."""

    number: str
    period: v.InvoicePeriod
    lines: tuple[v.InvoiceLine, ...]
    issued_on: date
    due_on: date | None = None


@command
class InvoiceSubscriptions:
    """Invoice a period in advance for the subscriptions priced: one line each, the
    quantity in force on the period's first day; none once cancelled (ADR 61)."""

    number: str
    period: v.InvoicePeriod
    prices: tuple[v.SubscriptionPrice, ...]
    issued_on: date
    due_on: date | None = None


@command
class ReceivePayment:
    """Take a payment: to the invoice it names, then the oldest; the rest is credit."""

    reference: str
    amount: Money
    received_on: date
    invoice_number: str | None = None


@command
class IssueCreditNote:
    """Take part or all of an invoice back, for `reason`."""

    number: str
    invoice_number: str
    amount: Money
    reason: str


@command
class WriteOff:
    """Give up on collecting part or all of what an invoice has outstanding."""

    invoice_number: str
    amount: Money
    reason: str


@command
class OpenDispute:
    """Take an invoice out of collection while the customer disputes it."""

    invoice_number: str
    reason: str


@command
class CloseDispute:
    """End an invoice's dispute, with how it ended; what is outstanding is collected again."""

    invoice_number: str
    outcome: v.DisputeOutcome
    note: str


@command
class SuspendAccess:
    """Suspend a subscription by hand; it stays suspended until reinstated by hand."""

    subscription_id: str
    reason: str


@command
class ReinstateAccess:
    """Reinstate a suspended subscription by hand, whatever suspended it."""

    subscription_id: str
    reason: str


@command
class HoldCollection:
    """Hold collection through `until` (a payment promise): no stage is entered,
    no notice sent and nothing suspended until the day after."""

    until: date
    reason: str


@command
class ChangeQuantity:
    """Change how many seats or licences a subscription has, from the day recorded;
    invoices for periods starting after it bill the new quantity."""

    subscription_id: str
    quantity: int
    reason: str


@command
class CancelSubscription:
    """Cancel a subscription from `effective_on` (default: the day recorded), the
    first day without it: no period starting then is invoiced, and access ends."""

    subscription_id: str
    reason: str
    effective_on: date | None = None


AccountCommand = (
    AddSubscription
    | RecordPrepayment
    | IssueInvoice
    | InvoiceSubscriptions
    | ReceivePayment
    | IssueCreditNote
    | WriteOff
    | OpenDispute
    | CloseDispute
    | SuspendAccess
    | ReinstateAccess
    | HoldCollection
    | ChangeQuantity
    | CancelSubscription
    | RecordDelivery
)
"""A command on an account that exists (opening one is `OpenAccount`)."""
