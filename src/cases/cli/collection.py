"""`cases collection run`: evaluate every billing account as of a moment."""

from __future__ import annotations

import typer

from cases.application.billing_office import Evaluation
from cases.application.caller import Caller
from cases.application.collection_run import CollectionSummary, run_collection
from cases.cli.groups import command_group
from cases.cli.moments import EvaluateAt, parse_moment
from cases.cli.progress import run_progress
from cases.cli.services import open_services
from cases.domain.metadata import Actor, Role, Source

PROGRESS_FROM = 200  # accounts: shorter runs finish before a bar would help

collection_app = command_group(
    "Collection: reminders, suspensions and reinstatements under the policy.", always_a_group=True
)


@collection_app.command("run")
def run(as_of: EvaluateAt = None) -> None:
    """Evaluate every billing account and print what was done."""
    with open_services() as services:
        moment = parse_moment(as_of) if as_of is not None else services.clock.now()
        caller = Caller.new(Actor("collection-run", Role.SYSTEM), Source.CLI)
        listed = services.billing.account_count()
        with run_progress("Evaluating accounts", listed, shown_from=PROGRESS_FROM) as advance:
            summary = run_collection(services.billing, caller, moment, advance)
        for line in summary_lines(summary):
            print(line)
        if summary.failures:
            raise typer.Exit(1)


def summary_lines(summary: CollectionSummary) -> list[str]:
    """One line per account acted on or failed, then the totals."""
    lines = [_account_line(e) for e in summary.acted_on]
    lines += [f"{f.aggregate_id}  failed ({f.rule}): {f.message}" for f in summary.failures]
    lines.append(
        f"Collection as of {summary.as_of.isoformat()} under policy version "
        f"{summary.policy_version}: {summary.evaluated} accounts evaluated, "
        f"{len(summary.acted_on)} acted on; {summary.stages_entered} stages entered, "
        f"{summary.reminders} reminders sent, {summary.suspensions} subscriptions "
        f"suspended, {summary.reinstatements} reinstated, {len(summary.failures)} failed."
    )
    return lines


def _account_line(evaluation: Evaluation) -> str:
    parts = []
    if evaluation.stages_entered:
        parts.append("stages " + " ".join(f"{d:+d}" for d in evaluation.stages_entered))
    if evaluation.reminders:
        parts.append("sent " + ", ".join(r.value.replace("_", " ") for r in evaluation.reminders))
    if evaluation.suspended:
        parts.append("suspended " + ", ".join(evaluation.suspended))
    if evaluation.reinstated:
        parts.append("reinstated " + ", ".join(evaluation.reinstated))
    return f"{evaluation.customer_id:<20} {evaluation.account_id}  " + "; ".join(parts)
