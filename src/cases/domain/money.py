"""Exact money: a `Decimal` amount in an ISO 4217 currency, never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from cases.domain.errors import CurrencyMismatchError, InvalidValueError

# ISO 4217 minor units for the currencies a partner is likely to bill in.
# Anything not listed is refused rather than guessed.
MINOR_UNITS: dict[str, int] = {
    "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2,
    "CZK": 2, "DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2,
    "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3,
    "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2, "PLN": 2,
    "RON": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2,
    "TWD": 2, "UAH": 2, "USD": 2, "VND": 0, "ZAR": 2,
}  # fmt: skip


def minor_unit_exponent(currency: str) -> Decimal:
    """The quantum of a currency's minor unit, e.g. Decimal('0.01') for EUR."""
    try:
        digits = MINOR_UNITS[currency]
    except KeyError:
        raise InvalidValueError(
            f"unknown currency {currency!r}: use an ISO 4217 code such as EUR or SEK"
        ) from None
    return Decimal(1).scaleb(-digits)


def _decimal(text: str | int | Decimal, what: str) -> Decimal:
    """`text` as a `Decimal`, or an InvalidValueError naming `what` it should be."""
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidValueError(f"{text!r} is not a decimal {what}") from None


# No partner bills a trillion in one line; the bound keeps minor units in 64 bits.
LIMIT = Decimal(10) ** 12


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of one currency, rounded half-up to the currency's minor unit."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise InvalidValueError(
                f"money amounts must be Decimal, not {type(self.amount).__name__}"
            )
        if not self.amount.is_finite():
            raise InvalidValueError(f"money amount {self.amount} is not finite")
        if abs(self.amount) >= LIMIT:
            raise InvalidValueError(
                f"money amount {self.amount} is out of range: amounts are below 10^12"
            )
        quantum = minor_unit_exponent(self.currency)
        try:
            rounded = self.amount.quantize(quantum, rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise InvalidValueError(f"money amount {self.amount} is too large") from None
        object.__setattr__(self, "amount", rounded)

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        return cls(_decimal(amount, "amount"), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> Money:
        """An amount given as a whole count of the currency's minor unit."""
        return cls(Decimal(units).scaleb(-MINOR_UNITS[currency]), currency)

    @property
    def minor_units(self) -> int:
        """The amount as a whole count of its currency's minor unit (exact)."""
        return int(self.amount.scaleb(MINOR_UNITS[self.currency]))

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        return Money(self.amount * factor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount <= other.amount

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    @property
    def is_positive(self) -> bool:
        return self.amount > 0

    @property
    def is_negative(self) -> bool:
        return self.amount < 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


PRICE_DECIMALS = 6
"""A unit price keeps up to this many decimals: the precision of the vendor's
price lists (usage meters are priced to the millionth)."""


@dataclass(frozen=True, slots=True)
class UnitPrice:
    """The price of one unit, exact to the price list's precision (ADR 47).

    Not `Money`: a unit price is never owed by itself, so it is not rounded to the
    currency's minor unit. Only a line's amount is (`times`). It carries at least
    the currency's minor-unit digits (40 EUR is 40.00) and at most PRICE_DECIMALS;
    more is refused, never rounded.
    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise InvalidValueError(f"a unit price must be a finite Decimal, not {self.amount!r}")
        if abs(self.amount) >= LIMIT:
            raise InvalidValueError(
                f"unit price {self.amount} is out of range: amounts are below 10^12"
            )
        quantum = minor_unit_exponent(self.currency)
        exponent = int(self.amount.normalize().as_tuple().exponent)
        if -exponent > PRICE_DECIMALS:
            raise InvalidValueError(
                f"unit price {self.amount} {self.currency} has more than {PRICE_DECIMALS} decimals"
            )
        places = max(-exponent, -int(quantum.as_tuple().exponent))
        object.__setattr__(self, "amount", self.amount.quantize(Decimal(1).scaleb(-places)))

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> UnitPrice:
        return cls(_decimal(amount, "unit price"), currency)

    def times(self, quantity: Decimal) -> Money:
        """`quantity` units: the exact product, rounded half-up to the minor unit once."""
        with localcontext() as exact:
            exact.prec = 60  # 18 digits of price times up to 42 of quantity: exact
            return Money(self.amount * quantity, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
