"""The billing account's rules: money in and out, and every refusal, no database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from cases.domain import billing_commands as bcmd
from cases.domain import errors
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import (
    AccessState,
    Allocation,
    BillingPeriod,
    DisputeOutcome,
    InvoiceLine,
    InvoicePeriod,
)
from cases.domain.money import Money, UnitPrice
from tests.unit.domain.billing_scenario import (
    BILLING,
    DUE,
    M365,
    OPENED_ON,
    T0,
    after_due,
    ctx,
    eur,
    evaluated,
    given,
    invoiced,
    kinds,
    line,
    march,
    on,
    opened,
    paid,
    subscribed,
    then_events,
    then_refused,
)


def credit_note(
    amount: str | int, number: str = "CN-1", invoice_number: str = "INV-1"
) -> Callable[[BillingAccount], None]:
    return lambda account: account.issue_credit_note(
        ctx(after_due(-20)),
        bcmd.IssueCreditNote(
            number=number,
            invoice_number=invoice_number,
            amount=eur(amount),
            reason="Outage credit for 2 March",
        ),
    )


def written_off(
    amount: str | int, invoice_number: str = "INV-1"
) -> Callable[[BillingAccount], None]:
    return lambda account: account.write_off(
        ctx(after_due(60)),
        bcmd.WriteOff(
            invoice_number=invoice_number, amount=eur(amount), reason="Customer in liquidation"
        ),
    )


class TestOpening:
    def test_records_the_customers_terms(self) -> None:
        """Opening records customer, currency, net days, period and calendar."""
        account = opened(net_days=14, time_zone="Europe/Stockholm")
        [event] = account.collect_events()
        assert isinstance(event, BillingAccount.Opened)
        assert event.meta.actor == BILLING
        assert (account.customer_id, account.currency, account.net_days) == (
            "contoso",
            "EUR",
            14,
        )
        assert account.billing_period is BillingPeriod.MONTHLY
        assert account.time_zone == "Europe/Stockholm"
        assert account.balance == eur(0)

    def test_one_account_per_customer_its_id_follows_from_the_customer(self) -> None:
        """The account id is derived from the customer id, so a second is refused
        by the store."""
        assert opened().id == BillingAccount.id_for("contoso")
        assert BillingAccount.id_for(" contoso ") == BillingAccount.id_for("contoso")
        assert BillingAccount.id_for("fabrikam") != BillingAccount.id_for("contoso")

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("currency", "XXX"),
            ("currency", "eur"),
            ("net_days", -1),
            ("net_days", 366),
            ("time_zone", "Mars/Olympus"),
            ("customer_id", "  "),
        ],
    )
    def test_refuses_terms_it_cannot_bill_by(self, field: str, value: Any) -> None:
        """Unknown currencies, odd net terms, zones and blank customers are refused."""
        with pytest.raises(errors.InvalidValueError):
            opened(**{field: value})


class TestSubscriptions:
    def test_a_new_subscription_is_active(self) -> None:
        """A subscription starts with access on."""
        account = given(opened())
        [event] = then_events(account, subscribed(M365))
        assert isinstance(event, BillingAccount.SubscriptionAdded)
        assert account.subscriptions["sub-microsoft"].access is AccessState.ACTIVE

    def test_refuses_a_subscription_id_twice(self) -> None:
        """Refuses a subscription id twice."""
        account = given(opened(), subscribed(M365))
        then_refused(account, subscribed(M365), errors.DuplicateSubscriptionError)

    def test_refuses_a_quantity_below_one(self) -> None:
        """Refuses a quantity below one."""
        account = given(opened())
        then_refused(
            account,
            lambda a: a.add_subscription(
                ctx(), bcmd.AddSubscription(subscription_id="s", product=M365, quantity=0)
            ),
            errors.InvalidValueError,
        )

    def test_records_a_prepayment(self) -> None:
        """Paying in advance moves the subscription's paid-through day."""
        account = given(opened(), subscribed(M365))
        then_events(
            account,
            lambda a: a.record_prepayment(
                ctx(), bcmd.RecordPrepayment("sub-microsoft", date(2026, 12, 31))
            ),
        )
        assert account.subscriptions["sub-microsoft"].paid_through == date(2026, 12, 31)

    def test_refuses_a_prepayment_that_does_not_extend(self) -> None:
        """Refuses a prepayment that does not extend."""
        account = given(opened(), subscribed(M365, paid_through=date(2026, 12, 31)))
        then_refused(
            account,
            lambda a: a.record_prepayment(
                ctx(), bcmd.RecordPrepayment("sub-microsoft", date(2026, 6, 30))
            ),
            errors.PrepaymentNotLaterError,
        )

    def test_refuses_a_prepayment_for_an_unknown_subscription(self) -> None:
        """Refuses a prepayment for an unknown subscription."""
        account = given(opened())
        then_refused(
            account,
            lambda a: a.record_prepayment(
                ctx(), bcmd.RecordPrepayment("sub-nope", date(2026, 6, 30))
            ),
            errors.UnknownSubscriptionError,
        )


class TestInvoices:
    def test_totals_the_lines_rounded_half_up_to_the_cent(self) -> None:
        """Each line is quantity times the exact unit price, rounded half-up once;
        the total sums the rounded lines."""
        account = given(opened())
        lines = (
            InvoiceLine(M365, Decimal("1.5"), UnitPrice.of("19.99", "EUR")),  # 29.985 -> 29.99
            InvoiceLine("Setup", Decimal(3), UnitPrice.of("33.335", "EUR")),  # 100.005 -> 100.01
        )
        [event] = then_events(
            account,
            lambda a: a.issue_invoice(
                ctx(),
                bcmd.IssueInvoice(number="INV-1", period=march(), lines=lines, issued_on=OPENED_ON),
            ),
        )
        assert event.total == eur("130.00")
        assert account.balance == eur("130.00")

    def test_falls_due_net_days_after_issue(self) -> None:
        """Without a due date, the invoice falls due net N days after issue."""
        account = given(opened(net_days=14), invoiced(issued_on=date(2026, 3, 5)))
        assert account.invoices["INV-1"].due_on == date(2026, 3, 19)

    def test_keeps_a_due_date_given(self) -> None:
        """Keeps a due date given."""
        account = given(opened(), invoiced(due_on=date(2026, 3, 10)))
        assert account.invoices["INV-1"].due_on == date(2026, 3, 10)

    def test_refuses_a_due_date_before_the_issue_date(self) -> None:
        """Refuses a due date before the issue date."""
        account = given(opened())
        then_refused(
            account,
            invoiced(issued_on=date(2026, 3, 5), due_on=date(2026, 3, 4)),
            errors.DueBeforeIssueError,
        )

    def test_refuses_an_invoice_number_twice(self) -> None:
        """Refuses an invoice number twice."""
        account = given(opened(), invoiced("INV-1"))
        then_refused(account, invoiced("INV-1"), errors.DuplicateInvoiceNumberError)

    def test_refuses_an_invoice_without_lines(self) -> None:
        """Refuses an invoice without lines."""
        account = given(opened())
        then_refused(
            account,
            lambda a: a.issue_invoice(
                ctx(),
                bcmd.IssueInvoice(number="INV-1", period=march(), lines=(), issued_on=OPENED_ON),
            ),
            errors.InvalidValueError,
        )

    def test_refuses_a_total_of_zero_or_less(self) -> None:
        """A discount line may lower the total, but not to zero."""
        account = given(opened())
        then_refused(
            account,
            lambda a: a.issue_invoice(
                ctx(),
                bcmd.IssueInvoice(
                    number="INV-1",
                    period=march(),
                    lines=(line(100), line(-100, description="Launch discount")),
                    issued_on=OPENED_ON,
                ),
            ),
            errors.NonPositiveAmountError,
        )

    def test_refuses_lines_in_another_currency(self) -> None:
        """Refuses lines in another currency."""
        account = given(opened())
        then_refused(
            account,
            lambda a: a.issue_invoice(
                ctx(),
                bcmd.IssueInvoice(
                    number="INV-1",
                    period=march(),
                    lines=(InvoiceLine(M365, Decimal(1), UnitPrice.of(100, "SEK")),),
                    issued_on=OPENED_ON,
                ),
            ),
            errors.CurrencyMismatchError,
        )

    def test_refuses_a_period_that_ends_before_it_starts(self) -> None:
        """Refuses a period that ends before it starts."""
        with pytest.raises(errors.InvalidValueError):
            InvoicePeriod(date(2026, 3, 31), date(2026, 3, 1))

    def test_account_credit_is_applied_to_a_new_invoice(self) -> None:
        """Credit from an over-payment pays the next invoice as it is issued."""
        account = given(opened(), invoiced("INV-1", 100), paid(150, on(OPENED_ON)))
        events = then_events(account, invoiced("INV-2", 80, issued_on=date(2026, 4, 1)))
        assert kinds(events) == ["InvoiceIssued", "CreditApplied"]
        assert events[1].amount == eur(50)
        assert account.invoices["INV-2"].outstanding == eur(30)
        assert account.credit_balance == eur(0)


class TestPayments:
    def test_a_full_payment_settles_the_invoice(self) -> None:
        """A full payment settles the invoice."""
        account = given(opened(), invoiced(amount=1000))
        [event] = then_events(account, paid(1000, on(OPENED_ON)))
        assert event.allocations == (Allocation("INV-1", eur(1000)),)
        assert not account.invoices["INV-1"].is_open
        assert account.balance == eur(0)

    def test_a_partial_payment_leaves_the_rest_outstanding(self) -> None:
        """A partial payment leaves the rest outstanding."""
        account = given(opened(), invoiced(amount=1000))
        then_events(account, paid("399.99", on(OPENED_ON)))
        assert account.invoices["INV-1"].outstanding == eur("600.01")

    def test_an_over_payment_becomes_account_credit(self) -> None:
        """What no open invoice needs is kept as credit, and the balance goes negative."""
        account = given(opened(), invoiced(amount=1000))
        [event] = then_events(account, paid(1200, on(OPENED_ON)))
        assert event.unapplied == eur(200)
        assert account.credit_balance == eur(200)
        assert account.balance == eur(-200)

    def test_pays_the_oldest_due_invoice_first(self) -> None:
        """Without a named invoice, the payment goes to invoices in order of due date."""
        account = given(
            opened(),
            invoiced("INV-2", 300, issued_on=date(2026, 3, 10), due_on=date(2026, 4, 20)),
            invoiced("INV-1", 500, issued_on=date(2026, 3, 12), due_on=date(2026, 4, 10)),
        )
        [event] = then_events(account, paid(600, on(date(2026, 3, 15))))
        assert event.allocations == (
            Allocation("INV-1", eur(500)),
            Allocation("INV-2", eur(100)),
        )

    def test_pays_the_named_invoice_first(self) -> None:
        """Pays the named invoice first."""
        account = given(
            opened(),
            invoiced("INV-1", 500),
            invoiced("INV-2", 300, issued_on=date(2026, 3, 10)),
        )
        [event] = then_events(account, paid(600, on(date(2026, 3, 15)), invoice_number="INV-2"))
        assert event.allocations == (
            Allocation("INV-2", eur(300)),
            Allocation("INV-1", eur(300)),
        )

    def test_does_not_apply_a_payment_to_a_disputed_invoice_unasked(self) -> None:
        """A disputed invoice is paid only when the payment names it."""
        account = given(
            opened(),
            invoiced("INV-1", 500),
            lambda a: a.open_dispute(ctx(), bcmd.OpenDispute("INV-1", "Licences billed twice")),
        )
        [event] = then_events(account, paid(200, on(OPENED_ON)))
        assert event.allocations == ()
        assert account.credit_balance == eur(200)

    def test_refuses_a_payment_reference_twice(self) -> None:
        """A bank transaction imported twice is not money received twice."""
        account = given(opened(), invoiced(), paid(100, on(OPENED_ON), reference="B-1"))
        then_refused(
            account, paid(100, on(OPENED_ON), reference="B-1"), errors.DuplicatePaymentError
        )

    @pytest.mark.parametrize("amount", ["0", "-5"])
    def test_refuses_a_payment_of_zero_or_less(self, amount: str) -> None:
        """Refuses a payment of zero or less."""
        account = given(opened(), invoiced())
        then_refused(account, paid(amount, on(OPENED_ON)), errors.NonPositiveAmountError)

    def test_refuses_a_payment_in_another_currency(self) -> None:
        """Refuses a payment in another currency."""
        account = given(opened(), invoiced())
        then_refused(
            account,
            lambda a: a.receive_payment(
                ctx(),
                bcmd.ReceivePayment(
                    reference="B-1", amount=Money.of(100, "USD"), received_on=OPENED_ON
                ),
            ),
            errors.CurrencyMismatchError,
        )

    def test_refuses_a_payment_received_on_a_day_still_to_come(self) -> None:
        """Refuses a payment received on a day still to come."""
        account = given(opened(), invoiced())
        then_refused(
            account,
            lambda a: a.receive_payment(
                ctx(T0),
                bcmd.ReceivePayment(
                    reference="B-1", amount=eur(100), received_on=OPENED_ON + timedelta(days=1)
                ),
            ),
            errors.PaymentInFutureError,
        )

    def test_refuses_a_payment_naming_an_unknown_invoice(self) -> None:
        """Refuses a payment naming an unknown invoice."""
        account = given(opened(), invoiced())
        then_refused(
            account,
            paid(100, on(OPENED_ON), invoice_number="INV-9"),
            errors.UnknownInvoiceError,
        )


class TestCreditNotesAndWriteOffs:
    def test_a_credit_note_lowers_what_is_outstanding(self) -> None:
        """A credit note lowers what is outstanding."""
        account = given(opened(), invoiced(amount=1000))
        [event] = then_events(account, credit_note(250))
        assert event.released == eur(0)
        assert account.invoices["INV-1"].outstanding == eur(750)
        assert account.balance == eur(750)

    def test_a_credit_note_on_a_paid_invoice_becomes_account_credit(self) -> None:
        """Crediting what was already paid releases that much payment as credit."""
        account = given(opened(), invoiced(amount=1000), paid(1000, on(OPENED_ON)))
        [event] = then_events(account, credit_note(300))
        assert event.released == eur(300)
        assert account.credit_balance == eur(300)
        assert account.invoices["INV-1"].outstanding == eur(0)
        assert account.balance == eur(-300)

    def test_refuses_to_credit_more_than_was_billed(self) -> None:
        """Refuses to credit more than was billed."""
        account = given(opened(), invoiced(amount=1000), credit_note(800))
        then_refused(account, credit_note(201, number="CN-2"), errors.CreditExceedsInvoiceError)

    def test_refuses_a_credit_note_number_twice(self) -> None:
        """Refuses a credit note number twice."""
        account = given(opened(), invoiced(amount=1000), credit_note(100))
        then_refused(account, credit_note(100), errors.DuplicateCreditNoteError)

    def test_refuses_a_credit_note_for_an_unknown_invoice(self) -> None:
        """Refuses a credit note for an unknown invoice."""
        account = given(opened(), invoiced())
        then_refused(account, credit_note(100, invoice_number="INV-9"), errors.UnknownInvoiceError)

    def test_refuses_a_credit_note_of_zero(self) -> None:
        """Refuses a credit note of zero."""
        account = given(opened(), invoiced())
        then_refused(account, credit_note(0), errors.NonPositiveAmountError)

    def test_a_write_off_lowers_what_is_outstanding(self) -> None:
        """A write-off lowers what is outstanding."""
        account = given(opened(), invoiced(amount=1000), paid(600, on(OPENED_ON)))
        then_events(account, written_off(400))
        assert not account.invoices["INV-1"].is_open
        assert account.balance == eur(0)
        assert account.written_off == eur(400)

    def test_refuses_to_write_off_more_than_is_outstanding(self) -> None:
        """Refuses to write off more than is outstanding."""
        account = given(opened(), invoiced(amount=1000), paid(600, on(OPENED_ON)))
        then_refused(account, written_off(401), errors.WriteOffExceedsOutstandingError)

    def test_refuses_to_write_off_a_settled_invoice(self) -> None:
        """Refuses to write off a settled invoice."""
        account = given(opened(), invoiced(amount=1000), paid(1000, on(OPENED_ON)))
        then_refused(account, written_off(1), errors.InvoiceSettledError)

    def test_refuses_a_write_off_in_another_currency(self) -> None:
        """Refuses a write-off in another currency."""
        account = given(opened(), invoiced())
        then_refused(
            account,
            lambda a: a.write_off(
                ctx(), bcmd.WriteOff(invoice_number="INV-1", amount=Money.of(5, "GBP"), reason="x")
            ),
            errors.CurrencyMismatchError,
        )

    def test_balance_is_charges_less_payments_credits_and_write_offs(self) -> None:
        """Balance is charges less payments, credit notes and write-offs, and equals
        what invoices have outstanding less account credit."""
        account = given(
            opened(),
            invoiced("INV-1", 1000),
            invoiced("INV-2", 500, issued_on=date(2026, 3, 20)),
            paid(700, on(date(2026, 3, 20))),
            credit_note(100, invoice_number="INV-2"),
            written_off(200),
        )
        assert account.balance == eur(1500 - 700 - 100 - 200)
        outstanding = sum((i.outstanding for i in account.invoices.values()), eur(0))
        assert account.balance == outstanding - account.credit_balance


class TestDisputes:
    def test_a_disputed_invoice_is_not_collected(self) -> None:
        """While disputed, the invoice is not the one collection follows."""
        account = given(
            opened(),
            invoiced("INV-1", 500),
            invoiced("INV-2", 300, issued_on=date(2026, 3, 10)),
        )
        then_events(
            account, lambda a: a.open_dispute(ctx(), bcmd.OpenDispute("INV-1", "Wrong seat count"))
        )
        assert account.anchor is not None
        assert account.anchor.number == "INV-2"

    def test_refuses_to_dispute_a_settled_invoice(self) -> None:
        """Refuses to dispute a settled invoice."""
        account = given(opened(), invoiced(amount=100), paid(100, on(OPENED_ON)))
        then_refused(
            account,
            lambda a: a.open_dispute(ctx(), bcmd.OpenDispute("INV-1", "x")),
            errors.InvoiceSettledError,
        )

    def test_refuses_a_second_dispute_while_one_is_open(self) -> None:
        """Refuses a second dispute while one is open."""
        account = given(
            opened(), invoiced(), lambda a: a.open_dispute(ctx(), bcmd.OpenDispute("INV-1", "x"))
        )
        then_refused(
            account,
            lambda a: a.open_dispute(ctx(), bcmd.OpenDispute("INV-1", "again")),
            errors.DisputeAlreadyOpenError,
        )

    def test_closing_a_dispute_puts_the_invoice_back_in_collection(self) -> None:
        """Closing a dispute puts the invoice back in collection."""
        account = given(
            opened(), invoiced(), lambda a: a.open_dispute(ctx(), bcmd.OpenDispute("INV-1", "x"))
        )
        [event] = then_events(
            account,
            lambda a: a.close_dispute(
                ctx(), bcmd.CloseDispute("INV-1", DisputeOutcome.REJECTED, "Seats used")
            ),
        )
        assert event.outcome is DisputeOutcome.REJECTED
        assert account.anchor is not None
        assert account.anchor.number == "INV-1"

    def test_closing_a_dispute_applies_credit_held_back(self) -> None:
        """Credit kept off a disputed invoice pays it once the dispute is over."""
        account = given(
            opened(),
            invoiced(amount=500),
            lambda a: a.open_dispute(ctx(), bcmd.OpenDispute("INV-1", "x")),
            paid(200, on(OPENED_ON)),
        )
        events = then_events(
            account,
            lambda a: a.close_dispute(
                ctx(), bcmd.CloseDispute("INV-1", DisputeOutcome.WITHDRAWN, "ok")
            ),
        )
        assert kinds(events) == ["DisputeClosed", "CreditApplied"]
        assert account.invoices["INV-1"].outstanding == eur(300)

    def test_refuses_to_close_a_dispute_that_is_not_open(self) -> None:
        """Refuses to close a dispute that is not open."""
        account = given(opened(), invoiced())
        then_refused(
            account,
            lambda a: a.close_dispute(
                ctx(), bcmd.CloseDispute("INV-1", DisputeOutcome.UPHELD, "x")
            ),
            errors.NoOpenDisputeError,
        )

    def test_refuses_to_dispute_an_unknown_invoice(self) -> None:
        """Refuses to dispute an unknown invoice."""
        account = given(opened())
        then_refused(
            account,
            lambda a: a.open_dispute(ctx(), bcmd.OpenDispute("INV-9", "x")),
            errors.UnknownInvoiceError,
        )


class TestReinstatementOnTheCommandItself:
    def suspended(self) -> BillingAccount:
        return given(opened(), subscribed(M365), invoiced(), evaluated(after_due(30)))

    def test_a_payment_that_settles_the_overdue_balance_reinstates_at_once(self) -> None:
        """The payment command itself records the reinstatement: no run needed."""
        account = self.suspended()
        assert account.subscriptions["sub-microsoft"].is_suspended
        events = then_events(account, paid(1000, after_due(31)))
        assert kinds(events) == ["PaymentReceived", "AccessReinstated"]
        assert events[1].subscription_id == "sub-microsoft"
        assert not account.subscriptions["sub-microsoft"].is_suspended

    def test_a_partial_payment_keeps_access_suspended(self) -> None:
        """A partial payment keeps access suspended."""
        account = self.suspended()
        assert kinds(then_events(account, paid(999, after_due(31)))) == ["PaymentReceived"]
        assert account.subscriptions["sub-microsoft"].is_suspended

    def test_a_credit_note_that_settles_reinstates_at_once(self) -> None:
        """A credit note that settles reinstates at once."""
        account = self.suspended()
        events = then_events(
            account,
            lambda a: a.issue_credit_note(
                ctx(after_due(31)),
                bcmd.IssueCreditNote(
                    number="CN-1",
                    invoice_number="INV-1",
                    amount=eur(1000),
                    reason="Billed in error",
                ),
            ),
        )
        assert kinds(events) == ["CreditNoteIssued", "AccessReinstated"]

    def test_a_write_off_that_settles_reinstates_at_once(self) -> None:
        """A write-off that settles the overdue balance reinstates at once."""
        account = self.suspended()
        events = then_events(account, written_off(1000))
        assert kinds(events) == ["WrittenOff", "AccessReinstated"]

    def test_disputing_the_overdue_invoice_reinstates_at_once(self) -> None:
        """Disputing the overdue invoice reinstates at once."""
        account = self.suspended()
        events = then_events(
            account,
            lambda a: a.open_dispute(ctx(after_due(31)), bcmd.OpenDispute("INV-1", "Not ours")),
        )
        assert kinds(events) == ["DisputeOpened", "AccessReinstated"]

    def test_access_stays_off_while_another_invoice_is_overdue_past_suspension(
        self,
    ) -> None:
        """Settling the oldest is not enough if the next is also 30 days overdue."""
        account = given(
            opened(),
            subscribed(M365),
            invoiced("INV-1", 1000),
            invoiced("INV-2", 500, issued_on=date(2026, 3, 3)),
            evaluated(after_due(31)),
        )
        assert kinds(then_events(account, paid(1000, after_due(32)))) == ["PaymentReceived"]
        assert account.subscriptions["sub-microsoft"].is_suspended

    def test_access_returns_when_the_next_invoice_is_not_yet_that_overdue(self) -> None:
        """Access returns when the next invoice is not yet that overdue."""
        account = given(
            opened(),
            subscribed(M365),
            invoiced("INV-1", 1000),
            invoiced("INV-2", 500, issued_on=date(2026, 3, 20)),
            evaluated(after_due(30)),
        )
        events = then_events(account, paid(1000, after_due(31)))
        assert kinds(events) == ["PaymentReceived", "AccessReinstated"]


class TestCaseLinks:
    def test_records_the_billing_case_on_the_account(self) -> None:
        """Records the billing case on the account."""
        account = given(opened())
        case_id = uuid4()
        [event] = then_events(account, lambda a: a.link_case(ctx(), case_id, "contoso"))
        assert isinstance(event, BillingAccount.BillingCaseLinked)
        assert account.linked_cases == (case_id,)

    def test_refuses_to_show_the_same_case_twice(self) -> None:
        """Refuses to show the same case twice."""
        case_id = uuid4()
        account = given(opened(), lambda a: a.link_case(ctx(), case_id, "contoso"))
        then_refused(
            account,
            lambda a: a.link_case(ctx(), case_id, "contoso"),
            errors.CaseAlreadyLinkedToAccountError,
        )

    def test_refuses_another_customers_case(self) -> None:
        """Refuses to show another customer's case on the account."""
        account = given(opened())
        then_refused(
            account,
            lambda a: a.link_case(ctx(), uuid4(), "fabrikam"),
            errors.CustomerMismatchError,
        )


def test_due_date_constant_matches_net_thirty() -> None:
    """The scenario's DUE is the first invoice's due date under net 30."""
    account = given(opened(), invoiced())
    assert account.invoices["INV-1"].due_on == DUE
