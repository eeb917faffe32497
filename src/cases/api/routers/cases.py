"""Support cases: intake, one action per command, state, history, the queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Query, Response

from cases import time_range
from cases.api.cursors import ListQuery, decode_cursor, encode_cursor
from cases.api.deps import (
    Command,
    MinPositionDep,
    PrincipalDep,
    ReadDbDep,
    ServicesDep,
    check_customer,
    command_for,
    require,
    wait_for_projections,
)
from cases.api.errors import ApiProblem
from cases.api.routing import Router
from cases.api.schemas import cases as s
from cases.api.schemas.common import AwareDatetime, CommandResult, HistoryEntryOut
from cases.application.caller import Caller
from cases.application.command_runner import Receipt
from cases.domain.case_values import (
    CaseCategory,
    CaseStatus,
    Contact,
    VendorAdvisory,
)
from cases.domain.errors import CustomerCannotDateActsError, NotFoundError
from cases.domain.metadata import Role
from cases.domain.permissions import Permission
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import Severity
from cases.projections.case_queue import CaseFilter, CaseQueueView

router = Router(prefix="/cases", tags=["cases"])
F = TypeVar("F", bound=Callable[..., object])
NO_NUL = r"^[^\x00]*$"  # stores cannot keep a NUL character

WorkCommand = Annotated[Command, command_for(Permission.WORK_CASES)]
IntakeCommand = Annotated[Command, command_for(Permission.OPEN_CASES, if_match=False)]
LinkCommand = Annotated[Command, command_for(Permission.WORK_CASES, if_match=False)]
Reads = Depends(require(Permission.READ_CASES))
Audits = Depends(require(Permission.READ_HISTORY))

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid bearer token"},
    403: {"description": "The role may not do this"},
    404: {"description": "No such case (or not visible to this principal)"},
    409: {"description": "A business rule refuses the command; nothing was recorded"},
    412: {"description": "If-Match is stale; nothing was recorded"},
    422: {"description": "Invalid request; the problem lists the fields"},
    503: {"description": "The database is unavailable; retry after Retry-After"},
}


def _accepted(response: Response, receipt: Receipt) -> CommandResult:
    response.headers["ETag"] = f'"{receipt.version}"'
    return CommandResult.of(receipt)


def _not_found(case_id: UUID) -> NotFoundError:
    return NotFoundError(f"no support case has the id {case_id}")


# Intake ---------------------------------------------------------------------


@router.post("", operation_id="receive_case", status_code=201, responses=PROBLEMS)
def receive_case(body: s.ReceiveCase, command: IntakeCommand, response: Response) -> CommandResult:
    """Take in a customer's request; it is judged by the terms in force when received."""
    principal, desk = command.principal, command.desk
    customer_id = body.customer_id
    if principal.role is Role.CUSTOMER:
        if body.received_at is not None:
            raise CustomerCannotDateActsError(
                "a customer's request is received when it is recorded: send no received_at"
            )
        if body.case_id is not None:  # any answer to a taken id would tell it is taken
            raise ApiProblem(
                422, "customer-chosen-case-id", "case_id: only staff choose a case's id"
            )
        customer_id = customer_id or principal.customer_id
        check_customer(principal, customer_id or "", f"no customer {customer_id}")
    if customer_id is None:
        raise ApiProblem(422, "invalid-request", "customer_id: staff must name the customer")
    receipt = desk.receive_case(
        command.caller,
        case_id=body.case_id,
        customer_id=customer_id,
        contact=Contact(body.contact.name, body.contact.email, body.contact.phone),
        channel=body.channel,
        product=body.product,
        category=body.category,
        severity=body.severity,
        title=body.title,
        description=body.description,
        received_at=body.received_at,
    )
    response.headers["Location"] = f"/cases/{receipt.aggregate_id}"
    return _accepted(response, receipt)


# Queries --------------------------------------------------------------------


def _cursor_after(row: dict[str, object], column: str, query: ListQuery) -> str:
    moment = row[column]
    value = moment.isoformat() if isinstance(moment, datetime) else str(moment)
    return encode_cursor(query, [value, str(row["case_id"])])


def _position_of(cursor: str, query: ListQuery) -> tuple[datetime, UUID]:
    moment, case_id = decode_cursor(cursor, query, parts=2)
    try:
        after = datetime.fromisoformat(moment), UUID(case_id)
    except (ValueError, TypeError):
        raise ApiProblem(422, "invalid-cursor", "cursor is not one this API gave out") from None
    aware = after[0] if after[0].tzinfo else after[0].replace(tzinfo=UTC)
    if not time_range.moment_in_range(aware):  # forged: no case was received then (ADR 0035)
        raise ApiProblem(422, "invalid-cursor", "cursor is not one this API gave out")
    return after


@router.get("", operation_id="list_cases", responses=PROBLEMS, dependencies=[Reads])
def list_cases(
    db: ReadDbDep,
    principal: PrincipalDep,
    min_position: MinPositionDep,
    customer_id: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    status: CaseStatus | None = None,
    severity: Severity | None = None,
    assignee: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    category: CaseCategory | None = None,
    received_from: AwareDatetime | None = None,
    received_before: AwareDatetime | None = None,
    sort: Annotated[str, Query(pattern="^(received|last_update)$")] = "received",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> s.CasePage:
    """Cases from the case queue, filtered and sorted, a page at a time."""
    if principal.role is Role.CUSTOMER:
        if customer_id not in (None, principal.customer_id):
            return s.CasePage(items=[], next_cursor=None)
        customer_id = principal.customer_id
    wait_for_projections(db, ("case_queue",), min_position)
    where = CaseFilter(
        customer_id=customer_id,
        status=status.value if status else None,
        severity=severity.value if severity else None,
        assignee=assignee,
        category=category.value if category else None,
        received_from=received_from,
        received_before=received_before,
    )
    query = {"list": "cases", **asdict(where), "sort": sort, "order": order}
    after = _position_of(cursor, query) if cursor else None
    rows = CaseQueueView(db).page(
        where, sort=sort, descending=order == "desc", limit=limit + 1, after=after
    )
    column = CaseQueueView.SORTS[sort]
    more = len(rows) > limit
    rows = rows[:limit]
    return s.CasePage(
        items=[s.CaseSummary.of(r) for r in rows],
        next_cursor=_cursor_after(rows[-1], column, query) if more else None,
    )


@router.get("/{case_id}", operation_id="get_case", responses=PROBLEMS, dependencies=[Reads])
def get_case(
    case_id: UUID,
    db: ReadDbDep,
    principal: PrincipalDep,
    min_position: MinPositionDep,
    response: Response,
) -> s.CaseSummary:
    """The case as the case queue shows it; its ETag is its version."""
    wait_for_projections(db, ("case_queue",), min_position)
    row = CaseQueueView(db).get(case_id)
    if row is None:
        raise _not_found(case_id)
    check_customer(principal, str(row["customer_id"]), str(_not_found(case_id)))
    response.headers["ETag"] = f'"{row["version"]}"'
    return s.CaseSummary.of(row)


@router.get(
    "/{case_id}/state", operation_id="get_case_state", responses=PROBLEMS, dependencies=[Audits]
)
def get_case_state(
    case_id: UUID,
    services: ServicesDep,
    response: Response,
    version: Annotated[int | None, Query(ge=1)] = None,
    as_of: AwareDatetime | None = None,
) -> s.CaseState:
    """The case rebuilt from its events: now, at a version, or as recorded at a moment."""
    case = services.audit.state(SupportCase, case_id, version=version, as_of=as_of)
    response.headers["ETag"] = f'"{case.version}"'
    return s.CaseState.of(case)


@router.get(
    "/{case_id}/history",
    operation_id="get_case_history",
    responses=PROBLEMS,
    dependencies=[Audits],
)
def get_case_history(case_id: UUID, services: ServicesDep) -> list[HistoryEntryOut]:
    """Every recorded event of the case, in order, with who, when and why."""
    return [HistoryEntryOut.of(e) for e in services.audit.history(SupportCase, case_id)]


# Commands -------------------------------------------------------------------


def _as(command: Command, occurred_at: datetime | None) -> Caller:
    """The caller, reporting an act that happened at `occurred_at` (if given).

    A customer's acts happen when recorded: one that dates an act is refused,
    not silently recorded as now (ADR 32)."""
    if occurred_at is None:
        return command.caller
    if command.principal.role is Role.CUSTOMER:
        raise CustomerCannotDateActsError(
            "a customer's acts happen when they are recorded: send no occurred_at"
        )
    return command.caller.at(occurred_at)


def action(path: str, operation_id: str) -> Callable[[F], F]:
    """A POST action on a case (by a WorkCommand): answers with a CommandResult."""
    return router.post(path, operation_id=operation_id, responses=PROBLEMS)


@action("/{case_id}/service-health-checks", "check_service_health")
def check_service_health(
    case_id: UUID,
    body: s.ServiceHealthCheck,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Record the vendor service-health check and the advisory it matched, if any."""
    found = body.advisory
    advisory = (
        VendorAdvisory(found.vendor_id, found.classification, found.title, found.service)
        if found
        else None
    )
    receipt = command.desk.check_service_health(
        _as(command, body.occurred_at),
        case_id,
        advisory,
        expected_version=command.expected_version,
    )
    return _accepted(response, receipt)


@action("/{case_id}/diagnoses", "record_diagnosis")
def record_diagnosis(
    case_id: UUID,
    body: s.Diagnosis,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Record diagnosis findings (a technical case needs the service-health check first)."""
    receipt = command.desk.record_diagnosis(
        _as(command, body.occurred_at),
        case_id,
        body.findings,
        expected_version=command.expected_version,
    )
    return _accepted(response, receipt)


@action("/{case_id}/communications", "record_communication")
def record_communication(
    case_id: UUID,
    body: s.Communication,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Record a message to or from the customer; the first outbound is the first response."""
    receipt = command.desk.record_communication(
        _as(command, body.occurred_at),
        case_id,
        body.direction,
        body.channel,
        body.summary,
        expected_version=command.expected_version,
    )
    return _accepted(response, receipt)


@action("/{case_id}/waiting-on-customer", "wait_on_customer")
def wait_on_customer(
    case_id: UUID,
    body: s.Reason,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Pause the customer clock: the case waits on the customer."""
    receipt = command.desk.wait_on_customer(
        _as(command, body.occurred_at),
        case_id,
        body.reason,
        expected_version=command.expected_version,
    )
    return _accepted(response, receipt)


@action("/{case_id}/waiting-on-customer/end", "stop_waiting_on_customer")
def stop_waiting_on_customer(
    case_id: UUID,
    body: s.Reason,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """End a wait on the customer without a reply from them."""
    receipt = command.desk.stop_waiting_on_customer(
        _as(command, body.occurred_at),
        case_id,
        body.reason,
        expected_version=command.expected_version,
    )
    return _accepted(response, receipt)


@action("/{case_id}/assignment", "assign_case")
def assign_case(
    case_id: UUID,
    body: s.Assignment,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Assign the case to an agent."""
    receipt = command.desk.assign(
        command.caller, case_id, body.agent_id, expected_version=command.expected_version
    )
    return _accepted(response, receipt)


@action("/{case_id}/severity", "change_severity")
def change_severity(
    case_id: UUID,
    body: s.SeverityChange,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Change the case's severity, with the reason."""
    receipt = command.desk.change_severity(
        command.caller,
        case_id,
        body.severity,
        body.reason,
        expected_version=command.expected_version,
    )
    return _accepted(response, receipt)


@action("/{case_id}/escalations", "escalate_case")
def escalate_case(
    case_id: UUID,
    body: s.Escalation,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Escalate to the vendor or the indirect provider, through a vehicle the partner holds."""
    receipt = command.desk.escalate(
        _as(command, body.occurred_at),
        case_id,
        target=body.target,
        category=body.category,
        vehicle=body.vehicle,
        reason=body.reason,
        expected_version=command.expected_version,
    )
    return _accepted(response, receipt)


@action("/{case_id}/escalations/current/vendor-reference", "record_vendor_reference")
def record_vendor_reference(
    case_id: UUID,
    body: s.VendorReference,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Record the vendor's reference for the open escalation."""
    receipt = command.desk.record_vendor_reference(
        command.caller, case_id, body.reference, expected_version=command.expected_version
    )
    return _accepted(response, receipt)


@action("/{case_id}/escalations/current/updates", "record_vendor_update")
def record_vendor_update(
    case_id: UUID,
    body: s.VendorUpdate,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Record news from the vendor on the open escalation."""
    receipt = command.desk.record_vendor_update(
        _as(command, body.occurred_at),
        case_id,
        body.text,
        expected_version=command.expected_version,
    )
    return _accepted(response, receipt)


@action("/{case_id}/escalations/current/hand-back", "record_hand_back")
def record_hand_back(
    case_id: UUID,
    body: s.HandBack,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Record that the vendor handed the case back (stops the vendor clock)."""
    receipt = command.desk.record_hand_back(
        _as(command, body.occurred_at),
        case_id,
        body.summary,
        expected_version=command.expected_version,
    )
    return _accepted(response, receipt)


@action("/{case_id}/resolution", "resolve_case")
def resolve_case(
    case_id: UUID,
    body: s.Resolution,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Resolve the case, recording how."""
    receipt = command.desk.resolve(
        _as(command, body.occurred_at),
        case_id,
        body.code,
        body.summary,
        expected_version=command.expected_version,
    )
    return _accepted(response, receipt)


@action("/{case_id}/close", "close_case")
def close_case(
    case_id: UUID,
    body: s.Close,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Close a resolved case."""
    receipt = command.desk.close(
        _as(command, body.occurred_at), case_id, expected_version=command.expected_version
    )
    return _accepted(response, receipt)


@action("/{case_id}/reopen", "reopen_case")
def reopen_case(
    case_id: UUID,
    body: s.Reason,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Reopen a resolved case, or a closed one within its terms' window."""
    receipt = command.desk.reopen(
        _as(command, body.occurred_at),
        case_id,
        body.reason,
        expected_version=command.expected_version,
    )
    return _accepted(response, receipt)


@action("/{case_id}/notes", "add_note")
def add_note(
    case_id: UUID,
    body: s.Note,
    command: WorkCommand,
    response: Response,
) -> CommandResult:
    """Add an internal note."""
    receipt = command.desk.add_note(
        command.caller, case_id, body.text, expected_version=command.expected_version
    )
    return _accepted(response, receipt)


@action("/{case_id}/billing-account", "link_billing_account")
def link_billing_account(
    case_id: UUID,
    body: s.BillingAccountLink,
    command: LinkCommand,
    response: Response,
) -> CommandResult:
    """Link a billing case to the account it concerns (both record the link)."""
    case_receipt, _ = command.billing.link_billing_case(command.caller, case_id, body.account_id)
    return _accepted(response, case_receipt)
