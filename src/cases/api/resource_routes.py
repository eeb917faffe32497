"""The routes every event-sourced resource has, written once (ADR 0039).

A resource (the support case, the billing account) answers its commands and its
audit reads the same way; only the aggregate, its noun, its id's name and its
shapes differ. The routes are built here from those, with the very signature a
hand-written route would have, so the OpenAPI document reads as before:

- a command route takes the id in the path, a body that names the command's
  fields, a `Command` (principal, caller, If-Match), and answers a
  `CommandResult` with the new version as ETag. The body becomes the domain's
  command in one place, `command_of`: each field by its name, a nested shape by
  its `domain_value()`;
- `GET .../{id}/state` rebuilds the aggregate (now, at a version, or as recorded
  at a moment) and `GET .../{id}/history` lists its recorded events.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Query, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from cases.api.deps import Command, ReadDbDep, ServicesDep, command_needs, require
from cases.api.direct_commands import direct_route
from cases.api.history_proofs import CheckpointQuery, ProofsQuery, proved
from cases.api.routing import Router
from cases.api.schemas.common import AwareDatetime, CommandResult, HistoryEntryOut
from cases.application.command_runner import Receipt
from cases.bootstrap import Services
from cases.domain.audited import AuditedAggregate
from cases.domain.permissions import Permission
from cases.persistence.event_rows import LAST_POSITION

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    C = TypeVar("C", bound=DataclassInstance)
else:
    C = TypeVar("C")

A = TypeVar("A", bound=AuditedAggregate)


def _domain(value: object) -> object:
    """A nested request shape as the domain value it stands for (its
    `domain_value()`); a list of them as a tuple of such values."""
    if isinstance(value, list):
        return tuple(_domain(v) for v in value)
    convert = getattr(value, "domain_value", None) if isinstance(value, BaseModel) else None
    return convert() if callable(convert) else value


def command_of(body: BaseModel, kind: type[C], **given: object) -> C:
    """The domain command `kind` a request body asks for: each of its fields from
    the body's field of that name (a nested shape as its domain value), unless
    `given` (what the path or the principal decides)."""
    values = {
        f.name: given[f.name] if f.name in given else _domain(getattr(body, f.name))
        for f in fields(kind)
        if f.name in given or f.name in type(body).model_fields
    }
    return kind(**values)


def _endpoint(
    name: str,
    doc: str,
    params: Mapping[str, tuple[Any, Any]],
    returns: Any,
    run: Callable[..., Any],
) -> Callable[..., Any]:
    """A route function named `name` whose parameters are `params` (name: type and
    default, `inspect.Parameter.empty` for none), as FastAPI reads a signature."""

    def endpoint(**kwargs: Any) -> Any:
        return run(**kwargs)

    endpoint.__name__ = endpoint.__qualname__ = name
    endpoint.__doc__ = doc
    endpoint.__annotations__ = {n: t for n, (t, _) in params.items()} | {"return": returns}
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=t, default=d)
            for n, (t, d) in params.items()
        ],
        return_annotation=returns,
    )
    return endpoint


NONE = inspect.Parameter.empty


def accepted(response: Response, receipt: Receipt) -> CommandResult:
    """A command's answer: the receipt, with the aggregate's new version as ETag."""
    response.headers["ETag"] = f'"{receipt.version}"'
    return CommandResult.of(receipt)


def answered_by_receipt(command: Command, response: Response, receipt: Receipt) -> CommandResult:
    """`accepted`, for a route whose whole answer is its one command's receipt: a
    keyed request's step then answers its retries, and no copy of the answer is
    kept (ADR 95)."""
    if command.caller.request is not None:
        command.caller.request.answer_is_receipt()
    return accepted(response, receipt)


def add_command_route(
    router: Router,
    path: str,
    operation_id: str,
    doc: str,
    *,
    body: type[BaseModel],
    dependency: Any,
    id_name: str,
    run: Callable[..., Receipt],
    responses: dict[int | str, dict[str, Any]],
    path_params: Mapping[str, Any] | None = None,
    id_type: Any = UUID,
) -> None:
    """POST `path`: `run(id, body, command, **path_params)` and answer its receipt;
    `path_params` (name: type) are the path's parameters after the id (of `id_type`)."""
    extra = dict(path_params or {})

    def answer(**kwargs: Any) -> CommandResult:
        command: Command = kwargs.pop("command")
        response: Response = kwargs.pop("response")
        receipt = run(kwargs.pop(id_name), kwargs.pop("body"), command, **kwargs)
        return answered_by_receipt(command, response, receipt)

    params: dict[str, tuple[Any, Any]] = {id_name: (id_type, NONE)}
    params |= {n: (t, NONE) for n, t in extra.items()}
    params |= {"body": (body, NONE), "command": (dependency, NONE), "response": (Response, NONE)}
    router.post(path, operation_id=operation_id, responses=responses)(
        _endpoint(operation_id, doc, params, CommandResult, answer)
    )
    api_route = router.routes[-1]
    if id_type is UUID and isinstance(api_route, APIRoute):
        direct = direct_route(
            api_route,
            body=body,
            id_name=id_name,
            needs=command_needs(dependency),
            run=run,
            answer=answered_by_receipt,
        )
        if direct is not None:  # matched first, FastAPI's route behind it (ADR 94)
            router.routes.insert(len(router.routes) - 1, direct)


PROOF_PARAMS: Mapping[str, tuple[Any, Any]] = {
    "db": (ReadDbDep, NONE),
    "proofs": (ProofsQuery, False),
    "checkpoint": (CheckpointQuery, None),
}


def add_audit_routes(
    router: Router,
    kind: type[A],
    state_model: type[BaseModel],
    state: Callable[[A], BaseModel],
    *,
    id_name: str,
    responses: dict[int | str, dict[str, Any]],
) -> None:
    """GET `/{id}/state` (answered as `state` makes it, in `state_model`'s shape)
    and `/{id}/history` of the aggregate `kind`, whose id is the path's `id_name`
    (`case_id`: the case's); for principals that may read history."""
    noun = id_name.removesuffix("_id")

    def get_state(**kwargs: Any) -> BaseModel:
        services: Services = kwargs["services"]
        found = services.audit.state(
            kind, kwargs[id_name], version=kwargs["version"], as_of=kwargs["as_of"]
        )
        kwargs["response"].headers["ETag"] = f'"{found.version}"'
        return state(found)

    def get_history(**kwargs: Any) -> list[HistoryEntryOut]:
        services: Services = kwargs["services"]
        entries = [HistoryEntryOut.of(e) for e in services.audit.history(kind, kwargs[id_name])]
        return proved(entries, kwargs, id_name)

    add_audit_route(
        router,
        f"/{{{id_name}}}/state",
        f"get_{noun}_state",
        id_name,
        doc=f"The {noun} rebuilt from its events: now, at a version, or as recorded at a moment.",
        params={
            "response": (Response, NONE),
            "version": (Annotated[int | None, Query(ge=1, le=LAST_POSITION)], None),
            "as_of": (AwareDatetime | None, None),
        },
        returns=state_model,
        run=get_state,
        responses=responses,
    )
    add_audit_route(
        router,
        f"/{{{id_name}}}/history",
        f"get_{noun}_history",
        id_name,
        doc=f"Every recorded event of the {noun}, in order, with who, when and why; with "
        "`proofs=true`, each with its inclusion proof in a kept audit-log checkpoint.",
        params=PROOF_PARAMS,
        returns=list[HistoryEntryOut],
        run=get_history,
        responses=responses,
    )


def add_audit_route(
    router: Router,
    path: str,
    operation_id: str,
    id_name: str,
    *,
    doc: str,
    params: Mapping[str, tuple[Any, Any]],
    returns: Any,
    run: Callable[..., Any],
    responses: dict[int | str, dict[str, Any]],
) -> None:
    """GET `path` for principals that may read history: `run(**kwargs)` with the
    aggregate's id (the path's `id_name`), the services and `params`, answered in
    the shape `returns`."""
    router.get(
        path,
        operation_id=operation_id,
        responses=responses,
        dependencies=[Depends(require(Permission.READ_HISTORY))],
    )(
        _endpoint(
            operation_id,
            doc,
            {id_name: (UUID, NONE), "services": (ServicesDep, NONE), **params},
            returns,
            run,
        )
    )
