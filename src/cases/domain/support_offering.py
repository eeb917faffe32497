"""The partner's support offering: its terms, versioned by publication."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cases.domain.audited import AuditedAggregate
from cases.domain.errors import NoTermsInForceError, RetroactiveTermsError
from cases.domain.identity import derived_id
from cases.domain.metadata import CommandContext
from cases.domain.support_terms import SupportTerms
from cases.domain.versions import Refusals, Versions


@dataclass(frozen=True, slots=True)
class PublishedTerms:
    """A version of the terms and the moment it took effect."""

    version: int
    effective_from: datetime
    terms: SupportTerms


class SupportOffering(AuditedAggregate, Versions[PublishedTerms]):
    """The versioned support terms of the one partner this deployment serves."""

    refusals = Refusals(
        retroactive=RetroactiveTermsError,
        before_publishing="terms cannot take effect before they are published: cases "
        "already received keep the terms they were received under",
        before_latest="terms version {version} takes effect at {effective_from}; new "
        "terms must take effect after it",
        missing=NoTermsInForceError,
        none_in_force="no support terms were in force at {moment}",
        never_published="support terms version {number} was never published",
    )

    @staticmethod
    def offering_id() -> UUID:
        return derived_id("support-offering")

    class Established(AuditedAggregate.Created):
        pass

    class TermsPublished(AuditedAggregate.Event):
        version: int
        effective_from: datetime
        terms: SupportTerms

        def apply(self, aggregate: Any) -> None:
            offering: SupportOffering = aggregate
            offering.published = (
                *offering.published,
                PublishedTerms(self.version, self.effective_from, self.terms),
            )

    def __init__(self) -> None:
        self.published: tuple[PublishedTerms, ...] = ()

    @classmethod
    def establish(cls, ctx: CommandContext) -> SupportOffering:
        return cls._start(cls.Established, ctx, cls.offering_id())

    def publish_terms(
        self, ctx: CommandContext, terms: SupportTerms, effective_from: datetime
    ) -> int:
        """Publish a new version of the terms; return its version number."""
        version = self.next_version(ctx, effective_from)
        self._record(
            self.TermsPublished,
            ctx,
            version=version,
            effective_from=effective_from,
            terms=terms,
        )
        return version
