"""Given / when / then for the support case, with no database."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from cases.domain import case_commands as cmd
from cases.domain.case_clocks import ClockFact
from cases.domain.case_values import (
    AdvisoryClassification,
    CaseCategory,
    VendorAdvisory,
)
from cases.domain.errors import DomainError
from cases.domain.support_case import SupportCase
from cases.domain.support_offering import PublishedTerms
from tests.support.builders import T0, ctx, intake, published

Step = Callable[[SupportCase], object]


def received(
    category: CaseCategory = CaseCategory.TECHNICAL,
    terms: PublishedTerms | None = None,
    **overrides: Any,
) -> SupportCase:
    """A case received ten minutes before T0 and recorded at T0."""
    return SupportCase.receive(
        ctx(T0),
        cmd.TakeIn(received_at=T0 - timedelta(minutes=10), **intake(category, **overrides)),
        case_id=uuid4(),
        terms=terms or published(),
    )


def given(case: SupportCase, *steps: Step) -> SupportCase:
    """Apply earlier commands as history: their events count as already stored."""
    for step in steps:
        step(case)
    case.collect_events()
    return case


def case_events(events: Iterable[Any]) -> list[Any]:
    """The case's own events, without its service-level clock facts."""
    return [e for e in events if not isinstance(e, ClockFact)]


def then_events(case: SupportCase, when: Step) -> list[Any]:
    """The case's own events that `when` records (clock facts: `then_facts`)."""
    when(case)
    return case_events(case.collect_events())


def then_facts(case: SupportCase, when: Step) -> list[Any]:
    """Every event `when` records, clock facts included."""
    when(case)
    return list(case.collect_events())


def then_refused(case: SupportCase, when: Step, error: type[DomainError]) -> DomainError:
    """The command is refused with `error` and records nothing."""
    version = case.version
    with pytest.raises(error) as refused:
        when(case)
    assert case.pending_events == []
    assert case.version == version
    return refused.value


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def advisory() -> VendorAdvisory:
    return VendorAdvisory(
        "EX226792",
        AdvisoryClassification.INCIDENT,
        "Users may experience delays sending external mail",
        "Exchange Online",
    )


def health_checked(case: SupportCase) -> None:
    case.check_service_health(ctx(at(1)), cmd.CheckServiceHealth(None))
