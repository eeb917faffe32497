"""The partner's collection policy: stages of chasing an unpaid invoice, versioned.

A stage is keyed on days relative to the due date of the account's oldest
unpaid, undisputed invoice: -7 reminds of an upcoming payment, +30 may suspend
access. A policy version is immutable once published; the account's events
record the version that governed each step. `describe_policy` renders a
version as the prose customers are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from cases.domain import errors
from cases.domain.audited import AuditedAggregate
from cases.domain.identity import derived_id
from cases.domain.metadata import CommandContext
from cases.domain.text import required_text
from cases.domain.versions import Refusals, Versions

EARLIEST_STAGE = -90
LATEST_STAGE = 365


class StageAction(StrEnum):
    """What collection does when an account enters a stage."""

    UPCOMING_PAYMENT_REMINDER = "upcoming_payment_reminder"
    OVERDUE_REMINDER = "overdue_reminder"
    FINAL_WARNING = "final_warning"
    SUSPEND_ACCESS = "suspend_access"

    @property
    def is_notice(self) -> bool:
        return self is not StageAction.SUSPEND_ACCESS


@dataclass(frozen=True, slots=True)
class CollectionStage:
    """One step of collection, `days` after the due date (negative: before it).

    A suspension names the products it suspends; none named means all.
    """

    days: int
    action: StageAction
    products: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not EARLIEST_STAGE <= self.days <= LATEST_STAGE:
            raise errors.InvalidValueError(
                f"a stage is {EARLIEST_STAGE} to {LATEST_STAGE} days from the due date"
            )
        upcoming = self.action is StageAction.UPCOMING_PAYMENT_REMINDER
        if upcoming and self.days > 0:
            raise errors.StageTimingError(
                "an upcoming-payment reminder comes on or before the due date"
            )
        if not upcoming and self.days < 1:
            raise errors.StageTimingError(
                f"a {self.action.value.replace('_', ' ')} comes after the due date"
            )
        if self.products and self.action is not StageAction.SUSPEND_ACCESS:
            raise errors.InvalidValueError("only a suspension names products")
        products = tuple(dict.fromkeys(required_text("product", p, 200) for p in self.products))
        object.__setattr__(self, "products", products)

    def targets(self, product: str) -> bool:
        folded = product.casefold()
        return not self.products or any(p.casefold() == folded for p in self.products)


@dataclass(frozen=True, slots=True)
class CollectionTerms:
    """The stages of one policy version, in order, and whether access paid for in
    advance is spared from suspension."""

    stages: tuple[CollectionStage, ...]
    spare_paid_in_advance: bool = True

    def __post_init__(self) -> None:
        if not self.stages:
            raise errors.EmptyCollectionPolicyError("a collection policy needs a stage")
        days = [stage.days for stage in self.stages]
        if days != sorted(set(days)):
            raise errors.StagesOutOfOrderError(
                f"stages must be in order of days, one per day; got {days}"
            )
        warned = False
        for stage in self.stages:
            warned = warned or stage.action is StageAction.FINAL_WARNING
            if stage.action is StageAction.SUSPEND_ACCESS and not warned:
                raise errors.SuspensionWithoutWarningError(
                    f"the suspension at +{stage.days} days needs a final warning before it"
                )

    def due_after(self, last_entered: int | None, days_overdue: int) -> tuple[CollectionStage, ...]:
        """The stages later than `last_entered` and due at `days_overdue`, in order."""
        return tuple(
            stage
            for stage in self.stages
            if (last_entered is None or stage.days > last_entered) and stage.days <= days_overdue
        )

    @property
    def suspends_access(self) -> bool:
        return any(s.action is StageAction.SUSPEND_ACCESS for s in self.stages)


@dataclass(frozen=True, slots=True)
class PublishedPolicy:
    """A version of the policy, when it took effect, and what customers were told."""

    version: int
    effective_from: datetime
    terms: CollectionTerms
    customer_text: str


class CollectionPolicy(AuditedAggregate, Versions[PublishedPolicy]):
    """The versioned collection policy of the one partner this deployment serves."""

    refusals = Refusals(
        retroactive=errors.RetroactivePolicyError,
        before_publishing="a collection policy cannot take effect before it is published",
        before_latest="collection policy version {version} takes effect at "
        "{effective_from}; a new version must take effect after it",
        missing=errors.NoCollectionPolicyError,
        none_in_force="no collection policy was in force at {moment}",
        never_published="collection policy version {number} was never published",
    )

    @staticmethod
    def policy_id() -> UUID:
        return derived_id("collection-policy")

    class Established(AuditedAggregate.Created):
        pass

    class Published(AuditedAggregate.Event):
        version: int
        effective_from: datetime
        terms: CollectionTerms
        customer_text: str

        def apply(self, aggregate: Any) -> None:
            policy: CollectionPolicy = aggregate
            published = PublishedPolicy(
                self.version, self.effective_from, self.terms, self.customer_text
            )
            policy.published = (*policy.published, published)

    def __init__(self) -> None:
        self.published: tuple[PublishedPolicy, ...] = ()

    @classmethod
    def establish(cls, ctx: CommandContext) -> CollectionPolicy:
        return cls._start(cls.Established, ctx, cls.policy_id())

    def publish(self, ctx: CommandContext, terms: CollectionTerms, effective_from: datetime) -> int:
        """Publish a new version, with its customer text; return its number."""
        version = self.next_version(ctx, effective_from)
        self._record(
            self.Published,
            ctx,
            version=version,
            effective_from=effective_from,
            terms=terms,
            customer_text=describe_policy(terms),
        )
        return version


# Customer text ----------------------------------------------------------------


def describe_policy(terms: CollectionTerms) -> str:
    """The policy in words a customer can read, including when access is affected."""
    sentences = [_describe(stage) for stage in terms.stages]
    if terms.suspends_access:
        if terms.spare_paid_in_advance:
            sentences.append(
                "Subscriptions you have paid for in advance stay on until the end of "
                "the period you paid for."
            )
        sentences.append(
            "Suspended access is restored as soon as no invoice is overdue by that many "
            "days any more: paying the overdue balance restores it at once."
        )
    else:
        sentences.append(
            "Non-payment does not affect your access to subscriptions, services or software."
        )
    sentences.append(
        "Days are counted from the due date of your oldest unpaid invoice, in your "
        "billing time zone. An invoice you dispute is not chased while the dispute "
        "is open."
    )
    return " ".join(sentences)


def _describe(stage: CollectionStage) -> str:
    unpaid = f"If an invoice is still unpaid {_days(stage.days)} after its due date"
    match stage.action:
        case StageAction.UPCOMING_PAYMENT_REMINDER:
            when = (
                "On the day an invoice falls due"
                if stage.days == 0
                else f"{_days(-stage.days)} before an invoice falls due"
            )
            return f"{when}, we remind you of the payment."
        case StageAction.OVERDUE_REMINDER:
            return f"{unpaid}, we send a reminder."
        case StageAction.FINAL_WARNING:
            return f"{unpaid}, we send a final warning that access may be suspended."
        case StageAction.SUSPEND_ACCESS:
            what = (
                "all your subscriptions"
                if not stage.products
                else f"your {_listing(stage.products)} subscriptions"
            )
            return f"{unpaid}, we suspend access to {what} until the overdue balance is paid."


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _listing(items: tuple[str, ...]) -> str:
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} and {items[-1]}"
