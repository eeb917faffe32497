"""Unit prices keep the price list's decimals; only a line's amount is rounded
(half-up, to the currency's minor unit, once: ADR 47)."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import pytest
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Mapper
from hypothesis import given
from hypothesis import strategies as st

from cases.domain import billing_commands as bcmd
from cases.domain import errors
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import InvoiceLine
from cases.domain.money import MINOR_UNITS, Money, UnitPrice
from cases.persistence.registry import cases_transcoder
from tests.unit.domain.billing_scenario import OPENED_ON, ctx, march, opened, then_events


def exactly(price: Decimal, quantity: Decimal, currency: str) -> Decimal:
    """The line's amount by hand: the exact product, rounded half-up once."""
    with localcontext() as exact:
        exact.prec = 100
        product = price * quantity
    return product.quantize(Decimal(1).scaleb(-MINOR_UNITS[currency]), rounding=ROUND_HALF_UP)


def test_twelve_thousand_units_at_a_fraction_of_a_cent_are_not_nothing() -> None:
    """The Azure usage line that became 0.00 USD."""
    line = InvoiceLine("Azure usage", Decimal(12_000), UnitPrice.of("0.0043", "USD"))
    assert line.unit_price.amount == Decimal("0.0043")
    assert line.amount == Money.of("51.60", "USD")


@given(
    price=st.decimals(min_value=Decimal("-999.999999"), max_value=Decimal("9999.999999"), places=6)
    .map(lambda d: d.normalize())
    .filter(lambda d: -int(d.as_tuple().exponent) >= 4),
    quantity=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(500_000), places=3),
    currency=st.sampled_from(["USD", "EUR", "SEK", "JPY", "KWD"]),
)
def test_a_usage_line_at_four_to_six_decimals_matches_exact_arithmetic(
    price: Decimal, quantity: Decimal, currency: str
) -> None:
    line = InvoiceLine("Azure usage", quantity, UnitPrice(price, currency))
    assert line.unit_price.amount == price
    assert line.amount == Money(exactly(price, quantity, currency), currency)


def test_half_a_minor_unit_rounds_up_away_from_zero() -> None:
    assert UnitPrice.of("0.005", "EUR").times(Decimal(1)) == Money.of("0.01", "EUR")
    assert UnitPrice.of("-0.005", "EUR").times(Decimal(1)) == Money.of("-0.01", "EUR")
    assert UnitPrice.of("0.0125", "EUR").times(Decimal(2)) == Money.of("0.03", "EUR")


def test_a_unit_price_shows_at_least_the_minor_unit() -> None:
    assert str(UnitPrice.of(40, "EUR")) == "40.00 EUR"
    assert str(UnitPrice.of("0.5", "JPY")) == "0.5 JPY"
    assert str(UnitPrice.of("0.004300", "USD")) == "0.0043 USD"


@pytest.mark.parametrize("amount", ["0.0000001", "1E-7", "NaN", "1000000000000"])
def test_a_unit_price_beyond_the_price_lists_precision_or_range_is_refused(amount: str) -> None:
    with pytest.raises(errors.InvalidValueError):
        UnitPrice.of(amount, "USD")


def test_an_unknown_currency_is_refused() -> None:
    with pytest.raises(errors.InvalidValueError, match="unknown currency"):
        UnitPrice.of("1", "XXX")


# Stored before ADR 47: unit prices were Money ---------------------------------


def _money_priced(line: InvoiceLine) -> InvoiceLine:
    old = replace(line)
    object.__setattr__(old, "unit_price", Money(line.unit_price.amount, line.unit_price.currency))
    return old


def _issued() -> tuple[BillingAccount, BillingAccount.InvoiceIssued]:
    account = opened()
    account.collect_events()
    line = InvoiceLine("Seats", Decimal(25), UnitPrice.of(40, "EUR"))
    [issued] = then_events(
        account,
        lambda a: a.issue_invoice(
            ctx(), bcmd.IssueInvoice("INV-1", march(), (line,), issued_on=OPENED_ON)
        ),
    )
    return account, issued


def test_an_invoice_stored_with_money_unit_prices_reads_back_with_unit_prices() -> None:
    _, issued = _issued()
    transcoder = cases_transcoder()
    mapper: Mapper[Any] = Mapper(transcoder=transcoder)
    stored = mapper.to_stored_event(issued)
    state = transcoder.decode(stored.state)
    del state["class_version"]
    state["lines"] = tuple(_money_priced(line) for line in state["lines"])
    assert type(state["lines"][0].unit_price) is Money
    read: Any = mapper.to_domain_event(replace(stored, state=transcoder.encode(state)))
    [line] = read.lines
    assert line.unit_price == UnitPrice.of(40, "EUR")
    assert line.amount == read.total == Money.of(1000, "EUR")


def test_a_snapshot_taken_with_money_unit_prices_reads_back_with_unit_prices() -> None:
    account, _ = _issued()
    transcoder = cases_transcoder()
    mapper: Mapper[Any] = Mapper(transcoder=transcoder)
    stored = mapper.to_stored_event(Snapshot.take(account))
    state = transcoder.decode(stored.state)
    assert state["state"]["class_version"] == BillingAccount.class_version == 3
    state["state"]["class_version"] = 2
    invoice = state["state"]["invoices"]["INV-1"]
    old = replace(invoice, lines=tuple(_money_priced(line) for line in invoice.lines))
    state["state"]["invoices"]["INV-1"] = old
    read: Any = mapper.to_domain_event(replace(stored, state=transcoder.encode(state)))
    restored = read.mutate(None)
    assert restored.invoices["INV-1"].lines[0].unit_price == UnitPrice.of(40, "EUR")
    assert restored.invoices["INV-1"] == account.invoices["INV-1"]
