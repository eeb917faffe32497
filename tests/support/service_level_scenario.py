"""Seven support cases whose service-level figures are computed by hand, driven
through the support desk on a manual clock (ADR 20 tests).

Terms: the demo partner's (weekdays 08-12 and 13-17 in Stockholm, Swedish public
holidays), with vendor hand-back targets. In March Stockholm is UTC+1, from 29
March UTC+2. Business times, local:

- A contoso, moderate, technical: received Mon 2 Mar 09:00; answered 11:00 (first
  response 2:00); resolved Tue 10:00 (resolution 9:00: 3 + 4 + 2). Its update
  clock is stopped by the resolution.
- B fabrikam, critical, technical, received OUTSIDE service hours (Mon 19:30):
  the clocks start Tue 08:00; answered 08:30 (0:30); resolved 10:00 (2:00).
- D contoso, moderate, technical, PAUSED: received Wed 4 Mar 09:00, answered
  09:30 (0:30), waits on the customer 10:00 until Thu 13:00; update 14:00 (the
  first gap 1:30: 0:30 + 1:00, the pause not counted); resolved 15:00 (3:00).
- E fabrikam, critical, technical, BREACHED: received Thu 5 Mar 09:00, answered
  12:00 (3:00, target 1:00, breach recorded then); resolved Fri 11:00 (10:00,
  target 8:00; breached Fri 09:00); its first update gap (target 2:00 from 12:00,
  over lunch, due 15:00) is breached too, recorded at the resolution.
- F contoso, moderate, technical, a breach WITHDRAWN: received Mon 9 Mar 09:00;
  the scheduled evaluation at 15:00 records the first-response breach (due
  14:00); at 16:00 an agent logs a call made at 13:30 (3:30, within 4:00), which
  withdraws it. Left open.
- G northwind, moderate, technical, ESCALATED and REOPENED: received Tue 10 Mar
  09:00, answered 09:30 (0:30), escalated through Advanced Support for Partners
  11:00 (time to escalate 2:00), update 15:00 (gap 4:30), handed back Wed 13:00
  (vendor time 9:00, target 16:00), resolved 14:00 (12:00), reopened Thu 12 Mar
  10:00.
- C northwind, minimal, billing, received ON A HOLIDAY (Good Friday 3 Apr 12:00;
  Easter Monday is one too): answered Tue 7 Apr 09:00 (1:00), resolved 14:00
  (5:00).

After the main story, a scheduled evaluation on Fri 20 Mar records the breaches
due on the two open cases: F's resolution (due Mon 16 Mar 09:00) and first update
gap (due Tue 10 Mar 13:30), G's resumed resolution (due Tue 17 Mar 15:00) and
third update gap (due Fri 13 Mar 10:00).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from cases.application.caller import Caller
from cases.application.support_desk import SupportDesk
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.case_values import (
    CaseCategory,
    Direction,
    EscalationCategory,
    EscalationTarget,
    ResolutionCode,
)
from cases.domain.metadata import Actor, Role, Source
from cases.domain.support_terms import Channel, EscalationVehicle, Severity, SupportTerms
from tests.support.builders import caller, intake, terms

SCHEDULER = Caller.new(Actor("clock-evaluation", Role.SYSTEM), Source.SCHEDULER)
VENDOR_MINUTES = {Severity.CRITICAL: 8 * 60, Severity.MODERATE: 16 * 60, Severity.MINIMAL: 32 * 60}


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def scenario_terms() -> SupportTerms:
    base = terms()
    targets = tuple(
        replace(t, vendor_hand_back_minutes=VENDOR_MINUTES[t.severity]) for t in base.targets
    )
    return replace(base, targets=targets)


PUBLISHED_AT = utc(2, 1, 8)
# Moments of the story, in UTC.
MAIN_STORY_ENDS = utc(3, 12, 9)  # G reopened
EVALUATED_AT = utc(3, 20, 12)  # the scheduled evaluation
FINAL = utc(4, 8, 12)  # after everything
PERIOD = (utc(3, 1, 0), utc(5, 1, 0))

Step = tuple[datetime, Callable[[], object]]


@dataclass
class ServiceLevelScenario:
    """The story as steps in time order; `run_until` records them up to a moment."""

    desk: SupportDesk
    clock: ManualClock
    ids: dict[str, UUID] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    done: int = 0

    def __post_init__(self) -> None:
        self.clock.set(PUBLISHED_AT)
        self.desk.publish_terms(caller(), scenario_terms(), effective_from=PUBLISHED_AT)
        self._story()
        self.steps.sort(key=lambda step: step[0])

    def run_until(self, moment: datetime) -> None:
        while self.done < len(self.steps) and self.steps[self.done][0] <= moment:
            at, action = self.steps[self.done]
            self.clock.set(at)
            action()
            self.done += 1

    # Building the story ---------------------------------------------------------

    def at(self, moment: datetime, action: Callable[[], object]) -> None:
        self.steps.append((moment, action))

    def receive(
        self,
        name: str,
        moment: datetime,
        customer: str,
        severity: Severity,
        category: CaseCategory = CaseCategory.TECHNICAL,
    ) -> None:
        self.ids[name] = uuid4()
        fields = intake(category, customer_id=customer, severity=severity)
        self.at(
            moment,
            lambda: self.desk.receive_case(
                caller(), cmd.TakeIn(received_at=moment, case_id=self.ids[name], **fields)
            ),
        )

    def check(self, name: str, moment: datetime) -> None:
        self.at(
            moment, lambda: self.desk.handle(caller(), self.ids[name], cmd.CheckServiceHealth(None))
        )

    def message(
        self,
        name: str,
        moment: datetime,
        direction: Direction = Direction.OUTBOUND,
        occurred_at: datetime | None = None,
    ) -> None:
        who = caller() if occurred_at is None else caller().at(occurred_at)
        self.at(
            moment,
            lambda: self.desk.handle(
                who,
                self.ids[name],
                cmd.RecordCommunication(direction, Channel.PHONE, "Status update"),
            ),
        )

    def resolve(self, name: str, moment: datetime) -> None:
        self.at(
            moment,
            lambda: self.desk.handle(
                caller(), self.ids[name], cmd.Resolve(ResolutionCode.FIXED_BY_PARTNER, "Fixed.")
            ),
        )

    def evaluate(self, names: tuple[str, ...], moment: datetime) -> None:
        for name in names:
            self.at(
                moment,
                lambda name=name: self.desk.evaluate_service_clocks(  # type: ignore[misc]
                    SCHEDULER, self.ids[name], moment
                ),
            )

    def _story(self) -> None:
        moderate, critical = Severity.MODERATE, Severity.CRITICAL
        desk, ids = self.desk, self.ids
        # A: ordinary.
        self.receive("A", utc(3, 2, 8), "contoso", moderate)
        self.check("A", utc(3, 2, 8, 10))
        self.message("A", utc(3, 2, 10))
        self.resolve("A", utc(3, 3, 9))
        # B: received outside service hours.
        self.receive("B", utc(3, 2, 18, 30), "fabrikam", critical)
        self.check("B", utc(3, 3, 7))
        self.message("B", utc(3, 3, 7, 30))
        self.resolve("B", utc(3, 3, 9))
        # D: waits on the customer.
        self.receive("D", utc(3, 4, 8), "contoso", moderate)
        self.check("D", utc(3, 4, 8, 5))
        self.message("D", utc(3, 4, 8, 30))
        self.at(
            utc(3, 4, 9), lambda: desk.handle(caller(), ids["D"], cmd.WaitOnCustomer("Screenshot"))
        )
        self.message("D", utc(3, 5, 12), Direction.INBOUND)
        self.message("D", utc(3, 5, 13))
        self.resolve("D", utc(3, 5, 14))
        # E: breached.
        self.receive("E", utc(3, 5, 8), "fabrikam", critical)
        self.check("E", utc(3, 5, 8, 5))
        self.message("E", utc(3, 5, 11))
        self.resolve("E", utc(3, 6, 10))
        # F: a breach the evaluation records, withdrawn by a call logged late.
        self.receive("F", utc(3, 9, 8), "contoso", moderate)
        self.evaluate(("F",), utc(3, 9, 14))
        self.message("F", utc(3, 9, 15), occurred_at=utc(3, 9, 12, 30))
        # G: escalated, handed back, resolved, reopened.
        self.receive("G", utc(3, 10, 8), "northwind", moderate)
        self.check("G", utc(3, 10, 8, 10))
        self.message("G", utc(3, 10, 8, 30))
        self.at(
            utc(3, 10, 10),
            lambda: desk.handle(
                caller(),
                ids["G"],
                cmd.Escalate(
                    target=EscalationTarget.VENDOR,
                    category=EscalationCategory.SERVICE_DEFECT,
                    vehicle=EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS,
                    reason="Service-side fault confirmed",
                ),
            ),
        )
        self.message("G", utc(3, 10, 14))
        self.at(
            utc(3, 11, 12), lambda: desk.handle(caller(), ids["G"], cmd.RecordHandBack("Fixed."))
        )
        self.resolve("G", utc(3, 11, 13))
        self.at(utc(3, 12, 9), lambda: desk.handle(caller(), ids["G"], cmd.Reopen("It came back")))
        # The scheduled evaluation of the open cases.
        self.evaluate(("F", "G"), EVALUATED_AT)
        # C: received on Good Friday (a billing question).
        self.receive("C", utc(4, 3, 10), "northwind", Severity.MINIMAL, CaseCategory.BILLING)
        self.message("C", utc(4, 7, 7))
        self.resolve("C", utc(4, 7, 12))


def hours(h: float) -> timedelta:
    return timedelta(hours=h)
