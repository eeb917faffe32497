"""A vendor's service-health advisory or incident, as imported from the vendor.

The vendor publishes each issue (Microsoft Graph `serviceHealthIssue`) and
revises it as it goes; the import records the first version it sees and each
later revision, and nothing for a version it already holds or an older one, so
importing the same payload twice records nothing. Cases whose service-health
check named the advisory are linked to it, so its resolution can reach them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cases.domain.audited import AuditedAggregate, Replaces
from cases.domain.case_values import AdvisoryClassification, VendorAdvisory
from cases.domain.errors import AlreadyLinkedError
from cases.domain.identity import derived_id
from cases.domain.metadata import CommandContext
from cases.domain.text import aware


@dataclass(frozen=True, slots=True)
class AdvisoryPost:
    """One of the vendor's posts on an issue (a public notice, not about a person)."""

    created_at: datetime
    post_type: str
    text: str


@dataclass(frozen=True, slots=True)
class AdvisoryFacts:
    """What the vendor said about an issue in one version of it."""

    vendor_id: str
    classification: AdvisoryClassification
    title: str
    service: str
    feature: str | None
    feature_group: str | None
    impact_description: str
    origin: str | None
    status: str
    is_resolved: bool
    started_at: datetime
    ended_at: datetime | None
    last_modified_at: datetime
    posts: tuple[AdvisoryPost, ...] = ()

    def __post_init__(self) -> None:
        for name in ("started_at", "last_modified_at"):
            aware(name, getattr(self, name))
        if self.ended_at is not None:
            aware("ended_at", self.ended_at)
        self.as_matched()  # the id, title and service a case's check can name

    def as_matched(self) -> VendorAdvisory:
        """The advisory as a case's service-health check records it."""
        return VendorAdvisory(
            vendor_id=self.vendor_id,
            classification=self.classification,
            title=self.title[:500],
            service=self.service[:200],
            status=self.status,
            last_modified_at=self.last_modified_at,
        )

    def concerns(self, product: str) -> bool:
        """Whether the issue is about `product` (names compared without case)."""
        wanted = product.strip().casefold()
        return wanted in {self.service.casefold(), (self.feature_group or "").casefold()}


def advisory_id(vendor_id: str) -> UUID:
    """The aggregate id of the advisory the vendor calls `vendor_id`."""
    return derived_id("advisory", vendor_id.strip().upper())


class Advisory(AuditedAggregate):
    """One vendor issue, its versions as imported, and the cases linked to it."""

    class Imported(AuditedAggregate.Created):
        facts: AdvisoryFacts

    class Revised(Replaces, AuditedAggregate.Event):
        facts: AdvisoryFacts

    class CaseLinked(AuditedAggregate.Event):
        case_id: UUID

        def apply(self, aggregate: Any) -> None:
            advisory: Advisory = aggregate
            advisory.linked_cases = (*advisory.linked_cases, self.case_id)

    def __init__(self, *, facts: AdvisoryFacts) -> None:
        self.facts = facts
        self.linked_cases: tuple[UUID, ...] = ()

    @property
    def is_open(self) -> bool:
        return not self.facts.is_resolved

    @classmethod
    def import_first(cls, ctx: CommandContext, facts: AdvisoryFacts) -> Advisory:
        """Record the first version of an issue the import has seen."""
        return cls._start(cls.Imported, ctx, advisory_id(facts.vendor_id), facts=facts)

    def import_version(self, ctx: CommandContext, facts: AdvisoryFacts) -> bool:
        """Record a newer version of the issue; return whether it resolved it.

        A version equal to the one held, or last modified earlier, records nothing."""
        if facts == self.facts or facts.last_modified_at < self.facts.last_modified_at:
            return False
        was_open = self.is_open
        self._record(self.Revised, ctx, facts=facts)
        return was_open and not self.is_open

    def link_case(self, ctx: CommandContext, case_id: UUID) -> None:
        """Note that a case's service-health check matched this issue."""
        if case_id in self.linked_cases:
            raise AlreadyLinkedError(
                f"the case {case_id} is already linked to {self.facts.vendor_id}"
            )
        self._record(self.CaseLinked, ctx, case_id=case_id)


FEED_ID = derived_id("advisory-feed")
"""The one feed of advisories this deployment imports."""


class AdvisoryFeed(AuditedAggregate):
    """Where the import of advisories stands: recorded with what it imported,
    in the same transaction, so a restart resumes exactly there."""

    class Started(AuditedAggregate.Created):
        pass

    class PageImported(AuditedAggregate.Event):
        watermark: datetime
        imported: int

        def apply(self, aggregate: Any) -> None:
            feed: AdvisoryFeed = aggregate
            feed.watermark = self.watermark
            feed.imported += self.imported
            feed.last_imported_at = self.meta.occurred_at

    def __init__(self) -> None:
        self.watermark: datetime | None = None
        self.imported = 0
        self.last_imported_at: datetime | None = None

    @classmethod
    def start(cls, ctx: CommandContext) -> AdvisoryFeed:
        return cls._start(cls.Started, ctx, FEED_ID)

    def advance(self, ctx: CommandContext, watermark: datetime, imported: int) -> None:
        """Note that every issue modified before `watermark` (as ordered by the
        vendor) is imported, `imported` versions of them by this page."""
        if self.watermark is not None:
            watermark = max(watermark, self.watermark)
        self._record(self.PageImported, ctx, watermark=watermark, imported=imported)
