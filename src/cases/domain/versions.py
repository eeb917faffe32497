"""Versions published one after another, each in force from its moment until the
next takes effect: the support offering's terms and the collection policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Generic, Protocol, TypeVar

from cases.domain.errors import DomainError
from cases.domain.metadata import CommandContext
from cases.domain.text import aware


class Published(Protocol):
    @property
    def version(self) -> int: ...

    @property
    def effective_from(self) -> datetime: ...


P = TypeVar("P", bound=Published)


@dataclass(frozen=True, slots=True)
class Refusals:
    """How one kind of versions refuses, in its own words."""

    retroactive: type[DomainError]
    """Raised for a version taking effect too early (the two texts below)."""
    before_publishing: str
    """A version taking effect before it is published."""
    before_latest: str
    """One taking effect at or before the latest (its `version`, `effective_from`)."""
    missing: type[DomainError]
    """Raised for a version asked for and not there (the two texts below)."""
    none_in_force: str
    """Nothing in force at the `moment` asked about."""
    never_published: str
    """No version `number`."""


class Versions(Generic[P]):
    """Mixed into an aggregate whose `published` versions (in order) each take
    effect from a moment: numbered from 1, none taking effect before it is
    published or at or before the latest; the one in force at a moment is the
    latest to take effect by then."""

    published: tuple[P, ...]
    refusals: ClassVar[Refusals]

    def next_version(self, ctx: CommandContext, effective_from: datetime) -> int:
        """The number of a new version taking effect at `effective_from`."""
        aware("effective_from", effective_from)
        self.check_not_retroactive(ctx, effective_from)
        return len(self.published) + 1

    def check_not_retroactive(self, ctx: CommandContext, effective_from: datetime) -> None:
        refusals = self.refusals
        if effective_from < ctx.occurred_at:
            raise refusals.retroactive(refusals.before_publishing)
        if self.published and effective_from <= self.published[-1].effective_from:
            latest = self.published[-1]
            raise refusals.retroactive(
                refusals.before_latest.format(
                    version=latest.version, effective_from=latest.effective_from.isoformat()
                )
            )

    def in_force_at(self, moment: datetime) -> P:
        """The version in force at `moment`: the latest to take effect by then."""
        in_force = [p for p in self.published if p.effective_from <= moment]
        if not in_force:
            raise self.refusals.missing(
                self.refusals.none_in_force.format(moment=moment.isoformat())
            )
        return in_force[-1]

    def published_version(self, number: int) -> P:
        for published in self.published:
            if published.version == number:
                return published
        raise self.refusals.missing(self.refusals.never_published.format(number=number))
