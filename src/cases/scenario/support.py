"""A scripted fortnight at a partner's support desk, on a simulated clock.

Several customers, cases through every path: a documented vendor incident, an
escalation through Advanced Support for Partners with a hand-back and a
reopen, a commercial escalation, a billing question, and steps the rules
refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from uuid import UUID

from cases.application.caller import Caller
from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.case_values import (
    AdvisoryClassification,
    CaseCategory,
    Contact,
    Direction,
    EscalationCategory,
    EscalationTarget,
    ResolutionCode,
    VendorAdvisory,
)
from cases.domain.errors import DomainError, NoTermsInForceError
from cases.domain.metadata import Actor, Role, Source
from cases.domain.support_terms import (
    Channel,
    ContactMethod,
    EscalationVehicle,
    PartnerKind,
    Pricing,
    ServiceHours,
    ServiceLevelTarget,
    ServiceSpan,
    Severity,
    SupportArrangement,
    SupportModel,
    SupportTerms,
)

ANNA = Actor("agent-anna", Role.HELPDESK_AGENT)
BO = Actor("agent-bo", Role.HELPDESK_AGENT)
SALES = Actor("sales-sara", Role.SALES_AGENT)
ASFP = EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS


@dataclass
class ScenarioResult:
    cases: dict[str, UUID] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)


def partner_terms(vendor_name: str) -> SupportTerms:
    weekdays = range(5)
    return SupportTerms(
        vendor_name=vendor_name,
        partner_kind=PartnerKind.DIRECT_BILL,
        arrangement=SupportArrangement(SupportModel.DIRECT),
        service_hours=ServiceHours(
            time_zone="Europe/Stockholm",
            weekly=tuple(ServiceSpan(d, time(8), time(12)) for d in weekdays)
            + tuple(ServiceSpan(d, time(13), time(17)) for d in weekdays),
            holiday_country="SE",
        ),
        contact_methods=(
            ContactMethod(Channel.PHONE, "+46 8 555 010 00"),
            ContactMethod(Channel.EMAIL, "support@partner.example"),
            ContactMethod(Channel.PORTAL, "https://support.partner.example"),
        ),
        pricing=Pricing(False, "Support is included in every subscription we resell."),
        held_vehicles=(ASFP,),
        targets=(
            # Business minutes: first response, next update, resolution, and
            # the vendor's hand-back under the partner's support contract.
            ServiceLevelTarget(Severity.CRITICAL, 60, 120, 8 * 60, 8 * 60),
            ServiceLevelTarget(Severity.MODERATE, 4 * 60, 8 * 60, 5 * 8 * 60, 3 * 8 * 60),
            ServiceLevelTarget(Severity.MINIMAL, 8 * 60, 16 * 60, 10 * 8 * 60, 5 * 8 * 60),
        ),
        reopen_window_days=14,
    )


def emailed(text: str) -> cmd.RecordCommunication:
    """An e-mail to the customer, recorded on the case."""
    return cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, text)


def to_vendor(
    category: EscalationCategory, vehicle: EscalationVehicle, reason: str
) -> cmd.Escalate:
    """An escalation to the vendor (every escalation in the scenario is)."""
    return cmd.Escalate(
        target=EscalationTarget.VENDOR, category=category, vehicle=vehicle, reason=reason
    )


class SupportScenario:
    """Drives the support desk through the scripted fortnight."""

    def __init__(
        self, services: Services, clock: ManualClock, vendor_name: str, suffix: str = ""
    ) -> None:
        self.desk = services.desk
        self.clock = clock
        self.vendor_name = vendor_name
        self.suffix = suffix
        self.result = ScenarioResult()

    def as_(self, actor: Actor) -> Caller:
        return Caller.new(actor, Source.CLI)

    def later(self, **delta: float) -> datetime:
        return self.clock.advance(timedelta(**delta))

    def attempt(self, step: Callable[[], object]) -> None:
        """Run a step the rules should refuse, and note the refusal."""
        try:
            step()
        except DomainError as refused:
            self.result.refusals.append(f"{refused.rule}: {refused.message}")
        else:
            raise AssertionError("the scenario expected this step to be refused")

    def run(self) -> ScenarioResult:
        self.ensure_terms()
        self.documented_incident()
        self.escalated_and_reopened()
        self.commercial_escalation()
        self.billing_question()
        return self.result

    def ensure_terms(self) -> None:
        try:
            self.desk.terms_in_force(self.clock.now())
        except NoTermsInForceError:
            self.desk.publish_terms(
                self.as_(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN)),
                partner_terms(self.vendor_name),
                effective_from=self.clock.now(),
            )

    def receive(self, key: str, received_at: datetime, **fields: object) -> UUID:
        fields["customer_id"] = f"{fields['customer_id']}{self.suffix}"
        intake = cmd.TakeIn(received_at=received_at, **fields)  # type: ignore[arg-type]
        receipt = self.desk.receive_case(self.as_(ANNA), intake)
        self.result.cases[key] = receipt.aggregate_id
        return receipt.aggregate_id

    def steps(self, who: Caller, case: UUID, *commands: cmd.CaseCommand) -> None:
        """Carry `commands` to the case in order, as `who`, at the same moment."""
        for command in commands:
            self.desk.handle(who, case, command)

    def email_customer(self, who: Caller, case: UUID, text: str) -> None:
        self.steps(who, case, emailed(text))

    def documented_incident(self) -> None:
        """Contoso's mail delay matches a vendor incident; no escalation needed."""
        called = self.later(minutes=30)
        self.later(minutes=12)  # logged after the call
        case = self.receive(
            "contoso-mail",
            called,
            customer_id="contoso",
            contact=Contact("Karin Lund", email="karin.lund@contoso.example"),
            channel=Channel.PHONE,
            product="Exchange Online",
            category=CaseCategory.TECHNICAL,
            severity=Severity.MODERATE,
            title="Outbound mail delayed by up to an hour",
            description="Since 07:30 mail to external recipients sits in the queue.",
        )
        anna = self.as_(ANNA)
        self.desk.handle(anna, case, cmd.Assign("agent-anna"))
        self.later(minutes=5)
        advisory = VendorAdvisory(
            "EX226792",
            AdvisoryClassification.INCIDENT,
            "Users may experience delays sending mail to external recipients",
            "Exchange Online",
        )
        self.desk.handle(anna, case, cmd.CheckServiceHealth(advisory))
        undocumented = EscalationCategory.UNDOCUMENTED_PROBLEM
        self.attempt(lambda: self.steps(anna, case, to_vendor(undocumented, ASFP, "Mail delayed")))
        self.later(minutes=3)
        self.email_customer(anna, case, "Known incident EX226792; the vendor is rerouting traffic.")
        self.later(hours=5)
        self.desk.handle(
            anna,
            case,
            cmd.Resolve(ResolutionCode.VENDOR_ISSUE_RESOLVED, "EX226792 resolved by the vendor."),
        )
        self.later(hours=1)
        self.desk.handle(anna, case, cmd.Close())

    def escalated_and_reopened(self) -> None:
        """Fabrikam's Teams calls drop: diagnosed, escalated, handed back, reopened."""
        received = self.later(hours=18)
        case = self.receive(
            "fabrikam-teams",
            received,
            customer_id="fabrikam",
            contact=Contact("Omar Haddad", email="omar@fabrikam.example", phone="+46 70 222 33 44"),
            channel=Channel.PORTAL,
            product="Microsoft Teams",
            category=CaseCategory.TECHNICAL,
            severity=Severity.MODERATE,
            title="Teams calls drop after exactly 30 minutes",
            description="All users in the Gothenburg office; started after a tenant move.",
        )
        anna, bo = self.as_(ANNA), self.as_(BO)
        self.attempt(lambda: self.desk.handle(anna, case, cmd.RecordDiagnosis("Guessing firewall")))
        self.later(minutes=20)
        self.steps(
            anna,
            case,
            cmd.CheckServiceHealth(None),
            emailed("Please send a call trace."),
            cmd.WaitOnCustomer("Waiting for a call trace"),
        )
        self.later(hours=20)
        self.steps(
            anna,
            case,
            cmd.RecordCommunication(Direction.INBOUND, Channel.EMAIL, "Trace attached."),
            cmd.ChangeSeverity(Severity.CRITICAL, "Board meeting calls fail"),
            cmd.Assign("agent-bo"),
        )
        self.later(hours=1)
        diagnosis = "Media relay times out at 1800 s; config matches the service description."
        self.desk.handle(bo, case, cmd.RecordDiagnosis(diagnosis))
        defect = EscalationCategory.SERVICE_DEFECT
        premier = EscalationVehicle.PREMIER_SUPPORT_FOR_PARTNERS
        self.attempt(lambda: self.steps(bo, case, to_vendor(defect, premier, "Relay timeout")))
        drops = "Media relay drops calls at 30 minutes for one tenant."
        self.desk.handle(bo, case, to_vendor(defect, ASFP, drops))
        self.later(minutes=40)
        self.desk.handle(bo, case, cmd.RecordVendorReference("2611080040012345"))
        self.later(hours=26)
        self.desk.handle(bo, case, cmd.RecordVendorUpdate("Reproduced; a fix is rolling out."))
        self.later(days=2)
        self.steps(
            bo,
            case,
            cmd.RecordHandBack("Relay timeout raised for the tenant's region."),
            cmd.RecordCommunication(Direction.OUTBOUND, Channel.PHONE, "Fix confirmed with Omar."),
            cmd.Resolve(ResolutionCode.FIXED_BY_VENDOR, "Vendor raised the timeout."),
        )
        self.later(hours=2)
        self.desk.handle(bo, case, cmd.Close())
        self.later(days=3)
        self.desk.handle(bo, case, cmd.Reopen("Calls drop again after 60 minutes"))
        self.later(hours=3)
        self.steps(
            bo,
            case,
            cmd.RecordDiagnosis("A second relay in the pair kept the old timeout."),
            cmd.AddNote("Vendor confirmed the pair on the same reference."),
            cmd.Resolve(ResolutionCode.FIXED_BY_VENDOR, "Both relays updated."),
        )
        self.later(hours=1)
        self.desk.handle(bo, case, cmd.Close())
        self.attempt(lambda: self.desk.handle(bo, case, cmd.AddNote("Too late for notes")))

    def commercial_escalation(self) -> None:
        """Tailspin is charged for licences it cancelled: a commercial escalation."""
        received = self.later(hours=4)
        case = self.receive(
            "tailspin-licences",
            received,
            customer_id="tailspin",
            contact=Contact("Lena Berg", phone="+46 8 777 12 12"),
            channel=Channel.CHAT,
            product="Microsoft 365 E3",
            category=CaseCategory.COMMERCIAL,
            severity=Severity.MINIMAL,
            title="Cancelled seats still counted",
            description="Twenty seats cancelled within the window still appear.",
        )
        sales = self.as_(SALES)
        self.steps(
            sales,
            case,
            emailed("We have asked the vendor."),
            to_vendor(
                EscalationCategory.COMMERCIAL_PROBLEM,
                EscalationVehicle.COMMERCIAL_SUPPORT,
                "Cancellation within the window not applied.",
            ),
        )
        self.later(days=1)
        self.steps(
            sales,
            case,
            cmd.RecordHandBack("Seats removed; credit follows."),
            cmd.Resolve(ResolutionCode.FIXED_BY_VENDOR, "Seats removed."),
        )

    def billing_question(self) -> None:
        """Northwind asks about an invoice line; answered by the help desk."""
        received = self.later(hours=2)
        case = self.receive(
            "northwind-invoice",
            received,
            customer_id="northwind",
            contact=Contact("Pia Ek", email="pia.ek@northwind.example"),
            channel=Channel.EMAIL,
            product="Azure",
            category=CaseCategory.BILLING,
            severity=Severity.MINIMAL,
            title="What is the 'Azure plan' line on our invoice?",
            description="Our October invoice has a line we do not recognise.",
        )
        anna = self.as_(ANNA)
        self.later(minutes=15)
        self.email_customer(anna, case, "It is your pay-as-you-go Azure consumption for October.")
        self.desk.handle(
            anna, case, cmd.Resolve(ResolutionCode.ANSWERED, "Explained the Azure plan line.")
        )
