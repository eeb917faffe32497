"""Every projection `cases` keeps, by name."""

from __future__ import annotations

from cases.projections.account_standing import AccountStandingProjection
from cases.projections.advisories import AdvisoriesProjection
from cases.projections.case_queue import CaseQueueProjection
from cases.projections.case_timeline import CaseTimelineProjection
from cases.projections.customer_directory import CustomerDirectoryProjection
from cases.projections.escalation_register import EscalationRegisterProjection
from cases.projections.projection import Projection
from cases.projections.receivables import ReceivablesProjection
from cases.reports.service_levels import ServiceLevelsProjection

PROJECTIONS: dict[str, type[Projection]] = {
    CaseQueueProjection.name: CaseQueueProjection,
    CaseTimelineProjection.name: CaseTimelineProjection,
    EscalationRegisterProjection.name: EscalationRegisterProjection,
    AccountStandingProjection.name: AccountStandingProjection,
    ReceivablesProjection.name: ReceivablesProjection,
    ServiceLevelsProjection.name: ServiceLevelsProjection,
    AdvisoriesProjection.name: AdvisoriesProjection,
    CustomerDirectoryProjection.name: CustomerDirectoryProjection,
}


def projection_named(name: str) -> Projection:
    try:
        return PROJECTIONS[name]()
    except KeyError:
        known = ", ".join(sorted(PROJECTIONS))
        raise LookupError(f"no projection is called {name!r}; known: {known}") from None
