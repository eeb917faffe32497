"""Who may call each operation, written into the OpenAPI document and the README.

A route asks for its permission through `deps.require` or `deps.command_for`, which
declare it as the scope of the bearer token; the document therefore already says
which permission each operation needs. This module reads it there and names the
roles that hold it in `domain/permissions.py`, so the roles can never be written
down in a second place: each operation's description ends with a "Roles:" line,
the README's role-by-operation table is `role_table` of the same document (a test
keeps the README equal to it), and every `POST` declares the `Idempotency-Key`
header the idempotency middleware honours (ADR 0031). `If-Match` and
`min_position` are declared by the dependencies that read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cases.domain.metadata import Role
from cases.domain.permissions import ROLE_PERMISSIONS, Permission

# The roles a principal may hold; SYSTEM is the processes' own and never a token's.
ROLES: tuple[Role, ...] = tuple(r for r in Role if r is not Role.SYSTEM)
_METHODS = ("get", "post", "put", "patch", "delete")
_MARK = "\n\nRoles: "

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique string up to 255 characters. Retry with the same key and "
    "body until you get a definite answer: the command is recorded once, and the first "
    "answer comes back marked `Idempotent-Replayed: true` (ADR 0031).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


@dataclass(frozen=True, slots=True)
class OperationRoles:
    """One operation and who may call it: `roles` None means anyone, without a token."""

    operation_id: str
    method: str
    path: str
    permission: Permission | None
    roles: tuple[Role, ...] | None

    @property
    def sentence(self) -> str:
        """The roles as the description's last line says them."""
        if self.roles is None:
            return "anyone, without a token."
        names = ", ".join(_name(r) for r in self.roles)
        needs = f" (`{self.permission.value}`)" if self.permission else " (any signed-in role)"
        customer = (
            " A customer sees its own customer's data only."
            if Role.CUSTOMER in self.roles and self.permission
            else ""
        )
        return f"{names}{needs}.{customer}"


def roles_with(permission: Permission) -> tuple[Role, ...]:
    """The roles a principal may hold that are given `permission`, in `Role` order."""
    return tuple(r for r in ROLES if permission in ROLE_PERMISSIONS[r])


def operation_roles(document: dict[str, Any]) -> list[OperationRoles]:
    """Every operation of the document with the roles that may call it."""
    return [
        _roles_of(item[method], method, path)
        for path, item in document["paths"].items()
        for method in _METHODS
        if method in item
    ]


def _roles_of(operation: dict[str, Any], method: str, path: str) -> OperationRoles:
    requirements = operation.get("security")
    if not requirements:
        return OperationRoles(operation["operationId"], method.upper(), path, None, None)
    scopes = {scope for requirement in requirements for s in requirement.values() for scope in s}
    if len(scopes) > 1:
        raise ValueError(f"{operation['operationId']} asks for several permissions: {scopes}")
    permission = Permission(scopes.pop()) if scopes else None
    roles = roles_with(permission) if permission else ROLES
    return OperationRoles(operation["operationId"], method.upper(), path, permission, roles)


def document_operations(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with each operation's roles in its description and the
    Idempotency-Key header on every POST (in place; a second call changes nothing)."""
    for found in operation_roles(document):
        operation = document["paths"][found.path][found.method.lower()]
        described = operation.get("description", "")
        own = "" if described.startswith(_MARK.lstrip()) else described.split(_MARK)[0]
        operation["description"] = (own + _MARK + found.sentence).lstrip()
        if found.method == "POST":
            parameters = operation.setdefault("parameters", [])
            if not any(p["name"] == IDEMPOTENCY_KEY["name"] for p in parameters):
                parameters.append(dict(IDEMPOTENCY_KEY))
    return document


def role_table(document: dict[str, Any]) -> str:
    """The README's role-by-operation table (Markdown)."""
    head = "| Operation | Request | Permission | " + " | ".join(_name(r) for r in ROLES) + " |\n"
    rule = "| --- | --- | --- |" + " :-: |" * len(ROLES) + "\n"
    rows = []
    for found in operation_roles(document):
        if found.roles is None:
            permission, cells = "none (no token)", ["✓"] * len(ROLES)
        else:
            permission = f"`{found.permission.value}`" if found.permission else "any role"
            cells = ["✓" if r in found.roles else "" for r in ROLES]
        request = f"`{found.method} {found.path}`"
        rows.append(
            f"| `{found.operation_id}` | {request} | {permission} | " + " | ".join(cells) + " |\n"
        )
    return head + rule + "".join(rows)


def _name(role: Role) -> str:
    return role.value.replace("_", " ")
