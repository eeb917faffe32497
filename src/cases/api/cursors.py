"""List cursors, bound to the query that gave them out (ADR 0036).

A cursor carries the sort key of the last row of its page and a short digest of
the list's query: which list, its filters, sort and order (not `limit`, which
may change from page to page). Sent back with any other query it is refused with
422 `cursor-mismatch` instead of silently paging through another list; a cursor
this API did not give out is 422 `invalid-cursor`. The digest binds, it does not
sign: a forged cursor only pages through a list the caller may read anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, TypeVar

import orjson
from fastapi import Query

from cases.api.errors import ApiProblem

ListQuery = Mapping[str, object]
"""What a list answers: its name and every parameter that filters or orders it."""

Limit = Annotated[int, Query(ge=1, le=200)]
"""How many rows a page holds at most (a list's `limit` parameter)."""
Cursor = Annotated[str | None, Query(max_length=500)]
"""Where a page starts: the `next_cursor` of the page before (a list's `cursor`)."""

K = TypeVar("K")
R = TypeVar("R")


def _binding(query: ListQuery) -> str:
    canonical = orjson.dumps(query, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(canonical, digest_size=6).hexdigest()


def encode_cursor(query: ListQuery, key: Sequence[str]) -> str:
    """The cursor after the row with sort key `key`, in the list `query` answers."""
    raw = orjson.dumps([_binding(query), *key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: ListQuery, parts: int) -> list[str]:
    """The `parts` values of the sort key a cursor of this query carries."""
    try:
        found = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        found = None
    if not (isinstance(found, list) and found and all(isinstance(v, str) for v in found)):
        raise ApiProblem(422, "invalid-cursor", "cursor is not one this API gave out")
    binding, *key = found
    if binding != _binding(query):
        raise ApiProblem(
            422,
            "cursor-mismatch",
            "cursor belongs to a list with other filters, sort or order: "
            "ask for the first page again without it",
        )
    if len(key) != parts:
        raise ApiProblem(422, "invalid-cursor", "cursor is not one this API gave out")
    return key


def key_after(
    cursor: str | None, query: ListQuery, parts: int, parse: Callable[[list[str]], K]
) -> K | None:
    """The sort key a list's cursor carries (None: the first page), as `parse`
    reads its `parts` values; one `parse` refuses (ValueError, TypeError) is a
    cursor this API did not give out."""
    if cursor is None:
        return None
    values = decode_cursor(cursor, query, parts)
    try:
        return parse(values)
    except (ValueError, TypeError):
        raise ApiProblem(422, "invalid-cursor", "cursor is not one this API gave out") from None


def page_of(
    rows: Sequence[R], limit: int, query: ListQuery, key: Callable[[R], Sequence[str]]
) -> tuple[list[R], str | None]:
    """A page of at most `limit` rows out of `rows` (read with `limit + 1`, so
    one more tells there is a next page) and the cursor after its last row."""
    page = list(rows[:limit])
    return page, encode_cursor(query, key(page[-1])) if len(rows) > limit else None
