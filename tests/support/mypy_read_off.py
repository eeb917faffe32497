"""A mypy plugin: the fields a response shape reads off its source exist there.

`fields_of(Model, source, **given)` and `Model.of(source)` (`ReadOff`) read each
field of `Model` not in `given` off `source` by its name (ADR 70), which no type
says. This plugin checks each such call: every field read must be an attribute of
the source's type, and every field given by name one of the model's, so a
misspelt field, or one the source lost, fails
`mypy --strict` as `name=source.name` written out would (ADR 75). A row (a
`Mapping`) or a source typed `Any` is not checked: its keys are not in its type.
Configured in pyproject.toml (`[tool.mypy] plugins`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from mypy.nodes import TypeInfo, Var
from mypy.plugin import FunctionContext, MethodContext, Plugin
from mypy.subtypes import find_member
from mypy.types import (
    CallableType,
    Instance,
    ProperType,
    Type,
    TypeType,
    TypeVarType,
    get_proper_type,
)

FIELDS_OF = "cases.api.schemas.common.fields_of"
READ_OFF = "cases.api.schemas.common.ReadOff"
BASE_MODEL = "pydantic.main.BaseModel"
MAPPING = "typing.Mapping"


def _class_of(typ: ProperType) -> TypeInfo | None:
    """The class a `type[...]` or class object stands for (a `cls` by its bound)."""
    if isinstance(typ, CallableType) and typ.is_type_obj():
        return typ.type_object()
    if isinstance(typ, TypeType):
        item = get_proper_type(typ.item)
        if isinstance(item, TypeVarType):
            item = get_proper_type(item.upper_bound)
        if isinstance(item, Instance):
            return item.type
    return None


def model_fields(model: TypeInfo) -> Iterator[str]:
    """The pydantic fields `model` declares or inherits (annotated, not class vars)."""
    seen: set[str] = set()
    for info in model.mro:
        if info.fullname == BASE_MODEL:
            return
        for name, node in info.names.items():
            var = node.node
            if (
                isinstance(var, Var)
                and not var.is_inferred
                and not var.is_classvar
                and not name.startswith("_")
                and name not in seen
            ):
                seen.add(name)
                yield name


def _check(
    model: TypeInfo | None,
    source_type: Type,
    given: set[str],
    fail: Callable[[str], object],
) -> None:
    if model is None:
        return
    fields = list(model_fields(model))
    for name in sorted(given.difference(fields)):
        fail(f'"{model.name}" has no field "{name}" to give')
    source = get_proper_type(source_type)
    if not isinstance(source, Instance):
        return  # Any, a union, a protocol's absence: nothing to check against
    if source.type.has_base(MAPPING):
        return  # a read model's row: its keys are not in its type
    for name in fields:
        if name not in given and find_member(name, source, source) is None:
            fail(
                f'"{model.name}" reads field "{name}" off "{source.type.name}", '
                f"which has no such attribute (give it by name, or rename it)"
            )


def _fields_of(ctx: FunctionContext) -> Type:
    if ctx.arg_types[0] and ctx.arg_types[1]:
        model = _class_of(get_proper_type(ctx.arg_types[0][0]))
        given = {name for name in ctx.arg_names[2] if name is not None}
        _check(model, ctx.arg_types[1][0], given, lambda m: ctx.api.fail(m, ctx.context))
    return ctx.default_return_type


def _read_off_of(ctx: MethodContext) -> Type:
    model = _class_of(get_proper_type(ctx.type))
    if model is None or not model.has_base(READ_OFF):
        return ctx.default_return_type
    defined_by = next(info for info in model.mro if "of" in info.names)
    if defined_by.fullname == READ_OFF and ctx.arg_types and ctx.arg_types[0]:
        _check(model, ctx.arg_types[0][0], set(), lambda m: ctx.api.fail(m, ctx.context))
    return ctx.default_return_type


class ReadOffPlugin(Plugin):
    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        return _fields_of if fullname == FIELDS_OF else None

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        # A class method called on a class is named after that class (`PrincipalOut.of`):
        # the hook sees whether it is `ReadOff.of`, inherited.
        return _read_off_of if fullname.endswith(".of") else None


def plugin(version: str) -> type[Plugin]:
    return ReadOffPlugin
