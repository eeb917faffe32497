"""Realistic support histories, generated: for tests and for benchmarks.

Many customers' cases unfold side by side on one timeline: each case's life
(`CaseStory`) is decided a step at a time, and `SupportHistory` interleaves the
steps of every open case in time order, so the event log reads like a busy
desk's. Every event type of `SupportCase` occurs: intake by phone, e-mail and
portal, service-health checks with and without a matched advisory, diagnoses,
messages both ways, waits on the customer and their replies, assignments,
severity changes, escalations to the indirect provider and to the vendor with
references, updates and hand-backs, resolutions, closes (by an agent or the
scheduler), reopens, notes and billing-account links; and the service-level
clock facts those commands bring (started, paused, resumed, re-targeted,
breached, fulfilled, stopped), except a withdrawn breach: no scheduled clock
check runs and no step occurs before one already recorded, so nothing records
a breach that a later-logged reply then withdraws.

The partner starts as an indirect reseller (escalations go to its indirect
provider first) and becomes direct-bill later (`direct_bill_from`), so both
targets and every vehicle show up.

Two writers record the steps:

- `DeskWriter`: through `SupportDesk` (and `BillingOffice` for billing links),
  one command per step on a `ManualClock`; slow and faithful, for tests.
- `BulkWriter`: the domain commands on aggregates kept in memory, events saved
  in time order with one `log.save(...)` (one transaction) per chunk; for the
  million-event benchmarks.

The same seed gives the same history: ids, texts and moments.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol
from uuid import UUID

from cases.application.caller import Caller
from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain import billing_commands as bcmd
from cases.domain import case_commands as cmd
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import BillingPeriod
from cases.domain.case_values import (
    AdvisoryClassification,
    CaseCategory,
    Contact,
    Direction,
    EscalationCategory,
    EscalationPaths,
    EscalationTarget,
    ResolutionCode,
    VendorAdvisory,
)
from cases.domain.metadata import Actor, CommandContext, Role, Source
from cases.domain.support_case import DECISIONS, SupportCase
from cases.domain.support_offering import PublishedTerms, SupportOffering
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
from cases.persistence.event_log import EventLog

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
ASFP = EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS
PREMIER = EscalationVehicle.PREMIER_SUPPORT_FOR_PARTNERS

# Vocabulary ---------------------------------------------------------------

COMPANIES = (
    "contoso", "fabrikam", "northwind", "tailspin", "adventure-works", "litware",
    "wingtip", "woodgrove", "alpine-ski-house", "blue-yonder", "coho-winery",
    "proseware", "wide-world-importers", "trey-research", "margies-travel",
    "lucerne-publishing", "humongous-insurance", "fourth-coffee", "relecloud",
    "consolidated-messenger", "munson-pickles", "southridge-video", "vanarsdel",
)  # fmt: skip
FIRST_NAMES = (
    "Karin", "Omar", "Lena", "Pia", "Johan", "Aisha", "Mikael", "Sofia", "Erik",
    "Noor", "Anders", "Elin", "Tomas", "Maja", "Ali", "Ingrid", "Viktor", "Sara",
)  # fmt: skip
LAST_NAMES = (
    "Lund", "Haddad", "Berg", "Ek", "Nilsson", "Karimi", "Holm", "Lindqvist",
    "Strand", "Ahmadi", "Sjöberg", "Wallin", "Dahl", "Forsberg", "Öberg",
)  # fmt: skip
AGENT_NAMES = (
    "anna", "bo", "carl", "dina", "emil", "frida", "goran", "hanna", "ivar",
    "jonna", "karl", "lisa", "malin", "nils", "olle", "petra",
)  # fmt: skip

PRODUCTS: dict[CaseCategory, tuple[str, ...]] = {
    CaseCategory.TECHNICAL: (
        "Exchange Online",
        "Microsoft Teams",
        "SharePoint Online",
        "OneDrive",
        "Microsoft Entra ID",
        "Intune",
        "Azure Virtual Machines",
        "Azure SQL Database",
    ),
    CaseCategory.BILLING: ("Azure", "Microsoft 365 E3", "Microsoft 365 Business Premium"),
    CaseCategory.SUBSCRIPTION: ("Microsoft 365 E3", "Microsoft 365 Business Premium", "Visio"),
    CaseCategory.COMMERCIAL: ("Microsoft 365 E5", "Dynamics 365 Sales", "Azure reservations"),
}
TITLES: dict[CaseCategory, tuple[str, ...]] = {
    CaseCategory.TECHNICAL: (
        "{product}: users cannot sign in since this morning",
        "{product} is slow for the whole office",
        "{product}: error 500 when opening shared items",
        "{product} stopped syncing for some users",
        "{product}: external sharing fails with an access error",
        "{product} drops connections after about 30 minutes",
    ),
    CaseCategory.BILLING: (
        "Unexpected line for {product} on our invoice",
        "Invoice for {product} charged twice",
        "Which cost centre does the {product} charge belong to?",
    ),
    CaseCategory.SUBSCRIPTION: (
        "Add 25 seats of {product}",
        "Cancel unused {product} licences",
        "Move {product} subscription to annual billing",
    ),
    CaseCategory.COMMERCIAL: (
        "Cancelled {product} seats still counted",
        "Price for {product} differs from the quote",
        "Promotion for {product} not applied",
    ),
}
DESCRIPTIONS = (
    "It started after lunch and affects everyone in the Gothenburg office.",
    "Three users reported it this morning; the rest of the company works normally.",
    "We noticed it on the monthly statement; nothing changed on our side.",
    "It happens every day around 09:00 and lasts about an hour.",
    "Our IT contact has already restarted the affected machines, without effect.",
)
FINDINGS = (
    "Message trace shows the connector rejects mail with a TLS error.",
    "Sign-in logs show conditional access blocking legacy authentication.",
    "Reproduced with a test account; the policy assignment has not propagated.",
    "Network trace points at the customer's proxy dropping long-lived connections.",
    "Configuration matches the service description; the fault is on the service side.",
)
OUTBOUND = (
    "We are looking into it and will get back to you within the hour.",
    "Could you send a screenshot of the error and the time it happened?",
    "Please run the connectivity analyser and send us the report.",
    "The vendor is working on it; we will update you as soon as we hear back.",
    "The change is in place; please confirm that it works for you.",
)
INBOUND = (
    "Screenshot attached; it happened at 10:15.",
    "The report is attached. Thanks for the quick answer.",
    "Still happening for two of our users.",
    "It works again, thank you!",
    "Any news on this? Our managers are asking.",
)
NOTES = (
    "Customer prefers phone calls before 11:00.",
    "Same symptoms as last month's case for this customer.",
    "Checked with a colleague: known issue with the old connector.",
    "Customer's IT contact is on holiday until Monday.",
)
WAIT_REASONS = (
    "Waiting for a screenshot",
    "Waiting for the connectivity report",
    "Waiting for the customer to test the change",
)
SEVERITY_REASONS = (
    "Board meeting depends on it",
    "Only one user affected after all",
    "Workaround in place",
    "Spread to the whole company",
)
ESCALATION_REASONS = (
    "Service-side fault confirmed by our diagnosis; needs the vendor.",
    "The problem persists after every step in the partner playbook.",
    "Cancellation within the window was not applied by the vendor.",
)
VENDOR_UPDATES = (
    "Reproduced; engineering is investigating.",
    "A fix is rolling out to the tenant's region.",
    "Requested additional logs from the partner.",
    "Mitigation applied; monitoring.",
)
HAND_BACKS = (
    "Fix deployed; the vendor considers the issue resolved.",
    "Not a service fault: configuration change recommended.",
    "Credit issued for the affected period.",
    "Passed on to the vendor: the provider cannot fix it themselves.",
)
REOPEN_REASONS = (
    "The problem came back after the weekend",
    "Customer reports the fix did not reach all users",
    "Credit note never arrived",
)
RESOLUTIONS = {
    CaseCategory.TECHNICAL: (
        (ResolutionCode.FIXED_BY_PARTNER, "Configuration corrected."),
        (ResolutionCode.WORKAROUND, "Workaround in place until the vendor's fix."),
        (ResolutionCode.NO_FAULT_FOUND, "Could not reproduce; customer satisfied."),
    ),
    CaseCategory.BILLING: ((ResolutionCode.ANSWERED, "Explained the invoice line."),),
    CaseCategory.SUBSCRIPTION: ((ResolutionCode.FIXED_BY_PARTNER, "Subscription changed."),),
    CaseCategory.COMMERCIAL: ((ResolutionCode.ANSWERED, "Explained the pricing."),),
}
ADVISORIES = (
    VendorAdvisory(
        "EX226792",
        AdvisoryClassification.INCIDENT,
        "Users may experience delays sending mail to external recipients",
        "Exchange Online",
    ),
    VendorAdvisory(
        "TM512033",
        AdvisoryClassification.INCIDENT,
        "Users may be unable to join meetings from the desktop client",
        "Microsoft Teams",
    ),
    VendorAdvisory(
        "SP301118",
        AdvisoryClassification.ADVISORY,
        "Some users may see slow page loads",
        "SharePoint Online",
    ),
)
UNDOCUMENTED = EscalationCategory.UNDOCUMENTED_PROBLEM
TECHNICAL_PROBLEMS = (
    UNDOCUMENTED,
    EscalationCategory.SERVICE_DEFECT,
    EscalationCategory.SERVICE_UNAVAILABLE,
    EscalationCategory.NETWORK_DISRUPTION,
    EscalationCategory.REGIONAL_MULTI_TENANT,
)


def history_terms(kind: PartnerKind) -> SupportTerms:
    """The partner's terms: office hours in Stockholm, three severities."""
    spans = [ServiceSpan(day, time(8), time(12)) for day in range(5)]
    spans += [ServiceSpan(day, time(13), time(17)) for day in range(5)]
    held = (ASFP,) if kind is PartnerKind.INDIRECT_RESELLER else (ASFP, PREMIER)
    return SupportTerms(
        vendor_name="Microsoft",
        partner_kind=kind,
        arrangement=SupportArrangement(SupportModel.DIRECT),
        service_hours=ServiceHours("Europe/Stockholm", tuple(spans), holiday_country="SE"),
        contact_methods=(
            ContactMethod(Channel.PHONE, "+46 8 555 010 00"),
            ContactMethod(Channel.EMAIL, "support@partner.example"),
            ContactMethod(Channel.PORTAL, "https://support.partner.example"),
        ),
        pricing=Pricing(False, "Support is included in every subscription we resell."),
        held_vehicles=held,
        targets=(
            ServiceLevelTarget(Severity.CRITICAL, 60, 120, 8 * 60),
            ServiceLevelTarget(Severity.MODERATE, 4 * 60, 8 * 60, 5 * 8 * 60),
            ServiceLevelTarget(Severity.MINIMAL, 8 * 60, 16 * 60, 10 * 8 * 60),
        ),
        reopen_window_days=14,
    )


# People -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    contact: Contact
    currency: str

    @property
    def portal_user(self) -> Actor:
        return Actor(f"customer:{self.customer_id}", Role.CUSTOMER)


SALES = (Actor("sales-sara", Role.SALES_AGENT), Actor("sales-sven", Role.SALES_AGENT))
BILLING = (Actor("billing-berit", Role.BILLING_ADMIN), Actor("billing-nils", Role.BILLING_ADMIN))
ADMIN = Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN)
SCHEDULER = Actor("scheduler", Role.SYSTEM)  # closes resolved cases after three days
MAIL_IMPORT = Actor("mail-import", Role.SYSTEM)  # turns e-mails into cases
VENDOR_SYNC = Actor("vendor-sync", Role.SYSTEM)  # copies updates from the vendor's portal


def team(category: CaseCategory, agents: tuple[Actor, ...]) -> tuple[Actor, ...]:
    """Who works cases of a category: specialists and two help-desk agents."""
    if category is CaseCategory.BILLING:
        return BILLING + agents[:2]
    if category in (CaseCategory.COMMERCIAL, CaseCategory.SUBSCRIPTION):
        return SALES + agents[:2]
    return agents


# Steps --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One command on one case: who, when (recorded and occurred), what."""

    case_id: UUID
    command: str  # the SupportCase (and SupportDesk) method, or "receive"
    at: datetime
    occurred_at: datetime
    actor: Actor
    source: Source
    correlation_id: str
    causation_id: str | None = None
    args: dict[str, Any] = field(default_factory=dict)

    def context(self) -> CommandContext:
        return CommandContext(
            actor=self.actor,
            occurred_at=self.occurred_at,
            recorded_at=self.at,
            correlation_id=self.correlation_id,
            source=self.source,
            causation_id=self.causation_id,
        )

    def caller(self) -> Caller:
        return Caller(
            actor=self.actor,
            source=self.source,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            occurred_at=self.occurred_at,
        )


def working_time(moment: datetime, rng: random.Random) -> datetime:
    """`moment` if within office hours (Mon-Fri 07-17 UTC), else a while after
    the next opening."""
    if moment.weekday() < 5 and 7 <= moment.hour < 17:
        return moment
    day = moment if moment.hour < 7 else moment + timedelta(days=1)
    day = day.replace(hour=7, minute=0, second=0, microsecond=0)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day + timedelta(seconds=round(rng.uniform(0, 90 * 60)))


class CaseStory:
    """One case's life, decided a step at a time; each step follows the last.

    The story keeps its own note of the case's state, so every step it yields
    is one the domain accepts.
    """

    def __init__(
        self, history: SupportHistory, case_id: UUID, customer: Customer, arrival: datetime
    ) -> None:
        self.history = history
        self.rng = history.rng
        self.case_id = case_id
        self.customer = customer
        self.at = arrival
        self.occurred = arrival
        self.correlation_id = ""
        r = self.rng
        self.category = r.choices(list(CaseCategory), weights=(55, 15, 15, 15))[0]
        self.severity = r.choices(list(Severity), weights=(10, 50, 40))[0]
        self.team = team(self.category, history.agents)
        self.assignee: str | None = None
        self.advisory: VendorAdvisory | None = None
        self.health_checked = False
        self.waiting = False
        self.went_to_provider = False
        self.linked = False
        self.resolve_correlation = ""

    # The plot -----------------------------------------------------------

    def __iter__(self) -> Iterator[Step]:
        r = self.rng
        yield self._receive()
        if r.random() < 0.9:
            yield self._assign(after=(2, 90))
        if self.category is CaseCategory.TECHNICAL or r.random() < 0.2:
            yield self._health_check()
        if r.random() < 0.9:
            yield self._message(Direction.OUTBOUND, after=(5, 120))
        for reopens in range(3):
            yield from self._work()
            if self._should_escalate():
                yield from self._escalations()
            if r.random() < 0.05:
                return  # left open: still being worked when the history ends
            yield from self._resolve()
            closed = yield from self._close()
            if reopens == 2 or r.random() > 0.1:
                return
            yield self._reopen(closed)

    def _work(self) -> Iterator[Step]:
        r = self.rng
        for _ in range(r.choice((1, 1, 2, 2, 3, 4))):
            choice = r.choices(
                ("diagnose", "ask", "note", "severity", "reassign", "update", "link"),
                weights=(3, 3, 2, 1, 1, 2, 3 if self._can_link() else 0),
            )[0]
            if choice == "diagnose":
                yield self._step(
                    "record_diagnosis", self._agent(), (20, 240), findings=self._of(FINDINGS)
                )
            elif choice == "ask" and not self.waiting:
                yield from self._ask_customer()
            elif choice == "note":
                yield self._step("add_note", self._agent(), (5, 180), text=self._of(NOTES))
            elif choice == "severity":
                severity = r.choice([s for s in Severity if s is not self.severity])
                self.severity = severity
                yield self._step(
                    "change_severity",
                    self._agent(),
                    (5, 120),
                    severity=severity,
                    reason=self._of(SEVERITY_REASONS),
                )
            elif choice == "reassign":
                yield self._assign(after=(30, 600))
            elif choice == "link":
                self.linked = True
                account_id = BillingAccount.id_for(self.customer.customer_id)
                yield self._step(
                    "link_billing_account", self._agent(), (5, 60), account_id=account_id
                )
            else:
                yield self._message(Direction.OUTBOUND, after=(30, 600))

    def _ask_customer(self) -> Iterator[Step]:
        r = self.rng
        question = self._message(Direction.OUTBOUND, after=(10, 240))
        yield question
        self.waiting = True
        yield self._step(
            "wait_on_customer",
            question.actor,
            (0, 1),
            same_request=True,
            reason=self._of(WAIT_REASONS),
        )
        answer = r.random()
        if answer < 0.75:
            self.waiting = False  # the reply ends the wait
            yield self._message(Direction.INBOUND, after=(60, 3 * 24 * 60), working=False)
        elif answer < 0.85:
            self.waiting = False
            yield self._step(
                "stop_waiting_on_customer",
                self._agent(),
                (60, 2 * 24 * 60),
                lag=30,
                reason="Customer answered by phone",
            )
        # otherwise no answer: resolving the case ends the wait

    def _should_escalate(self) -> bool:
        chance = {
            CaseCategory.TECHNICAL: 0.12 if self.advisory else 0.3,
            CaseCategory.COMMERCIAL: 0.35,
            CaseCategory.SUBSCRIPTION: 0.1,
            CaseCategory.BILLING: 0.0,
        }[self.category]
        return self.rng.random() < chance

    def _escalations(self) -> Iterator[Step]:
        """One escalation; from an indirect provider, sometimes on to the vendor."""
        yield from self._escalation()
        indirect = (
            self.history.paths_at(self.occurred).partner_kind is PartnerKind.INDIRECT_RESELLER
        )
        if indirect and self.rng.random() < 0.35:
            yield from self._escalation()

    def _escalation(self) -> Iterator[Step]:
        r = self.rng
        at, occurred = self._moments((10, 24 * 60), working=True)
        paths = self.history.paths_at(occurred)
        to_provider = (
            paths.partner_kind is PartnerKind.INDIRECT_RESELLER and not self.went_to_provider
        )
        if self.category is CaseCategory.TECHNICAL:
            documented = self.advisory is not None
            category = r.choice(
                [c for c in TECHNICAL_PROBLEMS if not (documented and c is UNDOCUMENTED)]
            )
            vehicle = r.choice(paths.held_vehicles)
        else:
            category = EscalationCategory.COMMERCIAL_PROBLEM
            vehicle = EscalationVehicle.COMMERCIAL_SUPPORT
        self.went_to_provider = self.went_to_provider or to_provider
        yield self._at(
            "escalate",
            self._agent(),
            at,
            occurred,
            target=EscalationTarget.INDIRECT_PROVIDER if to_provider else EscalationTarget.VENDOR,
            category=category,
            vehicle=None if to_provider else vehicle,
            reason=self._of(ESCALATION_REASONS),
        )
        if r.random() < 0.85:
            reference = (
                f"IP-{occurred.year}-{r.randrange(10**6):06d}"
                if to_provider
                else f"{r.randrange(10**15, 10**16)}"
            )
            yield self._step(
                "record_vendor_reference", self._agent(), (10, 240), reference=reference
            )
        for _ in range(r.choice((0, 1, 1, 2, 3))):
            synced = r.random() < 0.5  # the vendor's portal, imported; or typed in
            yield self._step(
                "record_vendor_update",
                VENDOR_SYNC if synced else self._agent(),
                (120, 2 * 24 * 60),
                working=not synced,
                source=Source.IMPORT if synced else Source.API,
                text=self._of(VENDOR_UPDATES),
            )
        if r.random() < 0.5:
            yield self._message(Direction.OUTBOUND, after=(30, 240))
        yield self._step(
            "record_hand_back", self._agent(), (60, 5 * 24 * 60), summary=self._of(HAND_BACKS)
        )

    def _resolve(self) -> Iterator[Step]:
        r = self.rng
        if r.random() < 0.7:
            yield self._message(Direction.OUTBOUND, after=(30, 8 * 60))
        if self.advisory is not None and r.random() < 0.7:
            code, summary = (
                ResolutionCode.VENDOR_ISSUE_RESOLVED,
                f"{self.advisory.vendor_id} resolved by the vendor.",
            )
        elif self.went_to_provider or r.random() < 0.1:
            code, summary = ResolutionCode.FIXED_BY_VENDOR, "The vendor fixed the fault."
        else:
            code, summary = r.choice(RESOLUTIONS[self.category])
        self.waiting = False
        step = self._step("resolve", self._agent(), (10, 24 * 60), code=code, summary=summary)
        self.resolve_correlation = step.correlation_id
        yield step

    def _close(self) -> Generator[Step, None, datetime]:
        """Close the case (or leave it resolved); give the moment it closed."""
        r = self.rng
        how = r.random()
        if how < 0.8:
            yield self._step(
                "close",
                SCHEDULER,
                (3 * 24 * 60, 3 * 24 * 60 + 5),
                working=False,
                source=Source.SCHEDULER,
                caused_by=self.resolve_correlation,
            )
        elif how < 0.95:
            yield self._message(Direction.INBOUND, after=(30, 24 * 60), working=False)
            yield self._step("close", self._agent(), (5, 120))
        return self.occurred

    def _reopen(self, closed: datetime) -> Step:
        """Reopen within the terms' window (14 days after closing)."""
        at, occurred = self._moments((60, 9 * 24 * 60), working=True)
        if occurred - closed > timedelta(days=13):
            occurred = at = closed + timedelta(days=13)
        if self.rng.random() < 0.3:
            step = self._at(
                "reopen", self.customer.portal_user, at, occurred, reason=self._of(REOPEN_REASONS)
            )
        else:
            step = self._at("reopen", self._agent(), at, occurred, reason=self._of(REOPEN_REASONS))
        return step

    # Single steps ---------------------------------------------------------

    def _receive(self) -> Step:
        r = self.rng
        channel = r.choices(
            (Channel.PHONE, Channel.EMAIL, Channel.PORTAL, Channel.CHAT), weights=(35, 35, 25, 5)
        )[0]
        received_at = self.at
        if channel is Channel.PORTAL:
            actor, source, at = self.customer.portal_user, Source.API, received_at
        elif channel is Channel.EMAIL:
            actor, source = MAIL_IMPORT, Source.IMPORT
            at = received_at + timedelta(seconds=round(r.uniform(5, 300)))
        else:  # a call or chat, taken in office hours and logged a little later
            received_at = working_time(received_at, r)
            actor, source = r.choice(self.team), Source.API
            at = received_at + timedelta(seconds=round(r.uniform(60, 20 * 60)))
        product = r.choice(PRODUCTS[self.category])
        self.at, self.occurred = at, received_at
        return self._at(
            "receive",
            actor,
            at,
            received_at,
            source=source,
            customer_id=self.customer.customer_id,
            contact=self.customer.contact,
            channel=channel,
            product=product,
            category=self.category,
            severity=self.severity,
            title=r.choice(TITLES[self.category]).format(product=product),
            description=self._of(DESCRIPTIONS),
            received_at=received_at,
        )

    def _assign(self, after: tuple[float, float]) -> Step:
        agent = self.rng.choice([a for a in self.team if a.principal_id != self.assignee])
        self.assignee = agent.principal_id
        return self._step("assign", self._agent(), after, agent_id=agent.principal_id)

    def _health_check(self) -> Step:
        self.health_checked = True
        if self.rng.random() < 0.25:
            self.advisory = self.rng.choice(ADVISORIES)
        return self._step("check_service_health", self._agent(), (5, 60), advisory=self.advisory)

    def _message(
        self, direction: Direction, after: tuple[float, float], *, working: bool = True
    ) -> Step:
        r = self.rng
        channel = r.choices((Channel.EMAIL, Channel.PHONE, Channel.PORTAL), weights=(6, 3, 1))[0]
        if direction is Direction.INBOUND and channel is Channel.PORTAL:
            actor = self.customer.portal_user
        else:
            actor = self._agent()
        lag = 30 if channel is Channel.PHONE else 0  # calls are logged afterwards
        texts = OUTBOUND if direction is Direction.OUTBOUND else INBOUND
        return self._step(
            "record_communication",
            actor,
            after,
            working=working and actor.role is not Role.CUSTOMER,
            lag=lag,
            direction=direction,
            channel=channel,
            summary=self._of(texts),
        )

    def _step(
        self,
        command: str,
        actor: Actor,
        after: tuple[float, float],
        *,
        working: bool = True,
        lag: float = 0,
        source: Source = Source.API,
        same_request: bool = False,
        caused_by: str | None = None,
        **args: Any,
    ) -> Step:
        """A step `after` (minutes, a range) the last one, occurring up to `lag`
        minutes before it is recorded."""
        at, occurred = self._moments(after, working=working, lag=lag)
        return self._at(
            command,
            actor,
            at,
            occurred,
            source=source,
            same_request=same_request,
            caused_by=caused_by,
            **args,
        )

    def _at(
        self,
        command: str,
        actor: Actor,
        at: datetime,
        occurred: datetime,
        *,
        source: Source = Source.API,
        same_request: bool = False,
        caused_by: str | None = None,
        **args: Any,
    ) -> Step:
        self.at, self.occurred = at, occurred
        if not same_request:
            self.correlation_id = self.history.request_id()
        return Step(
            self.case_id,
            command,
            at,
            occurred,
            actor,
            source,
            self.correlation_id,
            caused_by,
            args,
        )

    def _moments(
        self, after: tuple[float, float], *, working: bool, lag: float = 0
    ) -> tuple[datetime, datetime]:
        r = self.rng
        at = self.at + timedelta(seconds=max(1, round(r.uniform(*after) * 60)))
        if working:
            at = working_time(at, r)
        occurred = max(self.occurred, at - timedelta(seconds=round(r.uniform(0, lag * 60))))
        return at, occurred

    def _agent(self) -> Actor:
        """Usually the assignee; sometimes a colleague covering."""
        if self.assignee is not None and self.rng.random() < 0.8:
            return next(a for a in self.team if a.principal_id == self.assignee)
        return self.rng.choice(self.team)

    def _can_link(self) -> bool:
        return self.category is CaseCategory.BILLING and not self.linked

    def _of(self, texts: tuple[str, ...]) -> str:
        return self.rng.choice(texts)


# The timeline -------------------------------------------------------------


class HistoryWriter(Protocol):
    """Records a history's steps somewhere."""

    def begin(self, history: SupportHistory) -> None: ...

    def write(self, step: Step) -> int:
        """Record one step; return how many support-case events it recorded."""
        ...

    def finish(self, case_id: UUID) -> None: ...

    def flush(self) -> None: ...


class SupportHistory:
    """Cases arriving at `cases_per_day` from `customers` customers (a few busy,
    most quiet), each living its story, all interleaved in time order."""

    def __init__(
        self,
        *,
        seed: int = 7,
        customers: int = 60,
        cases_per_day: float = 60.0,
        agents: int = 8,
        start: datetime = START,
        direct_bill_from: timedelta = timedelta(days=2),
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data, not crypto
        self.start = start
        self.direct_bill_from = start + direct_bill_from
        self.cases_per_day = cases_per_day
        names = (
            AGENT_NAMES[:agents]
            if agents <= len(AGENT_NAMES)
            else tuple(f"{n:03d}" for n in range(agents))
        )
        self.agents = tuple(Actor(f"agent-{n}", Role.HELPDESK_AGENT) for n in names)
        self.customers = [self._customer(n) for n in range(customers)]
        # Zipf-like: the busiest customers raise many more cases than most.
        self._weights = list(itertools.accumulate(1 / (n + 1) ** 0.8 for n in range(customers)))
        self._next_arrival = start
        self._queue: list[tuple[datetime, int, Step, Iterator[Step]]] = []
        self._order = itertools.count()
        self._writer: HistoryWriter | None = None
        self.cases = 0
        self.events = 0

    def terms(self) -> list[tuple[SupportTerms, datetime]]:
        """The terms versions to publish before the first case, and when each
        takes effect."""
        return [
            (history_terms(PartnerKind.INDIRECT_RESELLER), self.start),
            (history_terms(PartnerKind.DIRECT_BILL), self.direct_bill_from),
        ]

    def request_id(self) -> str:
        """A new correlation id (a UUID, from the seeded generator)."""
        return str(UUID(int=self.rng.getrandbits(128), version=4))

    def paths_at(self, moment: datetime) -> EscalationPaths:
        terms = self.terms()[0 if moment < self.direct_bill_from else 1][0]
        return EscalationPaths(terms.partner_kind, terms.held_vehicles)

    def record(self, writer: HistoryWriter, events: int) -> int:
        """Record at least `events` more support-case events; return how many."""
        self._through(writer)
        recorded = 0
        while recorded < events:
            recorded += self._record_next(writer)
        writer.flush()
        self.events += recorded
        return recorded

    def record_until(self, writer: HistoryWriter, moment: datetime) -> int:
        """Record every step recorded before `moment`; return how many events."""
        self._through(writer)
        recorded = 0
        while self._next_at() < moment:
            recorded += self._record_next(writer)
        self.events += recorded
        return recorded

    def _record_next(self, writer: HistoryWriter) -> int:
        step, story = self._next_step()
        recorded = writer.write(step)
        self._schedule(story, step.case_id)
        return recorded

    def _through(self, writer: HistoryWriter) -> None:
        if self._writer is None:
            self._writer = writer
            writer.begin(self)
        elif writer is not self._writer:
            raise ValueError("a history is recorded through one writer")

    def _next_at(self) -> datetime:
        """When the next step is recorded (arriving the cases that come first)."""
        while not self._queue or self._next_arrival <= self._queue[0][0]:
            self._arrive()
        return self._queue[0][0]

    def _next_step(self) -> tuple[Step, Iterator[Step]]:
        self._next_at()
        _, _, step, story = heapq.heappop(self._queue)
        return step, story

    def _arrive(self) -> None:
        r = self.rng
        case_id = UUID(int=r.getrandbits(128), version=4)
        customer = r.choices(self.customers, cum_weights=self._weights)[0]
        story = iter(CaseStory(self, case_id, customer, self._next_arrival))
        self.cases += 1
        self._next_arrival += timedelta(days=r.expovariate(self.cases_per_day))
        self._schedule(story, case_id)

    def _schedule(self, story: Iterator[Step], case_id: UUID) -> None:
        step = next(story, None)
        if step is None:
            if self._writer is not None:
                self._writer.finish(case_id)
            return
        heapq.heappush(self._queue, (step.at, next(self._order), step, story))

    def _customer(self, n: int) -> Customer:
        r = self.rng
        company = COMPANIES[n % len(COMPANIES)]
        customer_id = company if n < len(COMPANIES) else f"{company}-{n // len(COMPANIES):04d}"
        first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        email = f"{first.lower()}.{last.lower()}@{company}.example".replace("ö", "o")
        return Customer(
            customer_id, Contact(f"{first} {last}", email=email), r.choice(("SEK", "EUR"))
        )


# Writers ------------------------------------------------------------------


class DeskWriter:
    """Records each step through the support desk, on a manual clock (slow,
    the way the service records them)."""

    def __init__(self, services: Services, clock: ManualClock) -> None:
        self.services = services
        self.clock = clock
        self.versions: dict[UUID, int] = {}
        self.accounts: dict[UUID, Customer] = {}

    def begin(self, history: SupportHistory) -> None:
        self.clock.set(history.start)
        admin = Caller(ADMIN, Source.CLI, history.request_id())
        for terms, effective_from in history.terms():
            self.services.desk.publish_terms(admin, terms, effective_from)
        self.accounts = {BillingAccount.id_for(c.customer_id): c for c in history.customers}
        self.billing_admin = BILLING[0]

    def write(self, step: Step) -> int:
        self.clock.set(step.at)
        desk, caller = self.services.desk, step.caller()
        if step.command == "receive":
            receipt = desk.receive_case(caller, cmd.TakeIn(case_id=step.case_id, **step.args))
        elif step.command == "link_billing_account":
            self._open_account(step)
            receipt, _ = self.services.billing.link_billing_case(
                caller, step.case_id, step.args["account_id"]
            )
        else:
            receipt = desk.handle(caller, step.case_id, command_of(step))
        recorded = receipt.version - self.versions.get(step.case_id, 0)
        self.versions[step.case_id] = receipt.version
        return int(recorded)

    def _open_account(self, step: Step) -> None:
        customer = self.accounts.pop(step.args["account_id"], None)
        if customer is None:
            return  # opened already
        self.services.billing.open_account(
            replace(step.caller(), actor=self.billing_admin),
            bcmd.OpenAccount(
                customer_id=customer.customer_id,
                currency=customer.currency,
                net_days=30,
                billing_period=BillingPeriod.MONTHLY,
            ),
        )

    def finish(self, case_id: UUID) -> None:
        self.versions.pop(case_id, None)

    def flush(self) -> None:
        pass


COMMANDS: dict[str, type[cmd.CaseCommand]] = {
    "check_service_health": cmd.CheckServiceHealth,
    "record_diagnosis": cmd.RecordDiagnosis,
    "record_communication": cmd.RecordCommunication,
    "wait_on_customer": cmd.WaitOnCustomer,
    "stop_waiting_on_customer": cmd.StopWaitingOnCustomer,
    "assign": cmd.Assign,
    "change_severity": cmd.ChangeSeverity,
    "escalate": cmd.Escalate,
    "record_vendor_reference": cmd.RecordVendorReference,
    "record_vendor_update": cmd.RecordVendorUpdate,
    "record_hand_back": cmd.RecordHandBack,
    "resolve": cmd.Resolve,
    "close": cmd.Close,
    "reopen": cmd.Reopen,
    "add_note": cmd.AddNote,
}
"""Each step's command by the name the history gives it."""


def command_of(step: Step) -> cmd.CaseCommand:
    return COMMANDS[step.command](**step.args)


class BulkWriter:
    """Runs the domain commands on aggregates in memory and saves their events
    in time order, `chunk` events per `log.save` (one transaction each)."""

    # Larger saves can hang PostgreSQL inserts: eventsourcing sends them as one
    # psycopg pipeline, and at ~20 000 events (tens of MB) the pipeline stalled
    # here with the server waiting on ClientRead (cf. psycopg issue 685).
    def __init__(self, log: EventLog, chunk: int = 5_000) -> None:
        self.log = log
        self.chunk = chunk
        self.cases: dict[UUID, SupportCase] = {}
        self.pending: list[Any] = []
        self.saves = 0
        self.recorded = 0  # events handed in so far, whichever history recorded them
        self.offering: SupportOffering | None = None

    def begin(self, history: SupportHistory) -> None:
        ctx = Step(
            SupportOffering.offering_id(),
            "establish",
            history.start,
            history.start,
            ADMIN,
            Source.CLI,
            history.request_id(),
        ).context()
        offering = SupportOffering.establish(ctx)
        for terms, effective_from in history.terms():
            offering.publish_terms(ctx, terms, effective_from)
        self.offering = offering
        self.add(offering.collect_events())

    def in_force_at(self, moment: datetime) -> PublishedTerms:
        if self.offering is None:
            raise RuntimeError("the writer has not begun")
        return self.offering.in_force_at(moment)

    def write(self, step: Step) -> int:
        ctx = step.context()
        if step.command == "receive":
            terms = self.in_force_at(step.args["received_at"])
            case = SupportCase.receive(
                ctx, cmd.TakeIn(**step.args), case_id=step.case_id, terms=terms
            )
            self.cases[step.case_id] = case
        elif step.command == "link_billing_account":  # the case's side of the link
            case = self.cases[step.case_id]
            case.link_billing_account(ctx, step.args["account_id"])
        else:
            case = self.cases[step.case_id]
            command = command_of(step)
            if isinstance(command, cmd.Escalate):
                in_force = self.in_force_at(step.occurred_at).terms
                paths = EscalationPaths(in_force.partner_kind, in_force.held_vehicles)
                case.escalate(ctx, command, paths)
            else:
                DECISIONS[type(command)](case, ctx, command)
        return self.add(case.collect_events())

    def add(self, events: Sequence[Any]) -> int:
        """Queue `events` (the next in time order) for saving; return how many."""
        self.pending.extend(events)
        self.recorded += len(events)
        if len(self.pending) >= self.chunk:
            self.flush()
        return len(events)

    def finish(self, case_id: UUID) -> None:
        self.cases.pop(case_id, None)

    def flush(self) -> None:
        if self.pending:
            self.log.save(*self.pending)
            self.saves += 1
            self.pending = []
