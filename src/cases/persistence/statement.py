"""SQL composed from parts, each store's driver rendering them its own way (ADR 40, 54).

A statement is written once, as a template in Python's format syntax (parsed by
`string.Formatter`), and composed, never edited as text:

- `{}` is a positional parameter: `?` on SQLite, `%s` on PostgreSQL;
- `{name}` is the part given as the keyword `name` (a name from `identifier` or
  `identifiers`, a fragment from `sql`, a list from `parameters`, a word from
  `constant`) or, when no keyword is given, the named parameter `name`: `:name`
  on SQLite, `%(name)s` on PostgreSQL (the values then come as a mapping);
- `{{` and `}}` are literal braces.

PostgreSQL's text is rendered by `psycopg.sql` (`Identifier`, `Literal`,
`Placeholder`); SQLite's with its own `?` and `:name` parameters and names
double-quoted. Names and words are checked to be plain ASCII words first, so
neither can end a quote. A statement is a value: it is rendered once per store
and keeps that text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from string import Formatter

from psycopg import sql as pg
from psycopg.abc import AdaptContext

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_FORMATTER = Formatter()


class SqlError(ValueError):
    """A statement that cannot be composed as written."""


@dataclass(frozen=True, slots=True)
class Identifier:
    """A table, column or index name (qualified when several: `t.case_id`)."""

    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.names:
            raise SqlError("an identifier needs a name")
        for name in self.names:
            if not _NAME.match(name):
                raise SqlError(f"{name!r} is not a plain SQL name (letters, digits, _)")


@dataclass(frozen=True, slots=True)
class Parameter:
    """A value's place: positional (`name` None) or named."""

    name: str | None = None

    def __post_init__(self) -> None:
        if self.name is not None and not _NAME.match(self.name):
            raise SqlError(f"{self.name!r} is not a plain parameter name (letters, digits, _)")


@dataclass(frozen=True, slots=True)
class Constant:
    """A string constant of ours (a plain word, like an enum's value), written
    into the statement as a quoted literal: a group key needs the same text in
    SELECT and GROUP BY, which a parameter (a new one per place) is not."""

    value: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.value):
            raise SqlError(f"{self.value!r} is not a plain word to write as a constant")


Part = str | Identifier | Parameter | Constant


class Sql:
    """A composed statement or fragment: text, identifiers and parameters."""

    __slots__ = ("_hash", "_named", "_postgres", "_sqlite", "parts")
    _named: bool | None

    def __init__(self, parts: Iterable[Part | Sql] = ()) -> None:
        flat: list[Part] = []
        named: bool | None = None  # None: no parameters yet
        for part in parts:
            if isinstance(part, Sql):
                flat.extend(part.parts)
                found = part._named
            else:
                flat.append(part)
                found = part.name is not None if isinstance(part, Parameter) else None
            if found is not None:
                if named is not None and named is not found:
                    raise SqlError("a statement takes positional or named parameters, not both")
                named = found
        self.parts: tuple[Part, ...] = tuple(flat)
        self._named = named
        self._sqlite: str | None = None
        self._postgres: str | None = None
        self._hash: int | None = None

    def __add__(self, other: Sql) -> Sql:
        return Sql((self, other))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sql) and other.parts == self.parts

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self.parts)
        return self._hash

    def __repr__(self) -> str:
        return f"Sql({self.sqlite()!r})"

    def renamed(self, **names: str) -> Sql:
        """This statement with its named parameters renamed (`as_of="sealed"`)."""
        return self.bound(**{old: Sql((Parameter(new),)) for old, new in names.items()})

    def bound(self, **fragments: Sql) -> Sql:
        """This statement with the named parameters `fragments` names replaced by
        those fragments (`as_of=sql("t.tau")`: a column where a value was bound)."""
        return Sql(
            fragments[p.name] if isinstance(p, Parameter) and p.name in fragments else p
            for p in self.parts
        )

    def join(self, items: Iterable[Sql | Identifier | Parameter | Constant]) -> Sql:
        """The items with this fragment between each two."""
        parts: list[Part | Sql] = []
        for item in items:
            if parts:
                parts.append(self)
            parts.append(item)
        return Sql(parts)

    def named(self) -> bool:
        """Whether this statement's parameters are named (so take a mapping)."""
        return self._named is True

    def sqlite(self) -> str:
        """The text for sqlite3: `?` or `:name` parameters, quoted names."""
        if self._sqlite is None:
            self._sqlite = "".join(_sqlite_text(part) for part in self.parts)
        return self._sqlite

    def postgres(self, context: AdaptContext | None) -> str:
        """The text for psycopg, rendered by `psycopg.sql` for `context` (a
        connection; None: psycopg's default quoting)."""
        if self._postgres is None:
            self._postgres = "".join(
                part if isinstance(part, str) else _postgres_text(part, context)
                for part in self.parts
            )
        return self._postgres


def _sqlite_text(part: Part) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, Identifier):
        return ".".join(f'"{name}"' for name in part.names)
    if isinstance(part, Constant):
        return f"'{part.value}'"
    return "?" if part.name is None else f":{part.name}"


# What psycopg.sql renders for each name, constant and placeholder: they are
# plain ASCII words (checked above), quoted alike on every connection, and few.
_POSTGRES_TEXT: dict[Identifier | Parameter | Constant, str] = {}


def _postgres_text(part: Identifier | Parameter | Constant, context: AdaptContext | None) -> str:
    text = _POSTGRES_TEXT.get(part)
    if text is None:
        composable: pg.Composable
        if isinstance(part, Identifier):
            composable = pg.Identifier(*part.names)
        elif isinstance(part, Constant):
            composable = pg.Literal(part.value)
        else:
            composable = pg.Placeholder() if part.name is None else pg.Placeholder(part.name)
        text = _POSTGRES_TEXT[part] = composable.as_string(context)
    return text


def sql(template: str, /, **parts: Sql | Identifier | Parameter | Constant) -> Sql:
    """`template` composed with `parts` (see the module's docstring); a template
    without parts is composed once, and so rendered once."""
    return _composed(template, parts) if parts else _fixed(template)


@lru_cache(maxsize=1024)
def _fixed(template: str) -> Sql:
    return _composed(template, {})


def _composed(template: str, parts: dict[str, Sql | Identifier | Parameter | Constant]) -> Sql:
    composed: list[Part | Sql] = []
    used: set[str] = set()
    for text, field in _fields(template):
        if text:
            composed.append(text)
        if field is None:
            continue
        if field == "":
            composed.append(Parameter())
        elif field in parts:
            used.add(field)
            composed.append(parts[field])
        else:
            composed.append(Parameter(field))
    unused = sorted(set(parts) - used)
    if unused:
        raise SqlError(f"the template has no place for {', '.join(unused)}")
    return Sql(composed)


@lru_cache(maxsize=512)
def _fields(template: str) -> tuple[tuple[str, str | None], ...]:
    fields: list[tuple[str, str | None]] = []
    for text, field, spec, conversion in _FORMATTER.parse(template):
        if spec or conversion:
            raise SqlError(f"{{{field}}} in a statement takes no format or conversion")
        if field is not None and field.isdigit():
            raise SqlError("positional parameters are written {}, not numbered")
        fields.append((text, field))
    return tuple(fields)


def identifier(*names: str) -> Identifier:
    """A name to compose into a statement, checked to be a plain SQL name."""
    return Identifier(names)


def constant(value: str) -> Constant:
    """A plain word to write into a statement as a string literal."""
    return Constant(value)


@lru_cache(maxsize=256)
def identifiers(names: tuple[str, ...], *, qualifier: str | None = None) -> Sql:
    """Names separated by commas (each `qualifier.name` if given)."""
    prefix = () if qualifier is None else (qualifier,)
    return COMMA.join(Identifier((*prefix, name)) for name in names)


@lru_cache(maxsize=1024)
def parameters(count: int) -> Sql:
    """`count` positional parameters separated by commas (an IN list, a VALUES row)."""
    if count < 1:
        raise SqlError("a parameter list needs at least one parameter")
    return COMMA.join(Parameter() for _ in range(count))


COMMA = Sql((", ",))
AND = Sql((" AND ",))
NOTHING = Sql()


def where_all(clauses: Sequence[Sql]) -> Sql:
    """` WHERE` and the clauses joined by AND, or nothing when there are none."""
    return sql(" WHERE {clauses}", clauses=AND.join(clauses)) if clauses else NOTHING
