"""The support case: a customer's request from intake to close, and back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from cases.domain import case_commands as c
from cases.domain import errors
from cases.domain.audited import AuditedAggregate
from cases.domain.case_clocks import ClockedCase, ClockFact
from cases.domain.case_values import (
    CaseCategory,
    CaseStatus,
    Contact,
    Direction,
    Escalation,
    EscalationCategory,
    EscalationPaths,
    EscalationTarget,
    Resolution,
    ResolutionCode,
    VendorAdvisory,
    VendorUpdate,
    line_text,
    summary_text,
)
from cases.domain.dating import check_within_allowance, may_record_late
from cases.domain.deliveries import Delivery, DeliveryFact, DeliveryHistory, RecordDelivery
from cases.domain.metadata import CommandContext, Role
from cases.domain.permissions import works_category
from cases.domain.service_clocks import ClockKind, ServiceClock, ServiceLevelTerms
from cases.domain.support_offering import PublishedTerms
from cases.domain.support_terms import Channel, EscalationVehicle, PartnerKind, Severity
from cases.domain.text import TEXT_LIMIT, TITLE_LIMIT, aware, required_text
from cases.domain.vendor_request import VendorRequestDraft


class SupportCase(ClockedCase, DeliveryHistory):
    """A customer's support request, judged against the terms it arrived under."""

    # 2: `_course_changed_at` (ADR 32; bookkeeping, not shown in replays); older
    # snapshots are upcast. 3: `incident_resolved` (issue 17).
    class_version = 3

    # Events ---------------------------------------------------------------

    class Received(AuditedAggregate.Created):
        customer_id: str
        contact: Contact
        channel: Channel
        product: str
        category: CaseCategory
        severity: Severity
        title: str
        description: str
        received_at: datetime
        terms_version: int
        reopen_window_days: int
        service_levels: ServiceLevelTerms

    class ServiceHealthChecked(AuditedAggregate.Event):
        advisory: VendorAdvisory | None

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.took_step(self.meta.occurred_at)
            case.health_checked = True
            case.matched_advisory = self.advisory
            case.incident_resolved = False
            case.started_work = True

    class LinkedIncidentResolved(AuditedAggregate.Event):
        """The vendor resolved the issue the case's health check matched."""

        vendor_id: str
        status: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.incident_resolved = True

    class DiagnosisRecorded(AuditedAggregate.Event):
        findings: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.findings = (*case.findings, self.findings)
            case.started_work = True

    class CommunicationRecorded(AuditedAggregate.Event):
        direction: Direction
        channel: Channel
        summary: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.took_step(self.meta.occurred_at)
            case.communications += 1
            if self.direction is Direction.OUTBOUND and case.first_response_at is None:
                case.first_response_at = self.meta.occurred_at

    class WaitingOnCustomerStarted(AuditedAggregate.Event):
        reason: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.took_step(self.meta.occurred_at)
            case.waiting_on_customer_since = self.meta.occurred_at

    class WaitingOnCustomerEnded(AuditedAggregate.Event):
        reason: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.took_step(self.meta.occurred_at)
            case.waiting_on_customer_since = None

    class Assigned(AuditedAggregate.Event):
        agent_id: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.assignee = self.agent_id

    class SeverityChanged(AuditedAggregate.Event):
        previous: Severity
        severity: Severity
        reason: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.took_step(self.meta.occurred_at)
            case.severity = self.severity

    class Escalated(AuditedAggregate.Event):
        number: int
        target: EscalationTarget
        category: EscalationCategory
        vehicle: EscalationVehicle | None
        reason: str
        # The indirect provider, named from the customer directory (None: the
        # vendor, or a provider the directory does not name; older events).
        provider: str | None = None

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.took_step(self.meta.occurred_at)
            escalation = Escalation(
                number=self.number,
                target=self.target,
                category=self.category,
                vehicle=self.vehicle,
                reason=self.reason,
                escalated_at=self.meta.occurred_at,
                provider=self.provider,
            )
            case.escalations = (*case.escalations, escalation)

    class VendorReferenceRecorded(AuditedAggregate.Event):
        number: int
        reference: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.replace_escalation(case.escalation(self.number).with_reference(self.reference))

    class VendorRequestOpened(AuditedAggregate.Event):
        """A support request was opened with the vendor; its id is the reference."""

        number: int
        request_id: str
        status: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            escalation = case.escalation(self.number)
            case.replace_escalation(escalation.with_request(self.request_id, self.status))

    class VendorRequestStatusChanged(AuditedAggregate.Event):
        number: int
        status: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            escalation = case.escalation(self.number)
            case.replace_escalation(escalation.with_vendor_status(self.status))

    class VendorNoteImported(AuditedAggregate.Event):
        """A note the vendor wrote on its request, imported as a vendor update."""

        number: int
        text: str
        noted_at: datetime | None

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            update = VendorUpdate(self.meta.occurred_at, self.text)
            case.replace_escalation(case.escalation(self.number).with_vendor_note(update))

    class VendorUpdateRecorded(AuditedAggregate.Event):
        number: int
        text: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            update = VendorUpdate(self.meta.occurred_at, self.text)
            case.replace_escalation(case.escalation(self.number).with_update(update))

    class HandedBack(AuditedAggregate.Event):
        number: int
        summary: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.took_step(self.meta.occurred_at)
            escalation = case.escalation(self.number)
            case.replace_escalation(escalation.handed_back(self.meta.occurred_at, self.summary))

    class Resolved(AuditedAggregate.Event):
        code: ResolutionCode
        summary: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.took_step(self.meta.occurred_at)
            case.resolution = Resolution(self.code, self.summary, self.meta.occurred_at)

    class Closed(AuditedAggregate.Event):
        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.took_step(self.meta.occurred_at)
            case.closed_at = self.meta.occurred_at

    class Reopened(AuditedAggregate.Event):
        reason: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.took_step(self.meta.occurred_at)
            case.resolution = None
            case.closed_at = None
            case.reopen_count += 1

    class BillingAccountLinked(AuditedAggregate.Event):
        account_id: UUID

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.billing_account_id = self.account_id

    class NoteAdded(AuditedAggregate.Event):
        text: str

        def apply(self, aggregate: Any) -> None:
            case: SupportCase = aggregate
            case.note_count += 1

    class DeliveryRecorded(DeliveryFact, AuditedAggregate.Event):
        """What became of a message sent to the case's contact (ADR 50)."""

        delivery: Delivery

    # State ----------------------------------------------------------------

    def __init__(
        self,
        *,
        customer_id: str,
        contact: Contact,
        channel: Channel,
        product: str,
        category: CaseCategory,
        severity: Severity,
        title: str,
        description: str,
        received_at: datetime,
        terms_version: int,
        reopen_window_days: int,
        service_levels: ServiceLevelTerms | None = None,
    ) -> None:
        self.customer_id = customer_id
        self.contact = contact
        self.channel = channel
        self.product = product
        self.category = category
        self.severity = severity
        self.title = title
        self.description = description
        self.received_at = received_at
        self.terms_version = terms_version
        self.reopen_window_days = reopen_window_days
        self.health_checked = False
        self.matched_advisory: VendorAdvisory | None = None
        self.incident_resolved = False
        self.findings: tuple[str, ...] = ()
        self.started_work = False
        self.communications = 0
        self.first_response_at: datetime | None = None
        self.waiting_on_customer_since: datetime | None = None
        self.assignee: str | None = None
        self.escalations: tuple[Escalation, ...] = ()
        self.resolution: Resolution | None = None
        self.closed_at: datetime | None = None
        self.reopen_count = 0
        self.note_count = 0
        self.billing_account_id: UUID | None = None
        # None on cases recorded before service levels were kept: no clocks.
        self.service_levels = service_levels
        self.clocks: tuple[ServiceClock, ...] = ()
        # When the latest step that set the case's course happened (ADR 32).
        self._course_changed_at = received_at

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A snapshot taken before ADR 32: the latest step its state still shows
        (receipt, first response, wait, escalations, resolution, close). It may be
        earlier than the true one, never later, so it refuses nothing wrongly."""
        moments: list[datetime | None] = [
            state["received_at"],
            state["first_response_at"],
            state["waiting_on_customer_since"],
            state["closed_at"],
        ]
        resolution: Resolution | None = state["resolution"]
        if resolution is not None:
            moments.append(resolution.resolved_at)
        for escalation in state["escalations"]:
            moments += [escalation.escalated_at, escalation.handed_back_at]
        state["_course_changed_at"] = max(m for m in moments if m is not None)

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """A snapshot taken before incidents were imported: none was resolved."""
        state["incident_resolved"] = False

    def took_step(self, at: datetime) -> None:
        """Note a step that sets the case's course (its status or its clocks)."""
        self._course_changed_at = max(self._course_changed_at, at)

    @property
    def status(self) -> CaseStatus:
        if self.closed_at is not None:
            return CaseStatus.CLOSED
        if self.resolution is not None:
            return CaseStatus.RESOLVED
        if self.open_escalation is not None:
            return CaseStatus.ESCALATED
        if self.waiting_on_customer_since is not None:
            return CaseStatus.WAITING_ON_CUSTOMER
        if self.started_work or self.communications or self.reopen_count:
            return CaseStatus.IN_PROGRESS
        return CaseStatus.NEW

    @property
    def open_escalation(self) -> Escalation | None:
        if self.escalations and self.escalations[-1].is_open:
            return self.escalations[-1]
        return None

    def escalation(self, number: int) -> Escalation:
        return self.escalations[number - 1]

    def replace_escalation(self, escalation: Escalation) -> None:
        index = escalation.number - 1
        self.escalations = (
            *self.escalations[:index],
            escalation,
            *self.escalations[index + 1 :],
        )

    # Commands -------------------------------------------------------------

    @classmethod
    def receive(
        cls, ctx: CommandContext, command: c.TakeIn, *, case_id: UUID, terms: PublishedTerms
    ) -> SupportCase:
        """Take in a customer's request, received at `received_at` (None: when
        the intake happens). A customer's request is received when recorded."""
        received_at = command.received_at or ctx.occurred_at
        aware("received_at", received_at)
        if received_at > ctx.recorded_at:
            raise errors.ReceivedInFutureError(
                "a request cannot be received after the moment it is recorded"
            )
        if ctx.actor.role is Role.CUSTOMER and received_at != ctx.recorded_at:
            raise errors.CustomerCannotDateActsError(
                "a customer's request is received when it is recorded: send no received_at"
            )
        check_within_allowance(ctx, "received_at", received_at)
        if command.contact is None:
            raise errors.InvalidValueError(
                "a request names its contact: give one, or pick one from the directory"
            )
        case = cls._start(
            cls.Received,
            ctx,
            case_id,
            customer_id=required_text("customer id", command.customer_id, 100),
            contact=command.contact,
            channel=command.channel,
            product=line_text("product", command.product),
            category=command.category,
            severity=command.severity,
            title=required_text("title", command.title, TITLE_LIMIT),
            description=summary_text("description", command.description),
            received_at=received_at,
            terms_version=terms.version,
            reopen_window_days=terms.terms.reopen_window_days,
            service_levels=ServiceLevelTerms(terms.terms.service_hours, terms.terms.targets),
        )
        case.start_clock(ctx, ClockKind.FIRST_RESPONSE, received_at)
        case.start_clock(ctx, ClockKind.RESOLUTION, received_at)
        case.record_due_breaches(ctx, max(received_at, ctx.occurred_at))
        return case

    def check_service_health(
        self,
        ctx: CommandContext,
        command: c.CheckServiceHealth,
        imported: VendorAdvisory | None = None,
    ) -> None:
        """Record the service-health check and the advisory it matched, if any:
        the one described, or the `imported` one the command names by id."""
        self.check_open_for_work(ctx)
        advisory = command.advisory
        if command.advisory_id is not None:
            if advisory is not None:
                raise errors.AdvisoryNamedTwiceError(
                    "name an imported advisory by advisory_id or describe one, not both"
                )
            if imported is None or imported.vendor_id != command.advisory_id.strip().upper():
                raise errors.AdvisoryNotImportedError(
                    f"no advisory {command.advisory_id} has been imported"
                )
            advisory = imported
        self.record_due_breaches(ctx)
        self._record(self.ServiceHealthChecked, ctx, advisory=advisory)

    def note_incident_resolved(self, ctx: CommandContext, vendor_id: str, status: str) -> bool:
        """Tell an open case that the issue its check matched is resolved; a
        case that matched another, or is resolved, or was told, records nothing."""
        advisory = self.matched_advisory
        if (
            advisory is None
            or advisory.vendor_id != vendor_id
            or self.incident_resolved
            or self.resolution is not None
            or self.closed_at is not None
        ):
            return False
        self.record_due_breaches(ctx)
        self._record(self.LinkedIncidentResolved, ctx, vendor_id=vendor_id, status=status)
        return True

    def record_diagnosis(self, ctx: CommandContext, command: c.RecordDiagnosis) -> None:
        self.check_open_for_work(ctx)
        self.check_service_health_checked("diagnose")
        findings = summary_text("findings", command.findings)
        self.record_due_breaches(ctx)
        self._record(self.DiagnosisRecorded, ctx, findings=findings)

    def record_communication(self, ctx: CommandContext, command: c.RecordCommunication) -> None:
        """Record a message to or from the customer; a reply ends a wait on them.

        An outbound message fulfils the first-response clock (the first time) and
        the running next-update clock, and starts the next one while the case is
        open.
        """
        self.check_not_closed(ctx)
        summary = summary_text("summary", command.summary)
        self.record_due_breaches(ctx)
        self._record(
            self.CommunicationRecorded,
            ctx,
            direction=command.direction,
            channel=command.channel,
            summary=summary,
        )
        if command.direction is Direction.INBOUND:
            if self.waiting_on_customer_since is not None:
                self.end_wait_on_customer(ctx, "customer replied")
            return
        for kind in (ClockKind.FIRST_RESPONSE, ClockKind.NEXT_UPDATE):
            self.finish_clock(ctx, kind, fulfilled=True)
        if self.resolution is None:
            self.start_clock(ctx, ClockKind.NEXT_UPDATE, ctx.occurred_at)

    def wait_on_customer(self, ctx: CommandContext, command: c.WaitOnCustomer) -> None:
        self.check_open_for_work(ctx)
        if self.waiting_on_customer_since is not None:
            raise errors.AlreadyWaitingOnCustomerError(
                "the case is already waiting on the customer"
            )
        reason = line_text("reason", command.reason)
        self.record_due_breaches(ctx)
        self._record(self.WaitingOnCustomerStarted, ctx, reason=reason)
        self.pause_customer_clocks(ctx)

    def stop_waiting_on_customer(
        self, ctx: CommandContext, command: c.StopWaitingOnCustomer
    ) -> None:
        self.check_not_closed(ctx)
        if self.waiting_on_customer_since is None:
            raise errors.NotWaitingOnCustomerError("the case is not waiting on the customer")
        reason = line_text("reason", command.reason)
        self.record_due_breaches(ctx)
        self.end_wait_on_customer(ctx, reason)

    def assign(self, ctx: CommandContext, command: c.Assign) -> None:
        self.check_not_closed(ctx)
        agent_id = required_text("agent id", command.agent_id, 100)
        if agent_id == self.assignee:
            raise errors.AlreadyAssignedError(f"the case is already assigned to {agent_id}")
        self.record_due_breaches(ctx)
        self._record(self.Assigned, ctx, agent_id=agent_id)

    def record_delivery(self, ctx: CommandContext, command: RecordDelivery) -> None:
        """Record a message's outcome, once per message and outcome; on a closed
        case too (a reply sent as it closed is delivered after)."""
        if not self.has_recorded(command.delivery):
            self._record(self.DeliveryRecorded, ctx, delivery=command.delivery)

    def change_severity(self, ctx: CommandContext, command: c.ChangeSeverity) -> None:
        severity = command.severity
        self.check_open_for_work(ctx)
        if severity is self.severity:
            raise errors.SeverityUnchangedError(f"the case is already {severity.value}")
        reason = line_text("reason", command.reason)
        self.record_due_breaches(ctx)
        self._record(
            self.SeverityChanged,
            ctx,
            previous=self.severity,
            severity=severity,
            reason=reason,
        )
        for clock in self.clocks:
            if not clock.is_finished:
                self.retarget_clock(ctx, clock)
        self.record_due_breaches(ctx)

    def escalate(self, ctx: CommandContext, command: c.Escalate, paths: EscalationPaths) -> int:
        """Hand the case to the vendor or the indirect provider, through what the
        partner holds (`paths`); return the escalation's number."""
        target, category, vehicle = command.target, command.category, command.vehicle
        self.check_open_for_work(ctx)
        self.check_no_open_escalation()
        self.check_escalation_route(target, paths)
        to_vendor = target is EscalationTarget.VENDOR
        if to_vendor:  # the provider supports its reseller with any kind of problem
            self.check_vendor_takes(category)
            self.check_vehicle(category, vehicle, paths)
        elif vehicle is not None:
            raise errors.VehicleDoesNotFitCategoryError(
                "vendor support vehicles are for escalations to the vendor, "
                "not to the indirect provider"
            )
        needs_check = category.vendor_takes and not category.is_commercial
        if needs_check and not self.health_checked:
            # A technical problem needs the check whatever the case's category.
            raise errors.ServiceHealthNotCheckedError(
                "check the vendor's service health before escalating a technical problem"
            )
        number = len(self.escalations) + 1
        reason = summary_text("reason", command.reason)
        self.record_due_breaches(ctx)
        self._record(
            self.Escalated,
            ctx,
            number=number,
            target=target,
            category=category,
            vehicle=vehicle,
            reason=reason,
            provider=None if to_vendor else paths.indirect_provider,
        )
        self.start_clock(ctx, ClockKind.VENDOR, ctx.occurred_at, number=number)
        return number

    def record_vendor_reference(
        self, ctx: CommandContext, command: c.RecordVendorReference
    ) -> None:
        escalation = self.check_open_escalation(ctx)
        if escalation.vendor_reference is not None:
            raise errors.VendorReferenceAlreadyRecordedError(
                f"escalation {escalation.number} already has the reference "
                f"{escalation.vendor_reference}"
            )
        reference = required_text("vendor reference", command.reference, 100)
        self.record_due_breaches(ctx)
        self._record(
            self.VendorReferenceRecorded, ctx, number=escalation.number, reference=reference
        )

    def check_may_open_vendor_request(self, ctx: CommandContext) -> Escalation:
        """The open escalation to the vendor a request can be opened for."""
        escalation = self.check_open_escalation(ctx)
        if escalation.target is not EscalationTarget.VENDOR:
            raise errors.NotEscalatedToVendorError(
                f"escalation {escalation.number} went to the indirect provider, not the vendor"
            )
        if escalation.vendor_reference is not None:
            raise errors.VendorReferenceAlreadyRecordedError(
                f"escalation {escalation.number} already has the reference "
                f"{escalation.vendor_reference}"
            )
        return escalation

    def vendor_request_draft(
        self, ctx: CommandContext, command: c.OpenVendorRequest
    ) -> VendorRequestDraft:
        """The request to send the vendor for the open escalation, checked."""
        self.check_may_open_vendor_request(ctx)
        notes = command.notes
        return VendorRequestDraft(
            title=required_text("title", command.title, TITLE_LIMIT),
            description=summary_text("description", command.description),
            severity=command.severity,
            support_topic_id=required_text("support topic id", command.support_topic_id, 100),
            contact=self.contact,
            customer_id=self.customer_id,
            notes=None if notes is None or not notes.strip() else summary_text("notes", notes),
        )

    def record_vendor_request(self, ctx: CommandContext, request_id: str, status: str) -> int:
        """Record the request the vendor opened; return the escalation's number."""
        escalation = self.check_may_open_vendor_request(ctx)
        reference = required_text("vendor request id", request_id, 100)
        self.record_due_breaches(ctx)
        self._record(
            self.VendorRequestOpened,
            ctx,
            number=escalation.number,
            request_id=reference,
            status=status,
        )
        return escalation.number

    def import_vendor_request(
        self,
        ctx: CommandContext,
        number: int,
        status: str,
        notes: tuple[tuple[datetime | None, str], ...],
    ) -> int:
        """Record the vendor request's new status and the notes not yet imported
        (notes only grow); return how many events that took. A request whose
        escalation was handed back, or a closed case, takes nothing."""
        if self.closed_at is not None or number > len(self.escalations):
            return 0
        escalation = self.escalation(number)
        if not escalation.is_open or not escalation.vendor_request:
            return 0
        recorded = 0
        for noted_at, text in notes[escalation.vendor_notes :]:
            self._record(
                self.VendorNoteImported,
                ctx,
                number=number,
                text=summary_text("vendor note", text[:TEXT_LIMIT] or "(an empty note)"),
                noted_at=noted_at,
            )
            recorded += 1
        if status != escalation.vendor_status:
            self._record(self.VendorRequestStatusChanged, ctx, number=number, status=status)
            recorded += 1
        return recorded

    def record_vendor_update(self, ctx: CommandContext, command: c.RecordVendorUpdate) -> None:
        escalation = self.check_open_escalation(ctx)
        text = summary_text("vendor update", command.text)
        self.record_due_breaches(ctx)
        self._record(self.VendorUpdateRecorded, ctx, number=escalation.number, text=text)

    def record_hand_back(self, ctx: CommandContext, command: c.RecordHandBack) -> None:
        escalation = self.check_open_escalation(ctx)
        summary = summary_text("hand-back summary", command.summary)
        self.record_due_breaches(ctx)
        self._record(self.HandedBack, ctx, number=escalation.number, summary=summary)
        self.finish_clock(ctx, ClockKind.VENDOR, fulfilled=True, number=escalation.number)

    def resolve(self, ctx: CommandContext, command: c.Resolve) -> None:
        self.check_not_closed(ctx)
        if self.resolution is not None:
            raise errors.CaseAlreadyResolvedError("the case is already resolved")
        if self.open_escalation is not None:
            raise errors.EscalationStillOpenError(
                f"escalation {self.open_escalation.number} is still open: record the "
                "vendor's hand-back before resolving"
            )
        self.check_service_health_checked("resolve")
        summary = summary_text("summary", command.summary)
        self.record_due_breaches(ctx)
        if self.waiting_on_customer_since is not None:
            self.end_wait_on_customer(ctx, "case resolved")
        self._record(self.Resolved, ctx, code=command.code, summary=summary)
        self.finish_clock(ctx, ClockKind.RESOLUTION, fulfilled=True)
        self.finish_clock(
            ctx, ClockKind.FIRST_RESPONSE, fulfilled=False, reason="resolved before a response"
        )
        self.finish_clock(ctx, ClockKind.NEXT_UPDATE, fulfilled=False, reason="case resolved")

    def close(self, ctx: CommandContext, _command: c.Close | None = None) -> None:
        self.check_not_closed(ctx)
        if self.resolution is None:
            raise errors.CaseNotResolvedError("only a resolved case can be closed")
        self.record_due_breaches(ctx)
        self._record(self.Closed, ctx)

    def reopen(self, ctx: CommandContext, command: c.Reopen) -> None:
        """Reopen a resolved case, or a closed one within the terms' window.

        The window is judged when the reopening is recorded, so dating it back
        cannot bring a late reopening into the window; only an actor that may
        record late facts (an import of history) is judged when it happened."""
        self.check_role_works(ctx)
        self.check_occurred_after_receipt(ctx)
        if self.resolution is None:
            raise errors.CaseNotResolvedError("only a resolved or closed case can be reopened")
        self.check_after_previous_step(ctx)
        if self.closed_at is not None:
            window = timedelta(days=self.reopen_window_days)
            judged_at = ctx.occurred_at if may_record_late(ctx.actor) else ctx.recorded_at
            if judged_at - self.closed_at > window:
                raise errors.ReopenWindowExpiredError(
                    f"the case was closed at {self.closed_at.isoformat()}; its terms "
                    f"(version {self.terms_version}) allow reopening for "
                    f"{self.reopen_window_days} days, and it is "
                    f"{judged_at.isoformat()}"
                )
        reason = line_text("reason", command.reason)
        self.record_due_breaches(ctx)
        self._record(self.Reopened, ctx, reason=reason)
        resolution = self.latest_clock(ClockKind.RESOLUTION)
        if resolution is not None and resolution.fulfilled:
            self.resume_clock(ctx, resolution)
        self.start_clock(ctx, ClockKind.NEXT_UPDATE, ctx.occurred_at)

    def link_billing_account(self, ctx: CommandContext, account_id: UUID) -> None:
        """Link a billing question to the account it concerns."""
        if self.category is not CaseCategory.BILLING:
            raise errors.NotABillingCaseError(
                f"only billing cases link to a billing account; this one is {self.category.value}"
            )
        self.check_not_closed(ctx)
        if self.billing_account_id == account_id:
            raise errors.AlreadyLinkedError(f"the case is already linked to {account_id}")
        self.record_due_breaches(ctx)
        self._record(self.BillingAccountLinked, ctx, account_id=account_id)

    def add_note(self, ctx: CommandContext, command: c.AddNote) -> None:
        self.check_not_closed(ctx)
        text = summary_text("note", command.text)
        self.record_due_breaches(ctx)
        self._record(self.NoteAdded, ctx, text=text)

    def end_wait_on_customer(self, ctx: CommandContext, reason: str) -> None:
        self._record(self.WaitingOnCustomerEnded, ctx, reason=reason)
        self.resume_customer_clocks(ctx)

    # Rules ----------------------------------------------------------------

    def check_role_works(self, ctx: CommandContext) -> None:
        """A billing admin works billing cases, a sales agent purchase and
        subscription cases (DOMAIN.md); every other role that may work cases, all."""
        role = ctx.actor.role
        if not works_category(role, self.category):
            raise errors.CategoryNotWorkedByRoleError(
                f"a {role.value.replace('_', ' ')} does not work {self.category.value} cases"
            )

    def check_occurred_after_receipt(self, ctx: CommandContext) -> None:
        if ctx.occurred_at < self.received_at:
            raise errors.OccurredBeforeReceiptError(
                f"the case was received at {self.received_at.isoformat()}; nothing "
                f"can happen to it at {ctx.occurred_at.isoformat()}"
            )

    def check_after_previous_step(self, ctx: CommandContext) -> None:
        """An act is dated no earlier than the latest step that set the case's
        course: a close not before its resolution, nothing before the wait,
        escalation, hand-back or reply it follows (ADR 32)."""
        if ctx.occurred_at < self._course_changed_at:
            raise errors.OccurredBeforePreviousStepError(
                f"the case's latest step happened at {self._course_changed_at.isoformat()}; "
                f"an act that follows it cannot be dated {ctx.occurred_at.isoformat()}"
            )

    def check_not_closed(self, ctx: CommandContext) -> None:
        self.check_takes(ctx, work=False)

    def check_open_for_work(self, ctx: CommandContext) -> None:
        self.check_takes(ctx, work=True)

    def check_takes(self, ctx: CommandContext, *, work: bool) -> None:
        """The case takes an act at `ctx`: received by then, not closed, not
        resolved if it is `work`, and dated in order; the state refuses first."""
        self.check_role_works(ctx)
        self.check_occurred_after_receipt(ctx)
        if self.closed_at is not None:
            raise errors.CaseClosedError("the case is closed: it accepts no change but reopening")
        if work and self.resolution is not None:
            raise errors.CaseResolvedError("the case is resolved: reopen it first")
        self.check_after_previous_step(ctx)

    def check_service_health_checked(self, action: str) -> None:
        if self.category is CaseCategory.TECHNICAL and not self.health_checked:
            raise errors.ServiceHealthNotCheckedError(
                f"check the vendor's service health before you {action} a technical case"
            )

    def check_no_open_escalation(self) -> None:
        if self.open_escalation is not None:
            raise errors.EscalationAlreadyOpenError(
                f"escalation {self.open_escalation.number} is still open"
            )

    def check_open_escalation(self, ctx: CommandContext) -> Escalation:
        self.check_not_closed(ctx)
        escalation = self.open_escalation
        if escalation is None:
            raise errors.NoOpenEscalationError("the case has no open escalation")
        return escalation

    def check_escalation_route(self, target: EscalationTarget, paths: EscalationPaths) -> None:
        indirect = paths.partner_kind is PartnerKind.INDIRECT_RESELLER
        if target is EscalationTarget.INDIRECT_PROVIDER and not indirect:
            raise errors.NoIndirectProviderError(
                "a direct-bill partner escalates to the vendor; it has no indirect provider"
            )
        went_to_provider = any(
            e.target is EscalationTarget.INDIRECT_PROVIDER for e in self.escalations
        )
        if target is EscalationTarget.VENDOR and indirect and not went_to_provider:
            raise errors.IndirectProviderFirstError(
                "an indirect reseller escalates to its indirect provider first"
            )

    def check_vendor_takes(self, category: EscalationCategory) -> None:
        if not category.vendor_takes:
            raise errors.EscalationCategoryNotAcceptedError(
                f"the vendor does not take {category.value.replace('_', ' ')} problems: "
                "they are within the partner's baseline support"
            )
        if (
            category is EscalationCategory.UNDOCUMENTED_PROBLEM
            and self.matched_advisory is not None
        ):
            raise errors.ProblemIsDocumentedError(
                f"the service-health check matched {self.matched_advisory.vendor_id}: "
                "the problem is documented"
            )

    @staticmethod
    def check_vehicle(
        category: EscalationCategory,
        vehicle: EscalationVehicle | None,
        paths: EscalationPaths,
    ) -> None:
        if vehicle is None:
            raise errors.VehicleDoesNotFitCategoryError(
                "an escalation to the vendor names the support vehicle it goes through"
            )
        if category.is_commercial == vehicle.is_technical:
            kind = "commercial" if category.is_commercial else "technical"
            raise errors.VehicleDoesNotFitCategoryError(
                f"a {kind} problem cannot go through {vehicle.value.replace('_', ' ')}"
            )
        if not paths.holds(vehicle):
            raise errors.VehicleNotHeldError(
                f"the partner does not hold {vehicle.value.replace('_', ' ')}"
            )


CLOCK_FACT_TYPES: tuple[type[ClockFact], ...] = tuple(
    cls
    for cls in vars(SupportCase).values()
    if isinstance(cls, type) and issubclass(cls, ClockFact)
)
"""The case's service-level clock facts, as the event types it records."""


DECISIONS: dict[type[c.CaseCommand], Callable[[SupportCase, CommandContext, Any], object]] = {
    c.CheckServiceHealth: SupportCase.check_service_health,
    c.RecordDiagnosis: SupportCase.record_diagnosis,
    c.RecordCommunication: SupportCase.record_communication,
    c.WaitOnCustomer: SupportCase.wait_on_customer,
    c.StopWaitingOnCustomer: SupportCase.stop_waiting_on_customer,
    c.Assign: SupportCase.assign,
    c.ChangeSeverity: SupportCase.change_severity,
    c.RecordVendorReference: SupportCase.record_vendor_reference,
    c.RecordVendorUpdate: SupportCase.record_vendor_update,
    c.RecordHandBack: SupportCase.record_hand_back,
    c.Resolve: SupportCase.resolve,
    c.Close: SupportCase.close,
    c.Reopen: SupportCase.reopen,
    c.AddNote: SupportCase.add_note,
    RecordDelivery: SupportCase.record_delivery,
}
"""The case's decision on each command but `Escalate`, which also needs the
escalation paths the partner holds under the terms in force."""
