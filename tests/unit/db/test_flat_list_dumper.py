"""`FlatListBinaryDumper` dumps a list as psycopg's `ListBinaryDumper` does, byte
for byte (ADR 80, amendment slw)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.array import ListBinaryDumper

from cases.db.database import FlatListBinaryDumper

LISTS: list[list[Any]] = [
    [UUID(int=1), UUID(int=2**127 + 5)],
    ["a", "é€", ""],
    [1, -2, 3**30],
    [datetime(2026, 3, 1, 12, 30, 5, 7, tzinfo=UTC)] * 2,
    [True, False],
    ["x", None],
    [[1, 2], [3, 4]],
    [],
]


def dumped(dumper: type[ListBinaryDumper], values: list[Any]) -> tuple[int, bytes]:
    adapters = psycopg.adapters.__class__(psycopg.adapters)
    adapters.register_dumper(list, dumper)
    found = Transformer(adapters).get_dumper(values, PyFormat.BINARY)
    return found.oid, bytes(found.dump(values) or b"")


@pytest.mark.parametrize("values", LISTS, ids=repr)
def test_a_list_dumps_as_psycopgs_own(values: list[Any]) -> None:
    assert dumped(FlatListBinaryDumper, values) == dumped(ListBinaryDumper, values)
