"""The support desk on every store: in-memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

import pytest

from cases.application.command_runner import Receipt
from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain import errors
from cases.domain.case_values import (
    AdvisoryClassification,
    CaseCategory,
    CaseStatus,
    Direction,
    EscalationCategory,
    EscalationTarget,
    ResolutionCode,
    VendorAdvisory,
)
from cases.domain.support_case import SupportCase
from cases.domain.support_offering import SupportOffering
from cases.domain.support_terms import Channel, EscalationVehicle, PartnerKind
from cases.history.entries import HistoryEntry
from tests.support.builders import T0, caller, intake, is_clock_fact, terms

ASFP = EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS


def minutes(clock: ManualClock, n: int) -> None:
    clock.advance(timedelta(minutes=n))


@pytest.fixture
def desk_with_terms(services: Services, clock: ManualClock) -> Services:
    services.desk.publish_terms(caller(), terms(), effective_from=T0)
    minutes(clock, 5)
    return services


@dataclass(frozen=True)
class Walk:
    """A case walked through its life: its state and one receipt per command
    (`receipts[0]` is the intake's, then one per step of the walk)."""

    case: SupportCase
    receipts: list[Receipt]

    def version_after(self, step: int) -> int:
        """The case's version once step `step` (0: the intake) was recorded."""
        return self.receipts[step].version


# The steps of the walk, numbered after the intake (0).
ESCALATE, RESOLVE, CLOSE = 5, 9, 10


def walk_a_case_through_escalation(services: Services, clock: ManualClock) -> Walk:
    desk, who = services.desk, caller()
    receipt = desk.receive_case(who, cmd.TakeIn(received_at=clock.now(), **intake()))
    case_id = receipt.aggregate_id
    steps: list[Callable[[], Receipt]] = [
        lambda: desk.handle(who, case_id, cmd.Assign("agent-anna")),
        lambda: desk.handle(who, case_id, cmd.CheckServiceHealth(None)),
        lambda: desk.handle(
            who, case_id, cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, "We are on it")
        ),
        lambda: desk.handle(who, case_id, cmd.RecordDiagnosis("Connector healthy; queue grows")),
        lambda: desk.handle(
            who,
            case_id,
            cmd.Escalate(
                target=EscalationTarget.VENDOR,
                category=EscalationCategory.SERVICE_DEFECT,
                vehicle=ASFP,
                reason="Queue grows with a healthy connector",
            ),
        ),
        lambda: desk.handle(who, case_id, cmd.RecordVendorReference("2603020010001234")),
        lambda: desk.handle(who, case_id, cmd.RecordVendorUpdate("Reproduced")),
        lambda: desk.handle(who, case_id, cmd.RecordHandBack("Fix deployed")),
        lambda: desk.handle(
            who, case_id, cmd.Resolve(ResolutionCode.FIXED_BY_VENDOR, "Fixed upstream")
        ),
        lambda: desk.handle(who, case_id, cmd.Close()),
        lambda: desk.handle(who, case_id, cmd.Reopen("Delays are back")),
        lambda: desk.handle(who, case_id, cmd.AddNote("Customer called again")),
    ]
    receipts = [receipt]
    for step in steps:
        minutes(clock, 7)
        receipts.append(step())
    return Walk(desk.case(case_id), receipts)


def own_events(history: list[HistoryEntry]) -> list[HistoryEntry]:
    """The case's own events, without its service-level clock facts."""
    return [h for h in history if not is_clock_fact(h.event_type)]


class TestSupportDesk:
    def test_walks_a_case_through_its_whole_life(
        self, desk_with_terms: Services, clock: ManualClock
    ) -> None:
        """Every step is recorded in order and rebuilds the same state on load."""
        walk = walk_a_case_through_escalation(desk_with_terms, clock)
        case = walk.case
        assert case.version == walk.receipts[-1].version
        history = desk_with_terms.audit.history(SupportCase, case.id)
        assert len(own_events(history)) == len(walk.receipts)  # one per command
        assert case.status is CaseStatus.IN_PROGRESS
        assert case.reopen_count == 1
        [escalation] = case.escalations
        assert escalation.vendor_reference == "2603020010001234"
        assert escalation.handed_back_at is not None
        assert case.first_response_at == T0 + timedelta(minutes=5 + 21)

    def test_history_lists_every_event_with_its_metadata(
        self, desk_with_terms: Services, clock: ManualClock
    ) -> None:
        walk = walk_a_case_through_escalation(desk_with_terms, clock)
        history = desk_with_terms.audit.history(SupportCase, walk.case.id)
        assert [h.version for h in history] == list(range(1, walk.case.version + 1))
        own = own_events(history)
        assert len(own) == len(walk.receipts)
        assert [h.event_type.split(".")[-1] for h in own][:3] == [
            "Received",
            "Assigned",
            "ServiceHealthChecked",
        ]
        # Each command's own event lies after the previous receipt, up to its own.
        versions = [r.version for r in walk.receipts]
        for event, before, after in zip(own, [0, *versions[:-1]], versions, strict=True):
            assert before < event.version <= after
        assert all(h.meta.actor.principal_id == "agent-anna" for h in history)
        assert own[1].details == {"agent_id": "agent-anna"}
        assert [h.recorded_at for h in history] == sorted(h.recorded_at for h in history)

    def test_state_at_any_version_and_any_moment(
        self, desk_with_terms: Services, clock: ManualClock
    ) -> None:
        """Auditors see the case as it stood at a version or as recorded at a moment."""
        walk = walk_a_case_through_escalation(desk_with_terms, clock)
        case, audit = walk.case, desk_with_terms.audit
        at_escalation = audit.at_version(SupportCase, case.id, walk.version_after(ESCALATE))
        assert at_escalation.status is CaseStatus.ESCALATED
        closed = audit.at_version(SupportCase, case.id, walk.version_after(CLOSE))
        assert closed.status is CaseStatus.CLOSED
        # Recorded moments are 7 minutes apart from intake at T0 + 5 minutes.
        before_close = audit.as_of(SupportCase, case.id, T0 + timedelta(minutes=5 + 7 * CLOSE - 1))
        assert before_close.version == walk.version_after(RESOLVE)
        assert before_close.status is CaseStatus.RESOLVED
        with pytest.raises(errors.NotFoundError):
            audit.as_of(SupportCase, case.id, T0)
        with pytest.raises(errors.NotFoundError):
            audit.at_version(SupportCase, case.id, case.version + 1)

    def test_a_refused_command_records_nothing(
        self, desk_with_terms: Services, clock: ManualClock
    ) -> None:
        desk, who = desk_with_terms.desk, caller()
        receipt = desk.receive_case(who, cmd.TakeIn(received_at=clock.now(), **intake()))
        position = desk_with_terms.log.recorder.max_notification_id()
        with pytest.raises(errors.ServiceHealthNotCheckedError):
            desk.handle(
                who,
                receipt.aggregate_id,
                cmd.Escalate(
                    target=EscalationTarget.VENDOR,
                    category=EscalationCategory.SERVICE_DEFECT,
                    vehicle=ASFP,
                    reason="Too early",
                ),
            )
        assert desk_with_terms.log.recorder.max_notification_id() == position
        assert desk.case(receipt.aggregate_id).version == receipt.version

    def test_a_stale_expected_version_is_refused(
        self, desk_with_terms: Services, clock: ManualClock
    ) -> None:
        desk, who = desk_with_terms.desk, caller()
        receipt = desk.receive_case(who, cmd.TakeIn(received_at=clock.now(), **intake()))
        intake_version = receipt.version
        desk.handle(
            who, receipt.aggregate_id, cmd.AddNote("first"), expected_version=intake_version
        )
        with pytest.raises(errors.VersionMismatchError):
            desk.handle(
                who, receipt.aggregate_id, cmd.AddNote("second"), expected_version=intake_version
            )
        assert desk.case(receipt.aggregate_id).note_count == 1

    def test_receipts_carry_version_and_log_position(
        self, desk_with_terms: Services, clock: ManualClock
    ) -> None:
        desk, who = desk_with_terms.desk, caller()
        first = desk.receive_case(who, cmd.TakeIn(received_at=clock.now(), **intake()))
        second = desk.handle(who, first.aggregate_id, cmd.AddNote("note"))
        history = desk_with_terms.audit.history(SupportCase, first.aggregate_id)
        # The intake's receipt has the version of its last event; the note's, the note's.
        assert [h.version for h in history] == list(range(1, second.version + 1))
        assert history[0].event_type == "SupportCase.Received"
        assert [h.event_type for h in history[first.version :]] == ["SupportCase.NoteAdded"]
        assert second.position > first.position
        assert second.position == desk_with_terms.log.recorder.max_notification_id()

    def test_the_same_case_id_cannot_be_taken_twice(
        self, desk_with_terms: Services, clock: ManualClock
    ) -> None:
        desk, who, case_id = desk_with_terms.desk, caller(), uuid4()
        desk.receive_case(who, cmd.TakeIn(received_at=clock.now(), case_id=case_id, **intake()))
        with pytest.raises(errors.AlreadyExistsError):
            desk.receive_case(who, cmd.TakeIn(received_at=clock.now(), case_id=case_id, **intake()))

    def test_unknown_case_is_not_found(self, desk_with_terms: Services) -> None:
        with pytest.raises(errors.NotFoundError):
            desk_with_terms.desk.handle(caller(), uuid4(), cmd.AddNote("nobody home"))

    def test_the_offering_is_not_a_case(self, desk_with_terms: Services) -> None:
        """An aggregate of another kind is not found under a case id."""
        with pytest.raises(errors.NotFoundError):
            desk_with_terms.desk.case(SupportOffering.offering_id())

    def test_cases_keep_the_terms_they_were_received_under(
        self, desk_with_terms: Services, clock: ManualClock
    ) -> None:
        """New terms apply to cases received after they take effect, not before."""
        desk, who = desk_with_terms.desk, caller()
        old = desk.receive_case(who, cmd.TakeIn(received_at=clock.now(), **intake())).aggregate_id
        version, _ = desk.publish_terms(
            who,
            terms(reopen_window_days=2),
            effective_from=clock.now() + timedelta(days=1),
        )
        minutes(clock, 60 * 24 + 1)
        new = desk.receive_case(who, cmd.TakeIn(received_at=clock.now(), **intake())).aggregate_id
        late_phone = desk.receive_case(
            who, cmd.TakeIn(received_at=clock.now() - timedelta(days=1), **intake())
        ).aggregate_id
        assert version == 2
        assert [desk.case(c).terms_version for c in (old, new, late_phone)] == [1, 2, 1]
        assert [desk.case(c).reopen_window_days for c in (old, new)] == [14, 2]

    def test_escalation_uses_the_vehicles_held_now(
        self, desk_with_terms: Services, clock: ManualClock
    ) -> None:
        desk, who = desk_with_terms.desk, caller()
        case_id = desk.receive_case(
            who, cmd.TakeIn(received_at=clock.now(), **intake())
        ).aggregate_id
        desk.handle(who, case_id, cmd.CheckServiceHealth(None))
        desk.publish_terms(
            who,
            terms(partner_kind=PartnerKind.INDIRECT_RESELLER, held=()),
            effective_from=clock.now() + timedelta(minutes=1),
        )
        minutes(clock, 2)
        with pytest.raises(errors.IndirectProviderFirstError):
            desk.handle(
                who,
                case_id,
                cmd.Escalate(
                    target=EscalationTarget.VENDOR,
                    category=EscalationCategory.SERVICE_UNAVAILABLE,
                    vehicle=ASFP,
                    reason="Down",
                ),
            )

    def test_a_matched_advisory_is_stored_exactly(
        self, desk_with_terms: Services, clock: ManualClock
    ) -> None:
        desk, who = desk_with_terms.desk, caller()
        case_id = desk.receive_case(
            who, cmd.TakeIn(received_at=clock.now(), **intake(CaseCategory.TECHNICAL))
        ).aggregate_id
        advisory = VendorAdvisory(
            "ex226792",
            AdvisoryClassification.INCIDENT,
            "Mail delays",
            "Exchange Online",
        )
        desk.handle(who, case_id, cmd.CheckServiceHealth(advisory))
        assert desk.case(case_id).matched_advisory == advisory
        assert desk.case(case_id).matched_advisory.vendor_id == "EX226792"  # type: ignore[union-attr]

    def test_no_terms_no_intake(self, services: Services, clock: ManualClock) -> None:
        with pytest.raises(errors.NoTermsInForceError):
            services.desk.receive_case(caller(), cmd.TakeIn(received_at=clock.now(), **intake()))
