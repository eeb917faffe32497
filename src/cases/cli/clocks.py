"""`cases clocks evaluate`: the scheduled service-level check.

Brings the service-levels projection up to date (or waits for the runner that
keeps it), asks it for the cases with a running clock past its deadline, and
evaluates each as of one moment: every breach is recorded at its deadline, once.
"""

from __future__ import annotations

import typer

from cases.application.caller import Caller
from cases.application.clock_run import ClockRunSummary, run_clock_evaluation
from cases.bootstrap import services_on
from cases.cli.groups import command_group
from cases.cli.moments import EvaluateAt, parse_moment
from cases.cli.projections import ProjectionStore, projection_store
from cases.cli.services import fail
from cases.clock import SystemClock, wait_until
from cases.domain.errors import DomainError
from cases.domain.metadata import Actor, Role, Source
from cases.followers.catalog import projection_named
from cases.followers.leadership import Leadership
from cases.followers.runner import ProjectionRunner
from cases.projections.layout import applied_position, layout
from cases.reports.service_levels import ServiceLevelsView

PROJECTION = "service_levels"
WAIT_SECONDS = 60.0

clocks_app = command_group(
    "Service-level clocks: record the breaches that have happened.", always_a_group=True
)


@clocks_app.command("evaluate")
def evaluate(as_of: EvaluateAt = None) -> None:
    """Record every breach due by the moment, on every case that has one."""
    moment = parse_moment(as_of) if as_of is not None else None
    with projection_store() as store:
        services = services_on(store.log, SystemClock())
        moment = moment or services.clock.now()
        bring_up_to_date(store)
        candidates = list(ServiceLevelsView(store.db).cases_due(moment))
        caller = Caller.new(Actor("clock-evaluation", Role.SYSTEM), Source.SCHEDULER)
        try:
            summary = run_clock_evaluation(services.desk, caller, moment, candidates)
        except DomainError as e:
            fail(f"refused ({e.rule}): {e.message}", 1)
    for line in summary_lines(summary):
        print(line)
    if summary.failures:
        raise typer.Exit(1)


def bring_up_to_date(store: ProjectionStore) -> None:
    """Catch the projection up with the log, or wait for the runner leading it
    (where partitions keep it, for every partition: ADR 90)."""
    if store.db.is_postgres and layout(store.db, PROJECTION) > 1:
        head = store.log.head()
        if not wait_until(lambda: applied_position(store.db, PROJECTION) >= head, WAIT_SECONDS):
            fail(f"the {PROJECTION} partitions are more than {WAIT_SECONDS:.0f} s behind", 2)
        return
    runner = ProjectionRunner(store.log, projection_named(PROJECTION), store.db)
    leadership = Leadership(store.db, PROJECTION)
    if leadership.try_acquire():
        try:
            runner.catch_up()
        finally:
            leadership.release()
        return
    if not runner.wait_for(runner.head(), WAIT_SECONDS):
        fail(f"the {PROJECTION} projection is more than {WAIT_SECONDS:.0f} s behind", 2)


def summary_lines(summary: ClockRunSummary) -> list[str]:
    lines = [
        f"{b.case_id}  {b.clock.value.replace('_', ' ')} clock {b.number} "
        f"breached at {b.breached_at.isoformat()}"
        for b in summary.breaches
    ]
    lines += [f"{f.aggregate_id}  failed ({f.rule}): {f.message}" for f in summary.failures]
    lines.append(
        f"Service clocks as of {summary.as_of.isoformat()}: {summary.evaluated} cases "
        f"evaluated, {len(summary.breaches)} breaches recorded, "
        f"{len(summary.failures)} failed."
    )
    return lines
