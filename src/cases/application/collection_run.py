"""The collection run: every account evaluated as of one moment.

Each account is evaluated in its own command under the policy version in
force at that moment, so a payment landing on an account mid-run either comes
first (and is seen) or comes after (and is judged on what the run recorded):
the store refuses whichever write lost the race, and that command is decided
again on fresh state. A failure on one account is reported, not fatal; a run
as of a moment still to come is refused whole and records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cases.application.billing_office import BillingOffice, Evaluation
from cases.application.caller import Caller
from cases.application.refusals import Refused
from cases.domain.errors import DomainError
from cases.progress import Progress


@dataclass(frozen=True, slots=True)
class CollectionSummary:
    """What one run did: the accounts it acted on, and those it could not."""

    as_of: datetime
    policy_version: int
    evaluated: int
    acted_on: tuple[Evaluation, ...]
    failures: tuple[Refused, ...]

    @property
    def reminders(self) -> int:
        return sum(len(e.reminders) for e in self.acted_on)

    @property
    def stages_entered(self) -> int:
        return sum(len(e.stages_entered) for e in self.acted_on)

    @property
    def suspensions(self) -> int:
        return sum(len(e.suspended) for e in self.acted_on)

    @property
    def reinstatements(self) -> int:
        return sum(len(e.reinstated) for e in self.acted_on)


def run_collection(
    office: BillingOffice,
    caller: Caller,
    as_of: datetime,
    progress: Progress | None = None,
) -> CollectionSummary:
    """Evaluate every account as of `as_of`; return what was done to which. A
    moment still to come refuses the run itself (every account would refuse it)."""
    office.check_not_in_future(as_of)
    policy = office.policy_in_force(as_of)
    listed = office.account_count()
    evaluated = 0
    acted_on: list[Evaluation] = []
    failures: list[Refused] = []
    for account_id in office.directory.ids():
        try:
            evaluation = office.evaluate_under(caller, account_id, policy, as_of)
        except DomainError as e:
            failures.append(Refused.by(account_id, e))
        else:
            if evaluation.did_something:
                acted_on.append(evaluation)
        evaluated += 1
        if progress is not None:
            progress(evaluated, max(listed, evaluated))
    return CollectionSummary(
        as_of=as_of,
        policy_version=policy.version,
        evaluated=evaluated,
        acted_on=tuple(acted_on),
        failures=tuple(failures),
    )
