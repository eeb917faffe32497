"""Checks that eventsourcing still has what `cases.persistence` relies on (ADR 0037).

Each check names the library attribute and the module of ours that relies on it,
so an upgrade that removes or changes one fails with a message saying where to
look, not with an AttributeError deep in a recorder.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from typing import Any

LIBRARY = "eventsourcing"
LIBRARY_VERSION = version(LIBRARY)
ADR = "docs/adr/0037-fence-the-event-store-overrides.md"


def broken(attribute: str, module: str, how: str) -> str:
    """The message of a failed check."""
    return (
        f"{LIBRARY} {LIBRARY_VERSION} removed/changed `{attribute}` that "
        f"cases.persistence.{module} relies on ({how}): see {ADR}"
    )


def _name(owner: object) -> str:
    return getattr(owner, "__qualname__", None) or type(owner).__qualname__


def relied_on(owner: object, attribute: str, module: str) -> Any:
    """`owner.attribute`, which must exist."""
    assert hasattr(owner, attribute), broken(f"{_name(owner)}.{attribute}", module, "it is gone")
    return getattr(owner, attribute)


def shape(function: Any) -> str:
    """A callable's parameters by name and kind, without annotations or defaults
    (and whatever decorator wraps it): `(self, c, stored_events, **kwargs)`."""
    parameters = []
    for p in inspect.signature(inspect.unwrap(function)).parameters.values():
        variadic: dict[object, str] = {p.VAR_KEYWORD: "kwargs", p.VAR_POSITIONAL: "args"}
        name = variadic.get(p.kind, p.name)
        parameters.append(p.replace(name=name, annotation=p.empty, default=p.empty))
    return str(inspect.Signature(parameters))


def relied_on_callable(owner: object, attribute: str, module: str, expected: str) -> Any:
    """`owner.attribute`, which must be callable with the parameters `expected`."""
    found = relied_on(owner, attribute, module)
    where = f"{_name(owner)}.{attribute}"
    assert callable(found), broken(where, module, "it is no longer callable")
    actual = shape(found)
    assert actual == expected, broken(where, module, f"its signature is {actual}, not {expected}")
    return found
