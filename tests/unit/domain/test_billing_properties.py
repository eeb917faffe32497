"""Properties of billing accounts under random histories, no database.

Each example is a random sequence of invoices, payments, credit notes,
write-offs, disputes and collection runs at increasing moments. Refused
commands are part of the sequence: they must record nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import hypothesis
import pytest
from eventsourcing.persistence import Mapper
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.domain import billing_commands as bcmd
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import DisputeOutcome
from cases.domain.collection_policy import PublishedPolicy
from cases.domain.errors import DomainError
from cases.persistence.registry import cases_transcoder
from tests.unit.domain.billing_scenario import (
    DYNAMICS,
    M365,
    SCHEDULER,
    T0,
    ctx,
    eur,
    line,
    march,
    opened,
    standard_policy,
)

pytestmark = pytest.mark.slow


def _euros(low: int, high: int) -> st.SearchStrategy[Any]:
    """Amounts in whole cents from `low` to `high` euros."""
    return st.integers(low * 100, high * 100).map(lambda c: eur(Decimal(c).scaleb(-2)))


cents = _euros(0, 1500).filter(lambda m: m.is_positive)
charges = _euros(100, 6000)
pick = st.integers(min_value=0, max_value=50)


@dataclass(frozen=True)
class Op:
    kind: str
    args: tuple[Any, ...] = ()


ops = st.one_of(
    st.builds(lambda d, h: Op("advance", (d, h)), st.integers(0, 20), st.integers(0, 23)),
    st.builds(
        lambda amount, due: Op("invoice", (amount, due)),
        charges,
        st.none() | st.integers(0, 45),
    ),
    st.builds(lambda amount: Op("invoice", (amount, None)), charges),
    st.builds(lambda amount, i: Op("pay", (amount, i)), cents, st.none() | pick),
    st.builds(lambda i: Op("settle", (i,)), pick),
    st.builds(lambda amount, i: Op("credit", (amount, i)), cents, pick),
    st.builds(lambda amount, i: Op("write_off", (amount, i)), cents, pick),
    st.builds(lambda i: Op("dispute", (i,)), pick),
    st.builds(lambda i: Op("close_dispute", (i,)), pick),
    st.just(Op("evaluate")),
    st.just(Op("evaluate")),
    st.just(Op("evaluate")),
)


class History:
    """Runs ops against one account, checking what every step must keep true."""

    def __init__(self, policy: PublishedPolicy) -> None:
        self.policy = policy
        self.now = T0
        self.account = opened(net_days=14)
        self.account.add_subscription(
            ctx(T0), bcmd.AddSubscription(subscription_id="m365", product=M365, quantity=25)
        )
        self.account.add_subscription(
            ctx(T0),
            bcmd.AddSubscription(
                subscription_id="dyn",
                product=DYNAMICS,
                quantity=5,
                paid_through=T0.date() + timedelta(days=60),
            ),
        )
        self.events: list[Any] = list(self.account.collect_events())
        self.numbers = 0

    @property
    def today(self) -> date:
        return self.now.date()

    def invoice_number(self, index: int | None) -> str:
        numbers = list(self.account.invoices) or ["INV-none"]
        return numbers[(index or 0) % len(numbers)]

    def run(self, op: Op) -> None:
        if op.kind == "advance":
            days, hours = op.args
            self.now += timedelta(days=days, hours=hours)
            return
        version = self.account.version
        try:
            self.command(op)
        except DomainError:
            assert self.account.pending_events == []
            assert self.account.version == version
            return
        self.events += self.account.collect_events()
        if op.kind == "evaluate":
            self.evaluate_again_records_nothing()

    def command(self, op: Op) -> None:
        account, c = self.account, ctx(self.now)
        if op.kind == "invoice":
            amount, due_in = op.args
            self.numbers += 1
            account.issue_invoice(
                c,
                bcmd.IssueInvoice(
                    number=f"INV-{self.numbers}",
                    period=march(),
                    lines=(line(amount.amount),),
                    issued_on=self.today,
                    due_on=None if due_in is None else self.today + timedelta(days=due_in),
                ),
            )
        elif op.kind == "pay":
            amount, index = op.args
            self.numbers += 1
            account.receive_payment(
                c,
                bcmd.ReceivePayment(
                    reference=f"BANK-{self.numbers}",
                    amount=amount,
                    received_on=self.today,
                    invoice_number=None if index is None else self.invoice_number(index),
                ),
            )
        elif op.kind == "settle":  # pays exactly what one invoice has outstanding
            self.numbers += 1
            invoice = account.invoice(self.invoice_number(op.args[0]))
            account.receive_payment(
                c,
                bcmd.ReceivePayment(
                    reference=f"BANK-{self.numbers}",
                    amount=invoice.outstanding,
                    received_on=self.today,
                    invoice_number=invoice.number,
                ),
            )
        elif op.kind == "credit":
            amount, index = op.args
            self.numbers += 1
            account.issue_credit_note(
                c,
                bcmd.IssueCreditNote(
                    number=f"CN-{self.numbers}",
                    invoice_number=self.invoice_number(index),
                    amount=amount,
                    reason="Goodwill",
                ),
            )
        elif op.kind == "write_off":
            amount, index = op.args
            account.write_off(
                c,
                bcmd.WriteOff(
                    invoice_number=self.invoice_number(index), amount=amount, reason="Bad debt"
                ),
            )
        elif op.kind == "dispute":
            account.open_dispute(c, bcmd.OpenDispute(self.invoice_number(op.args[0]), "Disputed"))
        elif op.kind == "close_dispute":
            account.close_dispute(
                c,
                bcmd.CloseDispute(
                    self.invoice_number(op.args[0]), DisputeOutcome.REJECTED, "Checked"
                ),
            )
        else:
            account.evaluate(ctx(self.now, SCHEDULER), self.policy, self.now)

    def evaluate_again_records_nothing(self) -> None:
        self.account.evaluate(ctx(self.now, SCHEDULER), self.policy, self.now)
        assert self.account.pending_events == []

    # What must always hold ------------------------------------------------

    def check_balance(self) -> None:
        def total(kind: type[Any], field: str = "amount") -> Any:
            amounts = (getattr(e, field) for e in self.events if isinstance(e, kind))
            return sum(amounts, eur(0))

        charges = total(BillingAccount.InvoiceIssued, "total")
        payments = total(BillingAccount.PaymentReceived)
        credits = total(BillingAccount.CreditNoteIssued)
        write_offs = total(BillingAccount.WrittenOff)
        account = self.account
        assert account.balance == charges - payments - credits - write_offs
        outstanding = sum((i.outstanding for i in account.invoices.values()), eur(0))
        assert account.balance == outstanding - account.credit_balance
        assert not account.credit_balance.is_negative
        assert all(not i.outstanding.is_negative for i in account.invoices.values())

    def check_suspensions_are_backed(self) -> None:
        """A suspended subscription has an invoice overdue past its stage behind it."""
        worst = max(
            (
                i.days_overdue(self.today)
                for i in self.account.invoices.values()
                if i.is_collectible
            ),
            default=None,
        )
        for subscription in self.account.subscriptions.values():
            if subscription.is_suspended:
                assert subscription.suspended_at_days is not None
                assert worst is not None
                assert worst >= subscription.suspended_at_days

    def check_no_stage_skipped(self) -> None:
        """Per invoice, the stages entered are the policy's first k, in order."""
        days = [s.days for s in self.policy.terms.stages]
        for invoice in self.account.invoices.values():
            entered = list(invoice.stages_entered)
            assert entered == days[: len(entered)]
        anchor = self.account.anchor
        last_run = next(
            (e for e in reversed(self.events) if isinstance(e, BillingAccount.StageEntered)),
            None,
        )
        if anchor is not None and last_run is not None and last_run.invoice_number == anchor.number:
            due = [d for d in days if d <= last_run.days_overdue]
            assert list(anchor.stages_entered[: len(due)]) == due

    def check_replay(self) -> None:
        """Replaying the stored events, through the transcoder, rebuilds equal state."""
        mapper: Mapper[Any] = Mapper(transcoder=cases_transcoder())
        replayed: Any = None
        for event in self.events:
            stored = mapper.to_stored_event(event)
            decoded: Any = mapper.to_domain_event(stored)
            replayed = decoded.mutate(replayed)
        assert _state(replayed) == _state(self.account)


def _state(account: BillingAccount) -> dict[str, Any]:
    return {k: v for k, v in vars(account).items() if k != "_pending_events"}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    steps=st.lists(st.tuples(st.integers(0, 12), ops), min_size=10, max_size=60),
    spare=st.booleans(),
    products=st.sampled_from([(), (DYNAMICS,)]),
)
def test_every_history_keeps_the_books_and_collection_straight(
    steps: list[tuple[int, Op]], spare: bool, products: tuple[str, ...]
) -> None:
    """Balance is charges less payments, credits and write-offs; every suspension
    is backed by an invoice overdue past its stage; evaluation is idempotent and
    skips no stage; replay rebuilds the same state."""
    history = History(standard_policy(spare_paid_in_advance=spare, products=products))
    for days_later, op in steps:
        history.run(Op("advance", (days_later, 1)))
        history.run(op)
        history.check_balance()
        history.check_suspensions_are_backed()
        history.check_no_stage_skipped()
    history.check_replay()
    for kind in sorted({type(e).__name__ for e in history.events}):
        hypothesis.event(kind)


@settings(max_examples=60, deadline=None)
@given(
    amounts=st.lists(cents, min_size=2, max_size=6),
    gaps=st.lists(st.integers(8, 40), min_size=2, max_size=6),
    run_every=st.integers(1, 10),
)
def test_collection_enters_every_stage_of_every_invoice_it_follows(
    amounts: list[Any], gaps: list[int], run_every: int
) -> None:
    """With daily-ish runs and invoices settled one by one, each invoice that
    was followed past a stage's day entered that stage."""
    history = History(standard_policy())
    for amount in amounts:
        history.run(Op("invoice", (amount, None)))
        history.run(Op("advance", (1, 0)))
    for gap in gaps:
        for _ in range(0, gap, run_every):
            history.run(Op("advance", (run_every, 0)))
            history.run(Op("evaluate"))
            history.check_no_stage_skipped()
        oldest = history.account.anchor
        if oldest is not None:
            history.run(Op("pay", (oldest.outstanding, None)))
        history.check_suspensions_are_backed()
    entered = [e for e in history.events if isinstance(e, BillingAccount.StageEntered)]
    assert entered, "collection followed at least the first invoice"
    history.check_replay()


def test_the_replay_check_notices_a_lost_event() -> None:
    """Replay compares real state: drop one payment and it no longer matches."""
    history = History(standard_policy())
    history.run(Op("invoice", (eur(100), None)))
    history.run(Op("pay", (eur(40), None)))
    history.check_replay()
    history.events = history.events[:-1]
    with pytest.raises(AssertionError):
        history.check_replay()
