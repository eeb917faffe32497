"""Audit metadata and exact money."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cases.domain import errors
from cases.domain.metadata import Actor, CommandContext, Role, Source
from cases.domain.money import Money
from cases.domain.text import known_zone

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def context(
    *, occurred_at: datetime = NOW, correlation_id: str = "req-1", causation_id: str | None = None
) -> CommandContext:
    return CommandContext(
        actor=Actor("agent-anna", Role.HELPDESK_AGENT),
        occurred_at=occurred_at,
        recorded_at=NOW,
        correlation_id=correlation_id,
        source=Source.API,
        causation_id=causation_id,
    )


class TestCommandContext:
    def test_metadata_carries_everything_but_the_recording_moment(self) -> None:
        meta = context(occurred_at=NOW - timedelta(hours=2), causation_id="evt-9").metadata
        assert meta.occurred_at == NOW - timedelta(hours=2)
        assert (meta.correlation_id, meta.causation_id) == ("req-1", "evt-9")
        assert meta.source is Source.API

    def test_refuses_naive_moments(self) -> None:
        with pytest.raises(errors.InvalidMetadataError, match="time zone"):
            context(occurred_at=datetime(2026, 3, 2, 8, 0))  # noqa: DTZ001

    def test_refuses_an_act_recorded_before_it_happened(self) -> None:
        with pytest.raises(errors.InvalidMetadataError, match="later than recorded_at"):
            context(occurred_at=NOW + timedelta(seconds=1))

    def test_refuses_a_blank_actor_or_correlation(self) -> None:
        with pytest.raises(errors.InvalidMetadataError):
            Actor(" ", Role.AUDITOR)
        with pytest.raises(errors.InvalidMetadataError):
            context(correlation_id="")


class TestMoney:
    @pytest.mark.parametrize(
        ("amount", "currency", "expected"),
        [
            ("10.005", "EUR", Decimal("10.01")),
            ("10.004", "EUR", Decimal("10.00")),
            ("-2.5", "JPY", Decimal("-3")),
            ("1.2345", "KWD", Decimal("1.235")),
            ("7", "SEK", Decimal("7.00")),
        ],
    )
    def test_rounds_half_up_to_the_minor_unit(
        self, amount: str, currency: str, expected: Decimal
    ) -> None:
        assert Money.of(amount, currency).amount == expected
        assert str(Money.of(amount, currency).amount) == str(expected)

    def test_adds_and_subtracts_exactly(self) -> None:
        total = Money.of("0.10", "EUR") + Money.of("0.20", "EUR") - Money.of("0.30", "EUR")
        assert total.is_zero

    def test_refuses_mixing_currencies(self) -> None:
        with pytest.raises(errors.CurrencyMismatchError):
            Money.of("1", "EUR") + Money.of("1", "SEK")

    def test_refuses_floats_unknown_currencies_and_non_numbers(self) -> None:
        with pytest.raises(errors.InvalidValueError):
            # Deliberately a float: Money refuses it.
            Money(0.1, "EUR")  # type: ignore[arg-type]
        with pytest.raises(errors.InvalidValueError, match="ISO 4217"):
            Money.of("1", "XYZ")
        with pytest.raises(errors.InvalidValueError, match="not a decimal"):
            Money.of("ten", "EUR")
        with pytest.raises(errors.InvalidValueError, match="not finite"):
            Money.of("NaN", "EUR")


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [("12.34", "EUR", 1234), ("-0.05", "SEK", -5), ("1500", "JPY", 1500), ("1.235", "KWD", 1235)],
)
def test_minor_units_round_trip_exactly(amount: str, currency: str, units: int) -> None:
    """Read models store whole minor units; converting back loses nothing."""
    money = Money.of(amount, currency)
    assert money.minor_units == units
    assert Money.from_minor_units(units, currency) == money


def test_amounts_are_bounded() -> None:
    """Amounts stay below 10^12, so minor units always fit the read models' 64 bits."""
    assert Money.of("999999999999.99", "EUR").minor_units == 99_999_999_999_999
    with pytest.raises(errors.InvalidValueError, match="out of range"):
        Money.of("1000000000000", "EUR")


@pytest.mark.parametrize("zone", ["Europe", "Mars/Olympus", "../etc", ""])
def test_unknown_time_zones_are_a_domain_error(zone: str) -> None:
    with pytest.raises(errors.InvalidValueError, match="unknown time zone"):
        known_zone(zone)
