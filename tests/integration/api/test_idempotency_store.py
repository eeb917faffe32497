"""The answers kept under Idempotency-Keys (ADR 0031), on each store: the first
answer under a key stays for the keeping period, and only then may another
answer take its place; it is read together with its request's steps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from cases.api.idempotency import KEEP_FOR, IdempotencyStore, StoredResponse
from cases.api.read_pool import ReadPool
from cases.application.idempotent_request import IdempotentRequest
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase
from cases.db.schema import migrate
from cases.db.statement import sql
from cases.persistence.database_url import parse_database_url
from cases.persistence.idempotency_steps import StepReceipt, encode_rows, key_id
from tests.support.postgres import sql_store

STORE_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(params=STORE_KINDS)
def kept(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[IdempotencyStore, ManualClock]]:
    with sql_store(request.param, tmp_path) as url:
        migrate(parse_database_url(url))
        pool = ReadPool(lambda: ProjectionDatabase(parse_database_url(url)))
        clock = ManualClock(START)
        try:
            yield IdempotencyStore(pool, clock), clock
        finally:
            while (db := pool.take()) is not None:
                db.close()


def keep(store: IdempotencyStore, body: bytes, request_hash: str = "first") -> None:
    store.keep(
        "owner",
        "key-1",
        request_hash=request_hash,
        status=201,
        headers=[("location", "/cases/1")],
        body=body,
    )


def answer(store: IdempotencyStore) -> StoredResponse | None:
    """The answer kept under the test's key, as a request's lookup reads it."""
    return store.answer_and_steps("owner", "key-1", REQUEST)[0]


def test_the_first_answer_under_a_key_stays(kept: tuple[IdempotencyStore, ManualClock]) -> None:
    store, clock = kept
    keep(store, b"first answer")
    clock.advance(KEEP_FOR - timedelta(minutes=1))
    keep(store, b"a twin's answer", request_hash="twin")

    assert answer(store) == StoredResponse(
        "first", 201, [("location", "/cases/1")], b"first answer"
    )


def test_an_expired_answer_is_replaced_by_the_next(
    kept: tuple[IdempotencyStore, ManualClock],
) -> None:
    store, clock = kept
    keep(store, b"first answer")
    clock.advance(KEEP_FOR + timedelta(minutes=1))
    assert answer(store) is None

    keep(store, b"the next answer", request_hash="next")
    clock.advance(KEEP_FOR - timedelta(minutes=2))

    assert answer(store) == StoredResponse(
        "next", 201, [("location", "/cases/1")], b"the next answer"
    )


def record_step(store: IdempotencyStore, step: str, request_hash: str) -> None:
    """A step as the command runner records it with its events (ADR 0031)."""
    rows = encode_rows([(AGGREGATE, 2, 7)])
    with store.pool.connection() as db:
        db.execute(
            sql(
                "INSERT INTO idempotency_steps "
                "(key_id, step, request_hash, receipts, decided_at, memo) "
                "VALUES ({}, {}, {}, {}, {}, {})"
            ),
            (REQUEST.key_id, step, request_hash, rows, START, None),
        )


AGGREGATE = UUID("00000000-0000-4000-8000-000000000001")
REQUEST = IdempotentRequest(key_id("owner", "key-1"), "a" * 64)


def test_the_kept_answer_and_the_steps_are_read_in_one(
    kept: tuple[IdempotencyStore, ManualClock],
) -> None:
    """`answer_and_steps`: nothing for a new key; then the kept answer with every
    step its request recorded; and an expired answer no more, its steps still."""
    store, clock = kept
    assert store.answer_and_steps("owner", "key-1", REQUEST) == (None, {})

    keep(store, b"first answer", request_hash="a" * 64)
    record_step(store, f"change:{AGGREGATE}:0", "a" * 64)
    record_step(store, f"change:{AGGREGATE}:1", "a" * 64)
    answer, steps = store.answer_and_steps("owner", "key-1", REQUEST)
    assert answer == StoredResponse("a" * 64, 201, [("location", "/cases/1")], b"first answer")
    assert sorted(steps) == [f"change:{AGGREGATE}:0", f"change:{AGGREGATE}:1"]
    assert steps[f"change:{AGGREGATE}:1"].receipts == (StepReceipt(AGGREGATE, 2, 2, 7),)
    assert steps[f"change:{AGGREGATE}:1"].decided_at == START

    clock.advance(KEEP_FOR + timedelta(minutes=1))
    answer, steps = store.answer_and_steps("owner", "key-1", REQUEST)
    assert answer is None
    assert len(steps) == 2
