"""What `cases.persistence.loading` relies on in eventsourcing (ADR 0037): the
repository's private `_reconstruct_aggregate`, called by `get` for a load without
a cache, its stores, and the application's `construct_repository` hook."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import Application, Repository
from eventsourcing.persistence import EventStore

from cases.domain.support_case import SupportCase
from cases.persistence.event_log import EventLog
from cases.persistence.loading import OneReadRepository
from cases.persistence.recorders import MEMORY_FACTORY_TOPIC
from tests.support.library_contract import relied_on, relied_on_callable

MODULE = "loading"


def test_the_repository_reconstructs_through_one_overridable_method() -> None:
    relied_on_callable(
        Repository,
        "_reconstruct_aggregate",
        MODULE,
        "(self, aggregate_id, version, projector_func)",
    )
    relied_on_callable(Application, "construct_repository", MODULE, "(self)")
    for name in (
        "AGGREGATE_CACHE_MAXSIZE",
        "AGGREGATE_CACHE_FASTFORWARD",
        "AGGREGATE_CACHE_FASTFORWARD_SKIPPING",
        "DEEPCOPY_FROM_AGGREGATE_CACHE",
    ):
        relied_on(Application, name, MODULE)


def test_get_without_a_cache_calls_reconstruct(monkeypatch: Any) -> None:
    log = EventLog({"PERSISTENCE_MODULE": MEMORY_FACTORY_TOPIC}, snapshotted=(SupportCase,))
    try:
        assert isinstance(log.repository, OneReadRepository)
        assert log.repository.cache is None
        assert log.repository.event_store is log.events
        assert log.repository.snapshot_store is log.snapshots
        for store in (log.events, log.snapshots):
            assert isinstance(store, EventStore)
            relied_on(store, "recorder", MODULE)
            relied_on(store, "mapper", MODULE)
        calls: list[tuple[UUID, int | None]] = []

        def spy(self: Any, aggregate_id: UUID, version: int | None, projector_func: Any) -> Any:
            calls.append((aggregate_id, version))
            return "reconstructed"

        monkeypatch.setattr(OneReadRepository, "_reconstruct_aggregate", spy)
        assert log.repository.get(UUID(int=1), version=3) == "reconstructed"
        assert calls == [(UUID(int=1), 3)]
    finally:
        log.close()
