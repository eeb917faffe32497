"""Support cases: intake, one action per command, state, history, the queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query, Response
from pydantic import BaseModel

from cases import time_range
from cases.api.cursors import Cursor, Limit, key_after, page_of
from cases.api.deps import (
    ApiStateDep,
    Command,
    MinPositionDep,
    PrincipalDep,
    QueryDbDep,
    check_customer,
    command_for,
    require,
    wait_for_projections,
)
from cases.api.errors import ApiProblem, resource_problems
from cases.api.resource_routes import (
    accepted,
    add_audit_routes,
    add_command_route,
    answered_by_receipt,
    command_of,
)
from cases.api.routing import Router
from cases.api.schemas import cases as s
from cases.api.schemas.common import AwareDatetime, CommandResult
from cases.application.caller import Caller
from cases.application.command_runner import Receipt
from cases.application.vendor_requests import VendorRequests
from cases.domain import case_commands as c
from cases.domain.case_values import (
    CaseCategory,
    CaseStatus,
)
from cases.domain.errors import CustomerCannotDateActsError, NotFoundError
from cases.domain.metadata import Role
from cases.domain.permissions import Permission
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import Severity
from cases.projections.advisories import AdvisoriesView
from cases.projections.case_queue import CaseFilter, CaseQueueView
from cases.settings import SettingsError
from cases.vendor.http import VendorUnavailableError
from cases.vendor.wiring import partner_center

NO_NUL = r"^[^\x00]*$"  # stores cannot keep a NUL character

WorkCommand = Annotated[Command, command_for(Permission.WORK_CASES)]
IntakeCommand = Annotated[Command, command_for(Permission.OPEN_CASES, if_match=False)]
LinkCommand = Annotated[Command, command_for(Permission.WORK_CASES, if_match=False)]
Reads = Depends(require(Permission.READ_CASES))

PROBLEMS = resource_problems("case")

router = Router(prefix="/cases", tags=["cases"], responses=PROBLEMS)


def _not_found(case_id: UUID) -> NotFoundError:
    return NotFoundError(f"no support case has the id {case_id}")


# Intake ---------------------------------------------------------------------


@router.post("", status_code=201)
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
    receipt = desk.receive_case(command.caller, command_of(body, c.TakeIn, customer_id=customer_id))
    response.headers["Location"] = f"/cases/{receipt.aggregate_id}"
    return answered_by_receipt(command, response, receipt)


# Queries --------------------------------------------------------------------


def _key_of(column: str) -> Callable[[dict[str, Any]], list[str]]:
    def key(row: dict[str, Any]) -> list[str]:
        moment = row[column]
        value = moment.isoformat() if isinstance(moment, datetime) else str(moment)
        return [value, str(row["case_id"])]

    return key


def _position(key: list[str]) -> tuple[datetime, UUID]:
    after = datetime.fromisoformat(key[0]), UUID(key[1])
    aware = after[0] if after[0].tzinfo else after[0].replace(tzinfo=UTC)
    if not time_range.moment_in_range(aware):  # forged: no case was received then (ADR 0035)
        raise ValueError("no case was received then")
    return after


@router.get("", dependencies=[Reads])
def list_cases(
    db: QueryDbDep,
    principal: PrincipalDep,
    min_position: MinPositionDep,
    customer_id: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    status: CaseStatus | None = None,
    severity: Severity | None = None,
    assignee: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    category: CaseCategory | None = None,
    received_from: AwareDatetime | None = None,
    received_before: AwareDatetime | None = None,
    vendor_attention: Annotated[
        bool | None,
        Query(description="Only cases whose vendor request awaits the partner (true) or not."),
    ] = None,
    sort: Annotated[str, Query(pattern="^(received|last_update)$")] = "received",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    limit: Limit = 50,
    cursor: Cursor = None,
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
        vendor_attention=vendor_attention,
    )
    query = {"list": "cases", **asdict(where), "sort": sort, "order": order}
    after = key_after(cursor, query, 2, _position)
    rows = CaseQueueView(db).page(
        where, sort=sort, descending=order == "desc", limit=limit + 1, after=after
    )
    page, next_cursor = page_of(rows, limit, query, _key_of(CaseQueueView.SORTS[sort]))
    return s.CasePage(items=[s.CaseSummary.of(r) for r in page], next_cursor=next_cursor)


@router.get("/{case_id}", dependencies=[Reads])
def get_case(
    case_id: UUID,
    db: QueryDbDep,
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
    "/{case_id}/advisories",
    dependencies=[Depends(require(Permission.WORK_CASES))],
)
def list_case_advisories(
    case_id: UUID, db: QueryDbDep, min_position: MinPositionDep
) -> list[s.OpenAdvisory]:
    """The imported vendor advisories still open about the case's product, most
    recently changed first (the service-health check's candidates)."""
    wait_for_projections(db, ("case_queue", "advisories"), min_position)
    row = CaseQueueView(db).get(case_id)
    if row is None:
        raise _not_found(case_id)
    return [s.OpenAdvisory.of(a) for a in AdvisoriesView(db).open_for(str(row["product"]))]


add_audit_routes(
    router, SupportCase, s.CaseState, s.CaseState.of, id_name="case_id", responses=PROBLEMS
)


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


def _work(kind: type[c.CaseCommand]) -> Callable[[UUID, BaseModel, Command], Receipt]:
    """Carry the body, as the domain command `kind`, to the case."""

    def run(case_id: UUID, body: BaseModel, command: Command) -> Receipt:
        asked = command_of(body, kind)  # its values are checked before who may date it
        caller = _as(command, getattr(body, "occurred_at", None))
        return command.desk.handle(
            caller, case_id, asked, expected_version=command.expected_version
        )

    return run


# (path, operation id, body, domain command, what it does: the OpenAPI description)
ACTIONS: tuple[tuple[str, str, type[BaseModel], type[c.CaseCommand], str], ...] = (
    (
        "/service-health-checks",
        "check_service_health",
        s.ServiceHealthCheck,
        c.CheckServiceHealth,
        "Record the vendor service-health check and the advisory it matched, if any.",
    ),
    (
        "/diagnoses",
        "record_diagnosis",
        s.Diagnosis,
        c.RecordDiagnosis,
        "Record diagnosis findings (a technical case needs the service-health check first).",
    ),
    (
        "/communications",
        "record_communication",
        s.Communication,
        c.RecordCommunication,
        "Record a message to or from the customer; the first outbound is the first response.",
    ),
    (
        "/waiting-on-customer",
        "wait_on_customer",
        s.Reason,
        c.WaitOnCustomer,
        "Pause the customer clock: the case waits on the customer.",
    ),
    (
        "/waiting-on-customer/end",
        "stop_waiting_on_customer",
        s.Reason,
        c.StopWaitingOnCustomer,
        "End a wait on the customer without a reply from them.",
    ),
    ("/assignment", "assign_case", s.Assignment, c.Assign, "Assign the case to an agent."),
    (
        "/severity",
        "change_severity",
        s.SeverityChange,
        c.ChangeSeverity,
        "Change the case's severity, with the reason.",
    ),
    (
        "/escalations",
        "escalate_case",
        s.Escalation,
        c.Escalate,
        "Escalate to the vendor or the indirect provider, through a vehicle the partner holds.",
    ),
    (
        "/escalations/current/vendor-reference",
        "record_vendor_reference",
        s.VendorReference,
        c.RecordVendorReference,
        "Record the vendor's reference for the open escalation.",
    ),
    (
        "/escalations/current/updates",
        "record_vendor_update",
        s.VendorUpdate,
        c.RecordVendorUpdate,
        "Record news from the vendor on the open escalation.",
    ),
    (
        "/escalations/current/hand-back",
        "record_hand_back",
        s.HandBack,
        c.RecordHandBack,
        "Record that the vendor handed the case back (stops the vendor clock).",
    ),
    ("/resolution", "resolve_case", s.Resolution, c.Resolve, "Resolve the case, recording how."),
    ("/close", "close_case", s.Close, c.Close, "Close a resolved case."),
    (
        "/reopen",
        "reopen_case",
        s.Reason,
        c.Reopen,
        "Reopen a resolved case, or a closed one within its terms' window.",
    ),
    ("/notes", "add_note", s.Note, c.AddNote, "Add an internal note."),
)

for path, operation_id, body, kind, doc in ACTIONS:
    add_command_route(
        router,
        "/{case_id}" + path,
        operation_id,
        doc,
        body=body,
        dependency=WorkCommand,
        id_name="case_id",
        run=_work(kind),
        responses=PROBLEMS,
    )


@router.post(
    "/{case_id}/escalations/current/vendor-request",
    responses={503: {"description": "The vendor or the database is unavailable"}},
)
def open_vendor_request(
    case_id: UUID,
    body: s.VendorRequestIn,
    command: LinkCommand,
    api: ApiStateDep,
    response: Response,
) -> CommandResult:
    """Open a support request with the vendor (Partner Center) for the open
    escalation and record its id as the escalation's vendor reference."""
    asked = command_of(body, c.OpenVendorRequest)
    requests = VendorRequests(command.desk.runner)
    requests.draft(command.caller, case_id, asked)  # the case refuses first: 404, 409, 422
    try:
        with partner_center(api.settings) as center:
            receipt = requests.open(command.caller, case_id, asked, center)
    except SettingsError as e:
        raise ApiProblem(409, "vendor-not-configured", str(e)) from None
    except VendorUnavailableError as e:
        raise ApiProblem(503, "vendor-unavailable", str(e), {"Retry-After": "60"}) from None
    return accepted(response, receipt)


@router.post("/{case_id}/billing-account")
def link_billing_account(
    case_id: UUID,
    body: s.BillingAccountLink,
    command: LinkCommand,
    response: Response,
) -> CommandResult:
    """Link a billing case to the account it concerns (both record the link)."""
    case_receipt, _ = command.billing.link_billing_case(command.caller, case_id, body.account_id)
    return accepted(response, case_receipt)
