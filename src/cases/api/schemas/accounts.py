"""Request and response shapes of billing accounts, receivables and collection runs.

Money is `{"amount": "123.45", "currency": "EUR"}`: the amount a decimal *string*
(a JSON number would pass through a float somewhere), with no more decimals than
the currency's minor unit; days are `YYYY-MM-DD`; moments carry a UTC offset
(ADR 0016).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Self
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cases.api.schemas.common import AwareDatetime, Day, Strict, example, fields_of
from cases.application.billing_office import Evaluation
from cases.application.collection_run import CollectionSummary
from cases.domain.billing_account import MAX_NET_DAYS, BillingAccount
from cases.domain.billing_values import (
    BillingPeriod,
    DisputeOutcome,
    Invoice,
    InvoiceLine,
    InvoicePeriod,
    Subscription,
    SubscriptionPrice,
)
from cases.domain.money import MINOR_UNITS, PRICE_DECIMALS, Money, UnitPrice
from cases.projections.account_standing import AccountStanding
from cases.projections.receivables import AgingRow, Receivable

# Representations -------------------------------------------------------------

# Below a trillion: the read models keep sums of minor units in 64-bit integers.
AMOUNT_LIMIT = Decimal(10) ** 12
# ASCII digits only: `\d` matches any Unicode digit here, and Decimal reads them all.
_AMOUNT = r"^-?(0|[1-9][0-9]{0,11})(\.[0-9]+)?$"
_QUANTITY = r"^(0|[1-9][0-9]{0,8})(\.[0-9]{1,6})?$"


def _known_currency(code: str) -> str:
    if code not in MINOR_UNITS:
        raise ValueError(f"unknown currency {code!r}: use an ISO 4217 code such as EUR or SEK")
    return code


Currency = Annotated[
    str,
    Field(pattern=r"^[A-Z]{3}$", examples=["EUR"], description="ISO 4217 code."),
    AfterValidator(_known_currency),
]


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a directory
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Stockholm"
        ) from None
    return name


TimeZone = Annotated[
    str,
    Field(min_length=1, max_length=64, examples=["Europe/Stockholm"]),
    AfterValidator(_known_zone),
]


def _exact_quantity(value: object) -> object:
    """A quantity is a JSON integer or a decimal string: a float is refused."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError(
            "quantity_type", 'a quantity is an integer or a decimal string such as "2.5"'
        )
    if isinstance(value, str) and not re.fullmatch(_QUANTITY, value):
        raise ValueError('a quantity is a decimal string such as "2.5" (at most 6 decimals)')
    return value


Quantity = Annotated[
    Decimal,
    BeforeValidator(_exact_quantity, json_schema_input_type=int | str),
    Field(gt=0, examples=[40, "7.5"]),
]

InvoiceNumber = Annotated[str, Field(min_length=1, max_length=50, examples=["F-2001"])]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


class Reasoned(Strict):
    # A body whose one field says why: the hand commands that need nothing else.
    reason: Reason


class MoneyIn(Strict):
    """An exact amount below a trillion: a decimal string with at most the currency's
    minor-unit decimals ("12.5" is 12.50 EUR; "12.345" EUR is refused, not rounded)."""

    # The amount is taken as written: " 5.00" does not match the published pattern.
    model_config = ConfigDict(str_strip_whitespace=False)

    amount: str = Field(pattern=_AMOUNT, max_length=40, examples=["3125.00"])
    currency: Currency

    @model_validator(mode="after")
    def _fits_minor_unit(self) -> Self:
        digits = MINOR_UNITS[self.currency]
        decimals = len(self.amount.partition(".")[2])
        if decimals > digits:
            raise ValueError(
                f"{self.currency} amounts have at most {digits} decimals; "
                f"{self.amount} has {decimals}"
            )
        return self

    def domain_value(self) -> Money:
        return Money(Decimal(self.amount), self.currency)


class PositiveMoneyIn(MoneyIn):
    """An exact amount above zero."""

    @model_validator(mode="after")
    def _above_zero(self) -> Self:
        if Decimal(self.amount) <= 0:
            raise ValueError(f"the amount must be above zero, not {self.amount}")
        return self


class UnitPriceIn(Strict):
    """A unit price: a decimal string with up to six decimals, kept exact (usage
    meters are priced to the millionth: "0.0043" USD). Only the line's amount is
    rounded, half-up to the currency's minor unit (ADR 47)."""

    model_config = ConfigDict(str_strip_whitespace=False)

    amount: str = Field(pattern=_AMOUNT, max_length=40, examples=["460.00", "0.0043"])
    currency: Currency

    @model_validator(mode="after")
    def _fits_price_list(self) -> Self:
        decimals = len(self.amount.partition(".")[2])
        if decimals > PRICE_DECIMALS:
            raise ValueError(
                f"unit prices have at most {PRICE_DECIMALS} decimals; {self.amount} has {decimals}"
            )
        return self

    def domain_value(self) -> UnitPrice:
        return UnitPrice(Decimal(self.amount), self.currency)


class UnitPriceOut(BaseModel):
    """A unit price as the price list gives it: at least the currency's minor-unit
    decimals, at most six."""

    amount: str = Field(examples=["460.00", "0.0043"])
    currency: str = Field(examples=["EUR"])

    @classmethod
    def of(cls, price: UnitPrice) -> UnitPriceOut:
        return cls(amount=f"{price.amount:f}", currency=price.currency)


class MoneyOut(BaseModel):
    """An exact amount, always with the currency's minor-unit decimals."""

    amount: str = Field(examples=["3125.00"])
    currency: str = Field(examples=["EUR"])

    @classmethod
    def of(cls, money: Money) -> MoneyOut:
        return cls(amount=f"{money.amount:f}", currency=money.currency)

    @classmethod
    def amount_of(cls, amount: Decimal, currency: str) -> MoneyOut:
        return cls.of(Money(amount, currency))

    @classmethod
    def amounts_of(
        cls, source: object, currency: str | None, names: tuple[str, ...]
    ) -> dict[str, MoneyOut]:
        """The `names` attributes of `source` by name, each as money: an amount in
        `currency`, or (`currency` None) a `Money` of its own."""
        if currency is None:
            return {name: cls.of(getattr(source, name)) for name in names}
        return {name: cls.amount_of(getattr(source, name), currency) for name in names}


# Commands --------------------------------------------------------------------


class OpenAccount(Strict):
    customer_id: str = Field(min_length=1, max_length=100)
    currency: Currency
    net_days: int = Field(ge=0, le=MAX_NET_DAYS, description="Payment terms: net N days.")
    billing_period: BillingPeriod
    time_zone: TimeZone = Field(
        default="UTC", description="The zone whose calendar days collection counts in."
    )

    model_config = example(
        {
            "customer_id": "fabrikam",
            "currency": "SEK",
            "net_days": 14,
            "billing_period": "monthly",
            "time_zone": "Europe/Stockholm",
        }
    )


class AddSubscription(Strict):
    subscription_id: str = Field(min_length=1, max_length=100, examples=["sub-bp-40"])
    product: str = Field(min_length=1, max_length=200)
    quantity: int = Field(ge=1, le=1_000_000)
    paid_through: Day | None = Field(default=None, description="Last day paid in advance.")

    model_config = example(
        {
            "subscription_id": "sub-bp-40",
            "product": "Microsoft 365 Business Premium",
            "quantity": 40,
        }
    )


class ChangeQuantity(Strict):
    quantity: int = Field(ge=1, le=1_000_000, description="The new number of seats or licences.")
    reason: Reason

    model_config = example({"quantity": 45, "reason": "Five new starters in May."})


class CancelSubscription(Strict):
    reason: Reason
    effective_on: Day | None = Field(
        default=None,
        description="The first day without the subscription (not before today); default today.",
    )

    model_config = example({"reason": "Moving to Microsoft 365 E3.", "effective_on": "2026-06-01"})


class Prepayment(Strict):
    paid_through: Day

    model_config = example({"paid_through": "2027-03-01"})


class PeriodIn(Strict):
    starts_on: Day
    ends_on: Day

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        if self.ends_on < self.starts_on:
            raise ValueError(f"the period ends ({self.ends_on}) before it starts")
        return self

    def domain_value(self) -> InvoicePeriod:
        return InvoicePeriod(self.starts_on, self.ends_on)


class InvoiceLineIn(Strict):
    description: str = Field(min_length=1, max_length=500)
    quantity: Quantity
    unit_price: UnitPriceIn = Field(
        description="Negative for a discount line. Up to six decimals, kept exact; the "
        "line's amount is quantity x unit price rounded half-up to the minor unit."
    )

    def domain_value(self) -> InvoiceLine:
        return InvoiceLine(self.description, self.quantity, self.unit_price.domain_value())


class Invoicing(Strict):
    # What every invoice is asked with; how its lines are made is the subclass's.
    number: InvoiceNumber
    period: PeriodIn
    issued_on: Day
    due_on: Day | None = Field(default=None, description="Default: issued_on + net days.")


class IssueInvoice(Invoicing):
    lines: list[InvoiceLineIn] = Field(min_length=1, max_length=200)

    model_config = example(
        {
            "number": "F-2001",
            "period": {"starts_on": "2026-03-01", "ends_on": "2026-03-31"},
            "lines": [
                {
                    "description": "Microsoft 365 Business Premium, March",
                    "quantity": 40,
                    "unit_price": {"amount": "460.00", "currency": "SEK"},
                }
            ],
            "issued_on": "2026-03-02",
        }
    )

    @field_validator("lines")
    @classmethod
    def _total_in_range(cls, lines: list[InvoiceLineIn]) -> list[InvoiceLineIn]:
        total = sum((Decimal(line.unit_price.amount) * line.quantity for line in lines), Decimal(0))
        if abs(total) >= AMOUNT_LIMIT:
            raise ValueError(f"an invoice total must be below {AMOUNT_LIMIT:,f} in magnitude")
        return lines


class SubscriptionPriceIn(Strict):
    subscription_id: str = Field(min_length=1, max_length=100, examples=["sub-bp-40"])
    unit_price: UnitPriceIn = Field(description="The price of one seat or licence for the period.")

    def domain_value(self) -> SubscriptionPrice:
        return SubscriptionPrice(self.subscription_id, self.unit_price.domain_value())


class InvoiceSubscriptions(Invoicing):
    prices: list[SubscriptionPriceIn] = Field(min_length=1, max_length=200)

    model_config = example(
        {
            "number": "F-2003",
            "period": {"starts_on": "2026-05-01", "ends_on": "2026-05-31"},
            "prices": [
                {
                    "subscription_id": "sub-bp-40",
                    "unit_price": {"amount": "460.00", "currency": "SEK"},
                }
            ],
            "issued_on": "2026-05-01",
        }
    )


class ReceivePayment(Strict):
    reference: str = Field(min_length=1, max_length=100, examples=["BG-77120"])
    amount: PositiveMoneyIn
    received_on: Day
    invoice_number: InvoiceNumber | None = Field(
        default=None, description="The invoice it pays first; then the oldest."
    )

    model_config = example(
        {
            "reference": "BG-77120",
            "amount": {"amount": "9200.00", "currency": "SEK"},
            "received_on": "2026-03-20",
        }
    )


class IssueCreditNote(Strict):
    number: str = Field(min_length=1, max_length=50, examples=["CN-0001"])
    invoice_number: InvoiceNumber
    amount: PositiveMoneyIn
    reason: Reason

    model_config = example(
        {
            "number": "CN-0001",
            "invoice_number": "F-2001",
            "amount": {"amount": "460.00", "currency": "SEK"},
            "reason": "One seat billed twice",
        }
    )


class WriteOff(Strict):
    invoice_number: InvoiceNumber
    amount: PositiveMoneyIn
    reason: Reason

    model_config = example(
        {
            "invoice_number": "F-2001",
            "amount": {"amount": "0.50", "currency": "SEK"},
            "reason": "Rounding difference not worth chasing",
        }
    )


class OpenDispute(Reasoned):
    model_config = example({"reason": "Customer says March is double-counted."})


class CloseDispute(Strict):
    outcome: DisputeOutcome
    note: Reason

    model_config = example({"outcome": "rejected", "note": "Usage report confirms the seats."})


# Access and collection by hand (ADR 47) --------------------------------------


class SuspendAccess(Reasoned):
    model_config = example({"reason": "Card reported stolen; customer asked."})


class ReinstateAccess(Reasoned):
    model_config = example({"reason": "Payment confirmed by the bank by phone."})


class HoldCollection(Strict):
    until: Day
    reason: Reason

    model_config = example({"until": "2026-04-30", "reason": "Promised to pay by end of April."})


class Evaluate(Strict):
    as_of: AwareDatetime | None = Field(
        default=None, description="The moment to evaluate at (not in the future); default now."
    )

    model_config = example({"as_of": "2026-04-01T06:00:00+02:00"})


class StartCollectionRun(Evaluate):
    pass


# Responses -------------------------------------------------------------------


class AccountStandingOut(BaseModel):
    """An account's standing, from the account-standing read model."""

    id: UUID
    customer_id: str
    currency: str
    balance: MoneyOut = Field(description="What the customer owes; negative when in credit.")
    credit: MoneyOut = Field(description="Unapplied account credit.")
    overdue: MoneyOut = Field(description="Past due and undisputed on `overdue_as_of`.")
    overdue_as_of: date = Field(description="The day of the account's last event.")
    overdue_on: bool = Field(description="Whether anything is past due on the day asked about.")
    oldest_unpaid_invoice: str | None
    oldest_unpaid_due_on: date | None
    stage_days: int | None = Field(description="The last collection stage that invoice entered.")
    stage_invoice: str | None
    suspended_subscriptions: list[str]
    last_reminder_kind: str | None
    last_reminder_at: datetime | None
    policy_version: int | None
    version: int

    @classmethod
    def of(cls, standing: AccountStanding, day: date) -> AccountStandingOut:
        return fields_of(
            cls,
            standing,
            id=standing.account_id,
            overdue_on=standing.is_overdue_on(day),
            **MoneyOut.amounts_of(standing, standing.currency, ("balance", "credit", "overdue")),
        )


class AccountPage(BaseModel):
    items: list[AccountStandingOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class ReceivableOut(BaseModel):
    """One invoice as the receivables read model knows it."""

    invoice_number: str
    issued_on: date
    due_on: date
    total: MoneyOut
    open: MoneyOut
    disputed: bool
    settled_on: date | None

    @classmethod
    def of(cls, receivable: Receivable) -> ReceivableOut:
        currency = receivable.currency
        return fields_of(
            cls,
            receivable,
            total=MoneyOut.amount_of(receivable.total, currency),
            open=MoneyOut.amount_of(receivable.open_amount, currency),
        )


class QuantityChangeOut(BaseModel):
    effective_on: date
    previous: int
    quantity: int


class SubscriptionOut(BaseModel):
    subscription_id: str
    product: str
    quantity: int
    paid_through: date | None
    access: str
    suspended_at_days: int | None
    cancelled_on: date | None = Field(description="The first day without it, once cancelled.")
    quantity_changes: list[QuantityChangeOut]

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionOut:
        return fields_of(
            cls,
            subscription,
            quantity_changes=[fields_of(QuantityChangeOut, c) for c in subscription.changes],
        )


class InvoiceLineOut(BaseModel):
    description: str
    quantity: str
    unit_price: UnitPriceOut
    amount: MoneyOut


class PeriodOut(BaseModel):
    starts_on: date
    ends_on: date


class InvoiceOut(BaseModel):
    number: str
    period: PeriodOut
    lines: list[InvoiceLineOut]
    total: MoneyOut
    issued_on: date
    due_on: date
    settled: MoneyOut
    credited: MoneyOut
    written_off: MoneyOut
    outstanding: MoneyOut
    disputed: bool
    stages_entered: list[int]

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        return fields_of(
            cls,
            invoice,
            period=fields_of(PeriodOut, invoice.period),
            lines=[
                InvoiceLineOut(
                    description=line.description,
                    quantity=f"{line.quantity:f}",
                    unit_price=UnitPriceOut.of(line.unit_price),
                    amount=MoneyOut.of(line.amount),
                )
                for line in invoice.lines
            ],
            **MoneyOut.amounts_of(
                invoice, None, ("total", "settled", "credited", "written_off", "outstanding")
            ),
        )


class AccountState(BaseModel):
    """The account as its events make it, at its latest version or an earlier one."""

    id: UUID
    version: int
    customer_id: str
    currency: str
    net_days: int
    billing_period: str
    time_zone: str
    balance: MoneyOut
    charged: MoneyOut
    paid: MoneyOut
    credited: MoneyOut
    written_off: MoneyOut
    credit_balance: MoneyOut
    oldest_unpaid_invoice: str | None
    subscriptions: list[SubscriptionOut]
    invoices: list[InvoiceOut]
    payment_references: list[str]
    credit_note_numbers: list[str]
    linked_cases: list[UUID]

    @classmethod
    def of(cls, account: BillingAccount) -> AccountState:
        anchor = account.anchor
        return fields_of(
            cls,
            account,
            oldest_unpaid_invoice=anchor.number if anchor else None,
            subscriptions=[SubscriptionOut.of(s) for s in account.subscriptions.values()],
            invoices=[InvoiceOut.of(i) for i in account.invoices.values()],
            **MoneyOut.amounts_of(
                account,
                None,
                ("balance", "charged", "paid", "credited", "written_off", "credit_balance"),
            ),
        )


class EvaluationOut(BaseModel):
    """What evaluating one account recorded (nothing, when nothing was due)."""

    id: UUID = Field(description="The account.")
    customer_id: str
    as_of: datetime
    stages_entered: list[int]
    reminders: list[str]
    suspended: list[str]
    reinstated: list[str]
    version: int = Field(description="The account's version now; its ETag.")
    position: int = Field(
        description="A log position at or after what was recorded: pass it as `min_position`."
    )

    @classmethod
    def of(
        cls, evaluation: Evaluation, as_of: datetime, version: int, position: int
    ) -> EvaluationOut:
        return fields_of(
            cls,
            evaluation,
            id=evaluation.account_id,
            as_of=as_of,
            version=version,
            position=position,
        )


class ActedOnOut(BaseModel):
    id: UUID = Field(description="The account.")
    customer_id: str
    stages_entered: list[int]
    reminders: list[str]
    suspended: list[str]
    reinstated: list[str]


class FailureOut(BaseModel):
    id: UUID = Field(description="The account.")
    rule: str
    message: str


class CollectionRunOut(BaseModel):
    """What one collection run did, with totals per kind of action."""

    as_of: datetime
    policy_version: int
    evaluated: int = Field(description="Accounts evaluated.")
    acted_on_count: int = Field(description="Accounts on which something was recorded.")
    stages_entered: int
    reminders: int
    suspensions: int
    reinstatements: int
    failed: int
    acted_on: list[ActedOnOut]
    failures: list[FailureOut]
    position: int = Field(
        description="A log position at or after what was recorded: pass it as `min_position`."
    )

    @classmethod
    def of(cls, summary: CollectionSummary, position: int) -> CollectionRunOut:
        return fields_of(
            cls,
            summary,
            acted_on_count=len(summary.acted_on),
            failed=len(summary.failures),
            acted_on=[fields_of(ActedOnOut, e, id=e.account_id) for e in summary.acted_on],
            failures=[fields_of(FailureOut, f, id=f.aggregate_id) for f in summary.failures],
            position=position,
        )


class AgingRowOut(BaseModel):
    """Open amounts of one currency by days past due. Disputed invoices count in
    `disputed` only; `total` is everything open."""

    currency: str
    current: MoneyOut = Field(description="Not yet past due.")
    days_1_30: MoneyOut
    days_31_60: MoneyOut
    days_61_90: MoneyOut
    days_over_90: MoneyOut
    disputed: MoneyOut
    total: MoneyOut

    @classmethod
    def of(cls, row: AgingRow) -> AgingRowOut:
        def money(amount: Decimal) -> MoneyOut:
            return MoneyOut.amount_of(amount, row.currency)

        return cls(
            currency=row.currency,
            current=money(row.current),
            days_1_30=money(row.d1_30),
            days_31_60=money(row.d31_60),
            days_61_90=money(row.d61_90),
            days_over_90=money(row.d90_plus),
            disputed=money(row.disputed),
            total=money(row.total),
        )


class AgingOut(BaseModel):
    as_of: date
    currencies: list[AgingRowOut]
