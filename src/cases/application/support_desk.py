"""The support desk: the partner's support offering and its customers' cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from uuid import UUID, uuid4

from cases.application.caller import Caller
from cases.application.command_runner import CommandRunner, Receipt
from cases.domain.case_values import (
    CaseCategory,
    Contact,
    Direction,
    EscalationCategory,
    EscalationPaths,
    EscalationTarget,
    ResolutionCode,
    VendorAdvisory,
)
from cases.domain.errors import EvaluationInFutureError, NoTermsInForceError, NotFoundError
from cases.domain.metadata import CommandContext
from cases.domain.support_case import SupportCase
from cases.domain.support_offering import PublishedTerms, SupportOffering
from cases.domain.support_terms import (
    Channel,
    EscalationVehicle,
    Severity,
    SupportTerms,
)

R = TypeVar("R")


class SupportDesk:
    """Takes in, works, escalates and closes support cases."""

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner

    # The support offering -------------------------------------------------

    def publish_terms(
        self, caller: Caller, terms: SupportTerms, effective_from: datetime
    ) -> tuple[int, Receipt]:
        """Publish a new version of the support terms; return its number."""
        offering_id = SupportOffering.offering_id()
        if not self.runner.exists(SupportOffering, offering_id):
            self.runner.create(SupportOffering, caller, SupportOffering.establish)
        return self.runner.change(
            SupportOffering,
            offering_id,
            caller,
            lambda offering, ctx: offering.publish_terms(ctx, terms, effective_from),
        )

    def offering(self) -> SupportOffering:
        try:
            return self.runner.load(SupportOffering, SupportOffering.offering_id())
        except NotFoundError:
            raise NoTermsInForceError("no support terms have been published") from None

    def terms_in_force(self, moment: datetime) -> PublishedTerms:
        try:
            return self.runner.inspect(
                SupportOffering,
                SupportOffering.offering_id(),
                lambda offering: offering.in_force_at(moment),
            )
        except NotFoundError:
            raise NoTermsInForceError("no support terms have been published") from None

    # Intake -----------------------------------------------------------------

    def receive_case(
        self,
        caller: Caller,
        *,
        customer_id: str,
        contact: Contact,
        channel: Channel,
        product: str,
        category: CaseCategory,
        severity: Severity,
        title: str,
        description: str,
        received_at: datetime | None = None,
        case_id: UUID | None = None,
    ) -> Receipt:
        """Take in a request; it is judged by the terms in force when received
        (None: received when the intake happens)."""
        terms = self.terms_in_force(received_at or caller.occurred_at or self.runner.clock.now())
        return self.runner.create(
            SupportCase,
            caller,
            lambda ctx: SupportCase.receive(
                ctx,
                case_id=case_id or uuid4(),
                customer_id=customer_id,
                contact=contact,
                channel=channel,
                product=product,
                category=category,
                severity=severity,
                title=title,
                description=description,
                received_at=received_at,
                terms=terms,
            ),
        )

    def case(self, case_id: UUID) -> SupportCase:
        return self.runner.load(SupportCase, case_id)

    # Working a case ---------------------------------------------------------

    def check_service_health(
        self,
        caller: Caller,
        case_id: UUID,
        advisory: VendorAdvisory | None,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._on_case(
            caller,
            case_id,
            expected_version,
            lambda case, ctx: case.check_service_health(ctx, advisory),
        )

    def record_diagnosis(
        self,
        caller: Caller,
        case_id: UUID,
        findings: str,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._on_case(
            caller,
            case_id,
            expected_version,
            lambda case, ctx: case.record_diagnosis(ctx, findings),
        )

    def record_communication(
        self,
        caller: Caller,
        case_id: UUID,
        direction: Direction,
        channel: Channel,
        summary: str,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._on_case(
            caller,
            case_id,
            expected_version,
            lambda case, ctx: case.record_communication(ctx, direction, channel, summary),
        )

    def wait_on_customer(
        self,
        caller: Caller,
        case_id: UUID,
        reason: str,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._on_case(
            caller,
            case_id,
            expected_version,
            lambda case, ctx: case.wait_on_customer(ctx, reason),
        )

    def stop_waiting_on_customer(
        self,
        caller: Caller,
        case_id: UUID,
        reason: str,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._on_case(
            caller,
            case_id,
            expected_version,
            lambda case, ctx: case.stop_waiting_on_customer(ctx, reason),
        )

    def assign(
        self,
        caller: Caller,
        case_id: UUID,
        agent_id: str,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._on_case(
            caller,
            case_id,
            expected_version,
            lambda case, ctx: case.assign(ctx, agent_id),
        )

    def change_severity(
        self,
        caller: Caller,
        case_id: UUID,
        severity: Severity,
        reason: str,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._on_case(
            caller,
            case_id,
            expected_version,
            lambda case, ctx: case.change_severity(ctx, severity, reason),
        )

    def escalate(
        self,
        caller: Caller,
        case_id: UUID,
        *,
        target: EscalationTarget,
        category: EscalationCategory,
        vehicle: EscalationVehicle | None,
        reason: str,
        expected_version: int | None = None,
    ) -> Receipt:
        """Escalate through what the partner holds under the terms in force now."""

        def decide(case: SupportCase, ctx: CommandContext) -> int:
            terms = self.terms_in_force(ctx.occurred_at).terms
            paths = EscalationPaths(terms.partner_kind, terms.held_vehicles)
            return case.escalate(
                ctx,
                target=target,
                category=category,
                vehicle=vehicle,
                reason=reason,
                paths=paths,
            )

        return self._on_case(caller, case_id, expected_version, decide)

    def record_vendor_reference(
        self,
        caller: Caller,
        case_id: UUID,
        reference: str,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._on_case(
            caller,
            case_id,
            expected_version,
            lambda case, ctx: case.record_vendor_reference(ctx, reference),
        )

    def record_vendor_update(
        self,
        caller: Caller,
        case_id: UUID,
        text: str,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._on_case(
            caller,
            case_id,
            expected_version,
            lambda case, ctx: case.record_vendor_update(ctx, text),
        )

    def record_hand_back(
        self,
        caller: Caller,
        case_id: UUID,
        summary: str,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._on_case(
            caller,
            case_id,
            expected_version,
            lambda case, ctx: case.record_hand_back(ctx, summary),
        )

    def resolve(
        self,
        caller: Caller,
        case_id: UUID,
        code: ResolutionCode,
        summary: str,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._on_case(
            caller,
            case_id,
            expected_version,
            lambda case, ctx: case.resolve(ctx, code, summary),
        )

    def close(
        self, caller: Caller, case_id: UUID, *, expected_version: int | None = None
    ) -> Receipt:
        return self._on_case(caller, case_id, expected_version, lambda case, ctx: case.close(ctx))

    def reopen(
        self,
        caller: Caller,
        case_id: UUID,
        reason: str,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._on_case(
            caller,
            case_id,
            expected_version,
            lambda case, ctx: case.reopen(ctx, reason),
        )

    def add_note(
        self,
        caller: Caller,
        case_id: UUID,
        text: str,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._on_case(
            caller,
            case_id,
            expected_version,
            lambda case, ctx: case.add_note(ctx, text),
        )

    # Service-level clocks ---------------------------------------------------

    def evaluate_service_clocks(
        self, caller: Caller, case_id: UUID, at: datetime
    ) -> tuple[SupportCase.ServiceClockBreached, ...]:
        """Record the breaches due on one case by `at` (the scheduled check).

        A read-only look decides whether anything is due; only then does the
        evaluation run as a command, on fresh state and retried on a lost race,
        so a case with nothing due is only read.
        """
        now = self.runner.clock.now()
        if at > now:
            raise EvaluationInFutureError(
                f"service clocks cannot be evaluated as of {at.isoformat()}, a moment still to come"
            )
        case = self.case(case_id)
        if not case.breaches_due(at):
            return ()
        breaches, _ = self.runner.change(
            SupportCase, case_id, caller, lambda fresh, ctx: _breaches(fresh, ctx, at)
        )
        return breaches

    def _on_case(
        self,
        caller: Caller,
        case_id: UUID,
        expected_version: int | None,
        decide: Callable[[SupportCase, CommandContext], R],
    ) -> Receipt:
        _, receipt = self.runner.change(SupportCase, case_id, caller, decide, expected_version)
        return receipt


def _breaches(
    case: SupportCase, ctx: CommandContext, at: datetime
) -> tuple[SupportCase.ServiceClockBreached, ...]:
    case.evaluate_service_clocks(ctx, at)
    return tuple(e for e in case.pending_events if isinstance(e, SupportCase.ServiceClockBreached))
