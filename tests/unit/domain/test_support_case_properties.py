"""Random command sequences never break a case, and its stored events rebuild it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from eventsourcing.application import project_aggregate
from eventsourcing.persistence import Mapper
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.domain import case_commands as cmd
from cases.domain.case_values import (
    CaseCategory,
    CaseStatus,
    Direction,
    EscalationCategory,
    EscalationTarget,
    ResolutionCode,
)
from cases.domain.errors import DomainError
from cases.domain.service_clocks import ClockKind
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import Channel, EscalationVehicle, PartnerKind, Severity
from cases.persistence.registry import cases_transcoder
from tests.support.builders import ctx, paths
from tests.unit.domain.case_scenario import advisory, received

Command = Callable[[SupportCase, Any], object]

COMMANDS: dict[str, Command] = {
    "health_none": lambda c, x: c.check_service_health(x, cmd.CheckServiceHealth(None)),
    "health_advisory": lambda c, x: c.check_service_health(x, cmd.CheckServiceHealth(advisory())),
    "diagnose": lambda c, x: c.record_diagnosis(x, cmd.RecordDiagnosis("finding")),
    "message_in": lambda c, x: c.record_communication(
        x, cmd.RecordCommunication(Direction.INBOUND, Channel.EMAIL, "in")
    ),
    "message_out": lambda c, x: c.record_communication(
        x, cmd.RecordCommunication(Direction.OUTBOUND, Channel.PHONE, "out")
    ),
    "wait": lambda c, x: c.wait_on_customer(x, cmd.WaitOnCustomer("need logs")),
    "stop_wait": lambda c, x: c.stop_waiting_on_customer(
        x, cmd.StopWaitingOnCustomer("agent resumed")
    ),
    "assign_a": lambda c, x: c.assign(x, cmd.Assign("agent-a")),
    "assign_b": lambda c, x: c.assign(x, cmd.Assign("agent-b")),
    "critical": lambda c, x: c.change_severity(x, cmd.ChangeSeverity(Severity.CRITICAL, "worse")),
    "minimal": lambda c, x: c.change_severity(x, cmd.ChangeSeverity(Severity.MINIMAL, "better")),
    "to_vendor": lambda c, x: c.escalate(
        x,
        cmd.Escalate(
            target=EscalationTarget.VENDOR,
            category=EscalationCategory.SERVICE_DEFECT,
            vehicle=EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS,
            reason="defect",
        ),
        paths=paths(kind=PartnerKind.INDIRECT_RESELLER),
    ),
    "to_provider": lambda c, x: c.escalate(
        x,
        cmd.Escalate(
            target=EscalationTarget.INDIRECT_PROVIDER,
            category=EscalationCategory.SERVICE_UNAVAILABLE,
            vehicle=None,
            reason="down",
        ),
        paths=paths(kind=PartnerKind.INDIRECT_RESELLER),
    ),
    "undocumented": lambda c, x: c.escalate(
        x,
        cmd.Escalate(
            target=EscalationTarget.INDIRECT_PROVIDER,
            category=EscalationCategory.UNDOCUMENTED_PROBLEM,
            vehicle=None,
            reason="odd",
        ),
        paths=paths(kind=PartnerKind.INDIRECT_RESELLER),
    ),
    "reference": lambda c, x: c.record_vendor_reference(x, cmd.RecordVendorReference("REF-1")),
    "vendor_update": lambda c, x: c.record_vendor_update(x, cmd.RecordVendorUpdate("news")),
    "hand_back": lambda c, x: c.record_hand_back(x, cmd.RecordHandBack("done")),
    "resolve": lambda c, x: c.resolve(x, cmd.Resolve(ResolutionCode.FIXED_BY_PARTNER, "fixed")),
    "close": lambda c, x: c.close(x),
    "reopen": lambda c, x: c.reopen(x, cmd.Reopen("again")),
    "note": lambda c, x: c.add_note(x, cmd.AddNote("note")),
    "evaluate_clocks": lambda c, x: c.evaluate_service_clocks(x, x.occurred_at),
}

steps = st.lists(
    st.tuples(
        st.sampled_from(sorted(COMMANDS)),
        st.integers(min_value=0, max_value=60 * 24 * 20),
    ),
    max_size=40,
)


def check_invariants(case: SupportCase) -> None:
    if case.closed_at is not None:
        assert case.resolution is not None
        assert case.status is CaseStatus.CLOSED
    open_escalations = [e for e in case.escalations if e.is_open]
    assert len(open_escalations) <= 1
    if open_escalations:
        assert open_escalations[0] is case.escalations[-1]
        assert case.resolution is None
    assert [e.number for e in case.escalations] == list(range(1, len(case.escalations) + 1))
    for escalation in case.escalations:
        if escalation.category is EscalationCategory.UNDOCUMENTED_PROBLEM:
            assert escalation.target is EscalationTarget.INDIRECT_PROVIDER
        if escalation.target is EscalationTarget.VENDOR:
            assert any(
                e.target is EscalationTarget.INDIRECT_PROVIDER and e.number < escalation.number
                for e in case.escalations
            )
    if any(not e.category.is_commercial for e in case.escalations):
        assert case.health_checked
    if case.findings and case.category is CaseCategory.TECHNICAL:
        assert case.health_checked
    if case.first_response_at is not None:
        assert case.first_response_at >= case.received_at
    if case.resolution is not None:
        assert case.waiting_on_customer_since is None
    check_clock_invariants(case)


def check_clock_invariants(case: SupportCase) -> None:
    kinds = [c.kind for c in case.clocks]
    assert kinds.count(ClockKind.FIRST_RESPONSE) == 1
    assert kinds.count(ClockKind.RESOLUTION) == 1
    unfinished = [c for c in case.clocks if not c.is_finished]
    assert sum(c.kind is ClockKind.NEXT_UPDATE for c in unfinished) <= 1
    open_vendor = [c.number for c in unfinished if c.kind is ClockKind.VENDOR]
    assert open_vendor == [e.number for e in case.escalations if e.is_open]
    customer_running = [c for c in case.clocks if c.kind.is_customer_clock and c.is_running]
    if case.resolution is not None or case.waiting_on_customer_since is not None:
        assert customer_running == []
    else:
        assert case.clock(ClockKind.RESOLUTION).is_running
    for clock in case.clocks:
        assert clock.elapsed >= timedelta(0)
        if clock.breached_at is not None:
            assert clock.target is not None
            assert clock.breached_at >= clock.started_at
        if clock.is_running and clock.deadline is not None:
            assert clock.running_since is not None
            assert clock.deadline >= clock.running_since
        if clock.fulfilled:
            assert clock.is_finished


@settings(max_examples=150, deadline=None)
@given(steps=steps, category=st.sampled_from(CaseCategory))
def test_random_commands_keep_the_invariants_and_replay_exactly(
    steps: list[tuple[str, int]], category: CaseCategory
) -> None:
    """Accepted commands keep every invariant; refused ones record nothing; the
    stored events, encoded and decoded, rebuild an equal case."""
    case = received(category)
    start = case.received_at + timedelta(minutes=10)
    history = list(case.collect_events())
    elapsed = 0
    for name, minutes in steps:
        elapsed += minutes
        before = copy.deepcopy(case)
        moment = start + timedelta(minutes=elapsed)
        try:
            COMMANDS[name](case, ctx(moment))
        except DomainError:
            assert case.pending_events == []
            assert case == before
        else:
            # Every accepted command first records the breaches due by its moment.
            assert not any(clock.due_breach(moment) for clock in case.clocks)
        check_invariants(case)
        history += case.collect_events()

    mapper: Mapper[Any] = Mapper(transcoder=cases_transcoder())
    stored = [mapper.to_stored_event(e) for e in history]
    replayed = project_aggregate(None, [mapper.to_domain_event(s) for s in stored])
    assert replayed == case
    assert replayed is not None
    assert replayed.version == len(history)
