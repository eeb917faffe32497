"""The support case's rules: every step and every refusal, with no database."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from cases.domain import case_commands as cmd
from cases.domain import errors
from cases.domain.case_values import (
    CaseCategory,
    CaseStatus,
    Direction,
    EscalationCategory,
    EscalationTarget,
    ResolutionCode,
)
from cases.domain.metadata import Actor, Role, Source
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import Channel, EscalationVehicle, PartnerKind, Severity
from tests.support.builders import AGENT, T0, ctx, intake, paths, published
from tests.unit.domain.case_scenario import (
    advisory,
    at,
    case_events,
    given,
    health_checked,
    received,
    then_events,
    then_refused,
)

ASFP = EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS
PSFP = EscalationVehicle.PREMIER_SUPPORT_FOR_PARTNERS
COMMERCIAL = EscalationVehicle.COMMERCIAL_SUPPORT


def escalate_to_vendor(case: SupportCase, minute: int = 5, **overrides: object) -> int:
    kwargs: dict[str, object] = {
        "target": EscalationTarget.VENDOR,
        "category": EscalationCategory.SERVICE_DEFECT,
        "vehicle": ASFP,
        "reason": "Transport rules ignored for one tenant only",
        "paths": paths(),
    }
    kwargs.update(overrides)
    held = kwargs.pop("paths")
    return case.escalate(ctx(at(minute)), cmd.Escalate(**kwargs), held)  # type: ignore[arg-type]


def resolved(case: SupportCase) -> None:
    case.resolve(ctx(at(30)), cmd.Resolve(ResolutionCode.FIXED_BY_PARTNER, "Connector re-created"))


def closed(case: SupportCase) -> None:
    case.close(ctx(at(40)))


class TestIntake:
    def test_records_the_request_with_its_terms_version(self) -> None:
        """Intake records every field, the receipt moment and the pinned terms."""
        case = received(terms=published(version=3, reopen_window_days=7))
        [event] = case_events(case.collect_events())
        assert isinstance(event, SupportCase.Received)
        assert event.received_at == T0 - timedelta(minutes=10)
        assert event.terms_version == 3
        assert event.reopen_window_days == 7
        assert event.meta.actor == AGENT
        assert event.timestamp == T0
        assert case.status is CaseStatus.NEW
        assert case.product == "Exchange Online"

    def test_refuses_a_request_received_after_it_is_recorded(self) -> None:
        """A request cannot be received in the future of its recording."""
        with pytest.raises(errors.ReceivedInFutureError):
            SupportCase.receive(
                ctx(T0),
                cmd.TakeIn(received_at=T0 + timedelta(seconds=1), **intake()),
                case_id=uuid4(),
                terms=published(),
            )

    @pytest.mark.parametrize(
        ("field", "value"),
        [("title", " "), ("title", "x" * 256), ("product", ""), ("description", "\n")],
    )
    def test_refuses_blank_or_over_long_text(self, field: str, value: str) -> None:
        """Titles are 1-255 characters; product and description are required."""
        with pytest.raises(errors.InvalidValueError, match=field):
            received(**{field: value})

    def test_strips_surrounding_whitespace(self) -> None:
        """What is stored is the text without its accidental padding."""
        case = received(title="  Mail delayed  ")
        assert case.title == "Mail delayed"


class TestServiceHealthFirst:
    def test_records_a_matching_advisory(self) -> None:
        """The check records the vendor advisory it matched."""
        case = given(received())
        [event] = then_events(
            case, lambda c: c.check_service_health(ctx(at(1)), cmd.CheckServiceHealth(advisory()))
        )
        assert isinstance(event, SupportCase.ServiceHealthChecked)
        assert event.advisory is not None
        assert event.advisory.vendor_id == "EX226792"
        assert case.matched_advisory == advisory()
        assert case.status is CaseStatus.IN_PROGRESS

    def test_records_a_check_that_found_nothing(self) -> None:
        case = given(received())
        [event] = then_events(case, health_checked)
        assert event.advisory is None
        assert case.health_checked

    def test_diagnosis_of_a_technical_case_needs_the_check(self) -> None:
        case = given(received())
        then_refused(
            case,
            lambda c: c.record_diagnosis(
                ctx(at(2)), cmd.RecordDiagnosis("Connector misconfigured")
            ),
            errors.ServiceHealthNotCheckedError,
        )

    def test_diagnosis_after_the_check_is_recorded(self) -> None:
        case = given(received(), health_checked)
        [event] = then_events(
            case, lambda c: c.record_diagnosis(ctx(at(2)), cmd.RecordDiagnosis("Bad connector"))
        )
        assert isinstance(event, SupportCase.DiagnosisRecorded)
        assert case.findings == ("Bad connector",)

    def test_a_billing_question_needs_no_service_health_check(self) -> None:
        """Service health is about technical problems; billing cases skip it."""
        case = given(received(CaseCategory.BILLING))
        [event] = then_events(
            case,
            lambda c: c.resolve(
                ctx(at(3)), cmd.Resolve(ResolutionCode.ANSWERED, "Explained the invoice")
            ),
        )
        assert isinstance(event, SupportCase.Resolved)

    def test_resolving_a_technical_case_needs_the_check(self) -> None:
        case = given(received())
        then_refused(case, resolved, errors.ServiceHealthNotCheckedError)


class TestCommunication:
    def test_first_outbound_message_is_the_first_response(self) -> None:
        case = given(received())
        case.record_communication(
            ctx(at(2)), cmd.RecordCommunication(Direction.INBOUND, Channel.EMAIL, "More detail")
        )
        assert case.first_response_at is None
        case.record_communication(
            ctx(at(7)),
            cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, "Looking into it"),
        )
        case.record_communication(
            ctx(at(9)), cmd.RecordCommunication(Direction.OUTBOUND, Channel.PHONE, "Update")
        )
        assert case.first_response_at == at(7)
        assert case.communications == 3

    def test_a_message_logged_late_counts_when_it_happened(self) -> None:
        """occurred_at, not recorded_at, is the moment of the first response."""
        case = given(received())
        case.record_communication(
            ctx(at(60), occurred_at=at(4)),
            cmd.RecordCommunication(Direction.OUTBOUND, Channel.PHONE, "Called back"),
        )
        assert case.first_response_at == at(4)

    def test_waiting_on_the_customer_ends_when_they_reply(self) -> None:
        case = given(
            received(),
            lambda c: c.wait_on_customer(ctx(at(2)), cmd.WaitOnCustomer("Need a message trace")),
        )
        assert case.status is CaseStatus.WAITING_ON_CUSTOMER
        events = then_events(
            case,
            lambda c: c.record_communication(
                ctx(at(50)),
                cmd.RecordCommunication(Direction.INBOUND, Channel.EMAIL, "Trace attached"),
            ),
        )
        assert [type(e) for e in events] == [
            SupportCase.CommunicationRecorded,
            SupportCase.WaitingOnCustomerEnded,
        ]
        assert case.waiting_on_customer_since is None

    def test_cannot_wait_twice(self) -> None:
        case = given(
            received(), lambda c: c.wait_on_customer(ctx(at(2)), cmd.WaitOnCustomer("Need a trace"))
        )
        then_refused(
            case,
            lambda c: c.wait_on_customer(ctx(at(3)), cmd.WaitOnCustomer("Still")),
            errors.AlreadyWaitingOnCustomerError,
        )

    def test_cannot_stop_a_wait_that_is_not_under_way(self) -> None:
        case = given(received())
        then_refused(
            case,
            lambda c: c.stop_waiting_on_customer(ctx(at(3)), cmd.StopWaitingOnCustomer("x")),
            errors.NotWaitingOnCustomerError,
        )

    def test_nothing_happens_before_receipt(self) -> None:
        """A note dated before the request was received is refused."""
        case = given(received())
        then_refused(
            case,
            lambda c: c.add_note(ctx(at(1), occurred_at=T0 - timedelta(hours=1)), cmd.AddNote("x")),
            errors.OccurredBeforeReceiptError,
        )


class TestAssignmentAndSeverity:
    def test_assigns_and_reassigns(self) -> None:
        case = given(received())
        case.assign(ctx(at(1)), cmd.Assign("agent-bo"))
        case.assign(ctx(at(2)), cmd.Assign("agent-anna"))
        assert case.assignee == "agent-anna"

    def test_refuses_assigning_to_the_same_agent(self) -> None:
        case = given(received(), lambda c: c.assign(ctx(at(1)), cmd.Assign("agent-bo")))
        then_refused(
            case,
            lambda c: c.assign(ctx(at(2)), cmd.Assign("agent-bo")),
            errors.AlreadyAssignedError,
        )

    def test_records_severity_changes_with_the_previous_one(self) -> None:
        case = given(received())
        [event] = then_events(
            case,
            lambda c: c.change_severity(
                ctx(at(1)), cmd.ChangeSeverity(Severity.CRITICAL, "All users affected")
            ),
        )
        assert event.previous is Severity.MODERATE
        assert case.severity is Severity.CRITICAL

    def test_refuses_an_unchanged_severity(self) -> None:
        case = given(received())
        then_refused(
            case,
            lambda c: c.change_severity(ctx(at(1)), cmd.ChangeSeverity(Severity.MODERATE, "same")),
            errors.SeverityUnchangedError,
        )


class TestEscalation:
    def test_escalates_to_the_vendor_through_a_held_vehicle(self) -> None:
        case = given(received(), health_checked)
        [event] = then_events(case, escalate_to_vendor)
        assert isinstance(event, SupportCase.Escalated)
        assert (event.number, event.vehicle) == (1, ASFP)
        assert case.status is CaseStatus.ESCALATED
        assert case.open_escalation is not None
        assert case.open_escalation.escalated_at == at(5)

    def test_refuses_escalating_before_the_service_health_check(self) -> None:
        case = given(received())
        then_refused(case, escalate_to_vendor, errors.ServiceHealthNotCheckedError)

    def test_refuses_a_technical_vehicle_the_partner_does_not_hold(self) -> None:
        case = given(received(), health_checked)
        error = then_refused(
            case,
            lambda c: escalate_to_vendor(c, vehicle=PSFP),
            errors.VehicleNotHeldError,
        )
        assert "premier support for partners" in error.message

    def test_commercial_support_is_open_to_every_partner(self) -> None:
        case = given(received(CaseCategory.COMMERCIAL))
        then_events(
            case,
            lambda c: escalate_to_vendor(
                c,
                category=EscalationCategory.COMMERCIAL_PROBLEM,
                vehicle=COMMERCIAL,
                paths=paths(held=()),
            ),
        )
        assert case.status is CaseStatus.ESCALATED

    @pytest.mark.parametrize(
        "category",
        [
            EscalationCategory.CONFIGURATION,
            EscalationCategory.HOW_TO,
            EscalationCategory.DOCUMENTED_ISSUE,
        ],
    )
    def test_refuses_categories_the_vendor_does_not_take(
        self, category: EscalationCategory
    ) -> None:
        case = given(received(), health_checked)
        then_refused(
            case,
            lambda c: escalate_to_vendor(c, category=category),
            errors.EscalationCategoryNotAcceptedError,
        )

    @pytest.mark.parametrize(
        ("category", "vehicle"),
        [
            (EscalationCategory.COMMERCIAL_PROBLEM, ASFP),
            (EscalationCategory.SERVICE_UNAVAILABLE, COMMERCIAL),
            (EscalationCategory.SERVICE_UNAVAILABLE, None),
        ],
    )
    def test_refuses_a_vehicle_that_does_not_fit_the_problem(
        self, category: EscalationCategory, vehicle: EscalationVehicle | None
    ) -> None:
        case = given(received(), health_checked)
        then_refused(
            case,
            lambda c: escalate_to_vendor(c, category=category, vehicle=vehicle),
            errors.VehicleDoesNotFitCategoryError,
        )

    def test_refuses_calling_a_documented_problem_undocumented(self) -> None:
        case = given(
            received(),
            lambda c: c.check_service_health(ctx(at(1)), cmd.CheckServiceHealth(advisory())),
        )
        then_refused(
            case,
            lambda c: escalate_to_vendor(c, category=EscalationCategory.UNDOCUMENTED_PROBLEM),
            errors.ProblemIsDocumentedError,
        )

    def test_refuses_a_second_escalation_while_one_is_open(self) -> None:
        case = given(received(), health_checked, escalate_to_vendor)
        then_refused(case, escalate_to_vendor, errors.EscalationAlreadyOpenError)

    def test_an_indirect_reseller_goes_to_its_provider_first(self) -> None:
        indirect = paths(kind=PartnerKind.INDIRECT_RESELLER)
        case = given(received(), health_checked)
        then_refused(
            case,
            lambda c: escalate_to_vendor(c, paths=indirect),
            errors.IndirectProviderFirstError,
        )
        escalate_to_vendor(
            case,
            target=EscalationTarget.INDIRECT_PROVIDER,
            vehicle=None,
            paths=indirect,
        )
        case.record_hand_back(ctx(at(20)), cmd.RecordHandBack("Provider confirms a service defect"))
        escalate_to_vendor(case, minute=21, paths=indirect)
        assert [e.target for e in case.escalations] == [
            EscalationTarget.INDIRECT_PROVIDER,
            EscalationTarget.VENDOR,
        ]

    def test_a_direct_bill_partner_has_no_indirect_provider(self) -> None:
        case = given(received(), health_checked)
        then_refused(
            case,
            lambda c: escalate_to_vendor(
                c, target=EscalationTarget.INDIRECT_PROVIDER, vehicle=None
            ),
            errors.NoIndirectProviderError,
        )

    def test_records_reference_updates_and_hand_back_on_the_vendor_clock(self) -> None:
        case = given(received(), health_checked, escalate_to_vendor)
        case.record_vendor_reference(ctx(at(6)), cmd.RecordVendorReference("2603020010001234"))
        case.record_vendor_update(
            ctx(at(60)), cmd.RecordVendorUpdate("Engineering reproduced the issue")
        )
        case.record_hand_back(
            ctx(at(120)), cmd.RecordHandBack("Fix deployed to the tenant's forest")
        )
        [escalation] = case.escalations
        assert escalation.vendor_reference == "2603020010001234"
        assert [u.text for u in escalation.updates] == ["Engineering reproduced the issue"]
        assert (escalation.escalated_at, escalation.handed_back_at) == (at(5), at(120))
        assert case.status is CaseStatus.IN_PROGRESS

    def test_refuses_a_second_vendor_reference(self) -> None:
        case = given(
            received(),
            health_checked,
            escalate_to_vendor,
            lambda c: c.record_vendor_reference(ctx(at(6)), cmd.RecordVendorReference("123")),
        )
        then_refused(
            case,
            lambda c: c.record_vendor_reference(ctx(at(7)), cmd.RecordVendorReference("456")),
            errors.VendorReferenceAlreadyRecordedError,
        )

    @pytest.mark.parametrize(
        "step",
        [
            lambda c: c.record_vendor_reference(ctx(at(6)), cmd.RecordVendorReference("123")),
            lambda c: c.record_vendor_update(ctx(at(6)), cmd.RecordVendorUpdate("news")),
            lambda c: c.record_hand_back(ctx(at(6)), cmd.RecordHandBack("done")),
        ],
    )
    def test_vendor_news_needs_an_open_escalation(self, step: object) -> None:
        case = given(received(), health_checked)
        then_refused(case, step, errors.NoOpenEscalationError)  # type: ignore[arg-type]

    def test_cannot_resolve_while_the_vendor_has_the_case(self) -> None:
        case = given(received(), health_checked, escalate_to_vendor)
        then_refused(case, resolved, errors.EscalationStillOpenError)


class TestResolveCloseReopen:
    def test_resolves_closes_and_reopens_within_the_window(self) -> None:
        case = given(received(), health_checked, resolved, closed)
        assert case.status is CaseStatus.CLOSED
        [event] = then_events(
            case, lambda c: c.reopen(ctx(at(40) + timedelta(days=14)), cmd.Reopen("Came back"))
        )
        assert isinstance(event, SupportCase.Reopened)
        assert case.status is CaseStatus.IN_PROGRESS
        assert case.reopen_count == 1

    def test_refuses_reopening_after_the_window(self) -> None:
        case = given(received(), health_checked, resolved, closed)
        error = then_refused(
            case,
            lambda c: c.reopen(ctx(at(41) + timedelta(days=14)), cmd.Reopen("Too late")),
            errors.ReopenWindowExpiredError,
        )
        assert "14 days" in error.message

    def test_the_window_is_the_one_in_force_at_receipt(self) -> None:
        """A case received under 3-day terms keeps them."""
        case = given(
            received(terms=published(reopen_window_days=3)),
            health_checked,
            resolved,
            closed,
        )
        then_refused(
            case,
            lambda c: c.reopen(ctx(at(40) + timedelta(days=4)), cmd.Reopen("Late")),
            errors.ReopenWindowExpiredError,
        )

    def test_a_resolved_case_can_be_reopened_before_it_is_closed(self) -> None:
        case = given(received(), health_checked, resolved)
        then_events(case, lambda c: c.reopen(ctx(at(35)), cmd.Reopen("Still broken")))
        assert case.resolution is None

    def test_only_resolved_cases_close(self) -> None:
        case = given(received(), health_checked)
        then_refused(case, closed, errors.CaseNotResolvedError)

    def test_only_resolved_cases_reopen(self) -> None:
        case = given(received())
        then_refused(
            case, lambda c: c.reopen(ctx(at(3)), cmd.Reopen("x")), errors.CaseNotResolvedError
        )

    def test_cannot_resolve_twice(self) -> None:
        case = given(received(), health_checked, resolved)
        then_refused(case, resolved, errors.CaseAlreadyResolvedError)

    def test_resolving_ends_a_wait_on_the_customer(self) -> None:
        case = given(
            received(),
            health_checked,
            lambda c: c.wait_on_customer(ctx(at(2)), cmd.WaitOnCustomer("trace")),
        )
        events = then_events(case, resolved)
        assert [type(e) for e in events] == [
            SupportCase.WaitingOnCustomerEnded,
            SupportCase.Resolved,
        ]

    @pytest.mark.parametrize(
        "step",
        [
            lambda c: c.add_note(ctx(at(50)), cmd.AddNote("note")),
            lambda c: c.assign(ctx(at(50)), cmd.Assign("agent-bo")),
            lambda c: c.record_communication(
                ctx(at(50)), cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, "hi")
            ),
            lambda c: c.check_service_health(ctx(at(50)), cmd.CheckServiceHealth(None)),
            lambda c: c.change_severity(ctx(at(50)), cmd.ChangeSeverity(Severity.CRITICAL, "x")),
            lambda c: c.close(ctx(at(50))),
            lambda c: c.resolve(ctx(at(50)), cmd.Resolve(ResolutionCode.ANSWERED, "x")),
        ],
    )
    def test_a_closed_case_accepts_no_other_change(self, step: object) -> None:
        case = given(received(), health_checked, resolved, closed)
        then_refused(case, step, errors.CaseClosedError)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "step",
        [
            lambda c: c.record_diagnosis(ctx(at(50)), cmd.RecordDiagnosis("more")),
            lambda c: c.wait_on_customer(ctx(at(50)), cmd.WaitOnCustomer("x")),
            escalate_to_vendor,
        ],
    )
    def test_a_resolved_case_must_be_reopened_for_more_work(self, step: object) -> None:
        case = given(received(), health_checked, resolved)
        then_refused(case, step, errors.CaseResolvedError)  # type: ignore[arg-type]


class TestMetadata:
    def test_every_event_carries_actor_moments_correlation_and_source(self) -> None:
        clerk = Actor("svc-import", Role.SYSTEM)
        case = given(received())
        command = ctx(at(9), actor=clerk, occurred_at=at(3), source=Source.IMPORT)
        [event] = then_events(
            case, lambda c: c.add_note(command, cmd.AddNote("Imported from Partner Center"))
        )
        assert event.meta.actor == clerk
        assert event.meta.occurred_at == at(3)
        assert event.timestamp == at(9)
        assert event.meta.source is Source.IMPORT
        assert event.meta.correlation_id == command.correlation_id


class TestBillingQuestions:
    def test_links_a_billing_case_to_its_account(self) -> None:
        account_id = uuid4()
        case = given(received(CaseCategory.BILLING))
        [event] = then_events(case, lambda c: c.link_billing_account(ctx(at(1)), account_id))
        assert isinstance(event, SupportCase.BillingAccountLinked)
        assert case.billing_account_id == account_id

    def test_refuses_linking_a_technical_case(self) -> None:
        case = given(received())
        then_refused(
            case,
            lambda c: c.link_billing_account(ctx(at(1)), uuid4()),
            errors.NotABillingCaseError,
        )

    def test_refuses_linking_twice_to_the_same_account(self) -> None:
        account_id = uuid4()
        case = given(
            received(CaseCategory.BILLING),
            lambda c: c.link_billing_account(ctx(at(1)), account_id),
        )
        then_refused(
            case,
            lambda c: c.link_billing_account(ctx(at(2)), account_id),
            errors.AlreadyLinkedError,
        )


def test_a_technical_escalation_of_a_billing_case_needs_the_check() -> None:
    """The escalation's category, not the case's, says it is technical."""
    case = given(received(CaseCategory.BILLING))
    then_refused(
        case,
        lambda c: escalate_to_vendor(c, category=EscalationCategory.SERVICE_UNAVAILABLE),
        errors.ServiceHealthNotCheckedError,
    )


def test_a_nul_character_is_refused_in_any_text() -> None:
    """Stores cannot keep a NUL character: it is refused before anything is recorded."""
    case = given(received())
    then_refused(
        case,
        lambda c: c.add_note(ctx(at(1)), cmd.AddNote("before\x00after")),
        errors.InvalidValueError,
    )
