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
from cases.domain.text import aware


@dataclass(frozen=True, slots=True)
class PublishedTerms:
    """A version of the terms and the moment it took effect."""

    version: int
    effective_from: datetime
    terms: SupportTerms


class SupportOffering(AuditedAggregate):
    """The versioned support terms of the one partner this deployment serves."""

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
        aware("effective_from", effective_from)
        self.check_not_retroactive(ctx, effective_from)
        version = len(self.published) + 1
        self._record(
            self.TermsPublished,
            ctx,
            version=version,
            effective_from=effective_from,
            terms=terms,
        )
        return version

    def check_not_retroactive(self, ctx: CommandContext, effective_from: datetime) -> None:
        if effective_from < ctx.occurred_at:
            raise RetroactiveTermsError(
                "terms cannot take effect before they are published: cases already "
                "received keep the terms they were received under"
            )
        if self.published and effective_from <= self.published[-1].effective_from:
            raise RetroactiveTermsError(
                f"terms version {self.published[-1].version} takes effect at "
                f"{self.published[-1].effective_from.isoformat()}; new terms must "
                "take effect after it"
            )

    def in_force_at(self, moment: datetime) -> PublishedTerms:
        """The terms in force at `moment`: the latest to take effect by then."""
        in_force = [p for p in self.published if p.effective_from <= moment]
        if not in_force:
            raise NoTermsInForceError(f"no support terms were in force at {moment.isoformat()}")
        return in_force[-1]

    def published_version(self, number: int) -> PublishedTerms:
        for published in self.published:
            if published.version == number:
                return published
        raise NoTermsInForceError(f"support terms version {number} was never published")
