"""One line of plain English per billing event (keyed by `Aggregate.Event`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Details = Mapping[str, Any]


def _words(value: object) -> str:
    return str(getattr(value, "value", value)).replace("_", " ")


def _payment(d: Details) -> str:
    allocated = ", ".join(f"{a.amount} to {a.invoice_number}" for a in d["allocations"])
    rest = "" if d["unapplied"].is_zero else f"; {d['unapplied']} kept as credit"
    return (
        f"Payment {d['reference']} of {d['amount']} received {d['received_on']}: "
        f"{allocated or 'nothing owed'}{rest}"
    )


def delivery_summary(d: Details) -> str:
    """A message's outcome (ADR 50): "final warning delivered to x (email, 1 attempt)"."""
    delivery = d["delivery"]
    tries = "1 attempt" if delivery.attempts == 1 else f"{delivery.attempts} attempts"
    detail = f": {delivery.detail}" if delivery.detail else ""
    return (
        f"{_words(delivery.message).capitalize()} {_words(delivery.outcome)} to "
        f"{delivery.recipient} ({delivery.channel}, {tries}){detail}"
    )


def _stage(d: Details) -> str:
    stage = d["stage"]
    return (
        f"Collection stage {stage.days:+d} ({_words(stage.action)}) entered for invoice "
        f"{d['invoice_number']}, due {d['due_on']}, {d['days_overdue']} days overdue "
        f"(policy v{d['policy_version']})"
    )


def _reminder(d: Details) -> str:
    """The notice, the period its invoice bills, and every invoice overdue (ADR 47);
    a reminder recorded before ADR 47 names neither."""
    period = d.get("period")
    billed = f" (period {period.starts_on} to {period.ends_on})" if period else ""
    overdue = "".join(
        f"; {i.number} for {i.period.starts_on} to {i.period.ends_on}, "
        f"due {i.due_on}: {i.outstanding}"
        for i in d.get("overdue_invoices", ())
    )
    return (
        f"Sent {_words(d['kind'])} for invoice {d['invoice_number']}{billed} "
        f"({d['amount_due']} due {d['due_on']}; {d['overdue_total']} overdue in all{overdue})"
    )


BILLING_SUMMARIES: dict[str, Callable[[Details], str]] = {
    "BillingAccount.Opened": lambda d: (
        f"Account opened for {d['customer_id']}: {d['currency']}, net {d['net_days']} days, "
        f"billed {_words(d['billing_period'])}"
    ),
    "BillingAccount.SubscriptionAdded": lambda d: (
        f"Subscription {d['subscription_id']}: {d['quantity']} x {d['product']}"
        + (f", paid through {d['paid_through']}" if d["paid_through"] else "")
    ),
    "BillingAccount.PrepaymentRecorded": lambda d: (
        f"Subscription {d['subscription_id']} paid through {d['paid_through']}"
    ),
    "BillingAccount.InvoiceIssued": lambda d: (
        f"Invoice {d['number']} issued {d['issued_on']} for {d['total']}, due {d['due_on']}"
    ),
    "BillingAccount.PaymentReceived": _payment,
    "BillingAccount.CreditApplied": lambda d: (
        f"Account credit {d['amount']} applied to invoice {d['invoice_number']}"
    ),
    "BillingAccount.CreditNoteIssued": lambda d: (
        f"Credit note {d['number']} of {d['amount']} on invoice {d['invoice_number']}: "
        f"{d['reason']}"
    ),
    "BillingAccount.WrittenOff": lambda d: (
        f"{d['amount']} of invoice {d['invoice_number']} written off: {d['reason']}"
    ),
    "BillingAccount.DisputeOpened": lambda d: (
        f"Invoice {d['invoice_number']} disputed (out of collection): {d['reason']}"
    ),
    "BillingAccount.DisputeClosed": lambda d: (
        f"Dispute on invoice {d['invoice_number']} closed, {_words(d['outcome'])}: {d['note']}"
    ),
    "BillingAccount.StageEntered": _stage,
    "BillingAccount.ReminderSent": _reminder,
    "BillingAccount.AccessSuspended": lambda d: (
        f"Access suspended: {d['product']} ({d['subscription_id']}), stage "
        f"{d['stage_days']:+d} for invoice {d['invoice_number']}"
    ),
    "BillingAccount.AccessReinstated": lambda d: (
        f"Access reinstated: {d['product']} ({d['subscription_id']}), {d['reason']}"
    ),
    "BillingAccount.AccessSuspendedByHand": lambda d: (
        f"Access suspended by hand: {d['product']} ({d['subscription_id']}), {d['reason']}"
    ),
    "BillingAccount.CollectionHeld": lambda d: (
        f"Collection held through {d['until']}: {d['reason']}"
    ),
    "BillingAccount.QuantityChanged": lambda d: (
        f"Quantity of {d['product']} ({d['subscription_id']}) changed from {d['previous']} "
        f"to {d['quantity']} from {d['effective_on']}: {d['reason']}"
    ),
    "BillingAccount.SubscriptionCancelled": lambda d: (
        f"Subscription {d['product']} ({d['subscription_id']}) cancelled from "
        f"{d['effective_on']}: {d['reason']}"
    ),
    "BillingAccount.BillingCaseLinked": lambda d: f"Billing question: case {d['case_id']}",
    "BillingAccount.DeliveryRecorded": delivery_summary,
    "CollectionPolicy.Established": lambda _: "Collection policy established",
    "CollectionPolicy.Published": lambda d: f"Collection policy v{d['version']} published",
}
