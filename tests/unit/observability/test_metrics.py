"""The metric hooks count what they are told, by closed label sets (ADR 46)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from cases.observability import metrics
from cases.observability.exposition import (
    MULTIPROC_DIR,
    OutboxReading,
    ProjectionReading,
    SyncReading,
    render,
)
from cases.observability.exposition import shared_directory as shared
from tests.support.scrape import samples, value


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_breach_is_counted_by_its_clock_kind_other_clock_facts_are_not() -> None:
    breaches = "cases_service_level_breaches_recorded_total"
    before = sample(breaches, clock="resolution")
    started = sample(breaches, clock="first_response")
    metrics.command_recorded(
        "SupportCase",
        [
            ("SupportCase.ServiceClockBreached", "resolution"),
            ("SupportCase.ServiceClockStarted", "first_response"),
            ("SupportCase.NoteAdded", None),
        ],
    )
    assert sample(breaches, clock="resolution") == before + 1
    assert sample(breaches, clock="first_response") == started


def test_an_unknown_method_is_counted_as_other() -> None:
    labels = {"method": "other", "route": "unmatched", "status": "405"}
    before = sample("cases_http_requests_total", **labels)
    metrics.request_answered("BREW", "unmatched", 405, 0.001)
    assert sample("cases_http_requests_total", **labels) == before + 1


def test_readings_render_as_gauges_and_a_store_out_of_reach_as_down() -> None:
    reading = ProjectionReading("case_queue", 7, 10, 3, 1.5, running=True)
    text = render([reading]).decode()
    assert value(text, "cases_store_up") == 1
    assert value(text, "cases_event_log_head_position") == 10
    assert value(text, "cases_projection_lag_events", projection="case_queue") == 3
    assert value(text, "cases_projection_running", projection="case_queue") == 1
    down = render(None).decode()
    assert value(down, "cases_store_up") == 0
    assert "cases_projection_position" not in down


def test_the_outbox_queue_and_the_vendor_syncs_render_as_gauges_by_closed_labels() -> None:
    reading = ProjectionReading("outbox", 10, 10, 0, 0.0, running=True)
    outbox = OutboxReading({"pending": 3, "delivered": 5, "failed": 1, "bounced": 1}, 2, 90.5)
    syncs = [
        SyncReading("advisories", True, 12.0, 12.0, 0),
        SyncReading("vendor_requests", False, 3.0, None, 4),
    ]
    text = render([reading], outbox, syncs).decode()
    assert value(text, "cases_outbox_messages", status="pending") == 3
    assert value(text, "cases_outbox_dead_letters") == 2
    assert value(text, "cases_outbox_oldest_pending_age_seconds") == 90.5
    assert value(text, "cases_vendor_sync_last_success", sync="advisories") == 1
    assert value(text, "cases_vendor_sync_last_success", sync="vendor_requests") == 0
    assert value(text, "cases_vendor_sync_failures", sync="vendor_requests") == 4
    assert value(text, "cases_vendor_sync_last_attempt_age_seconds", sync="advisories") == 12
    never = ("cases_vendor_sync_last_success_age_seconds", frozenset({("sync", "vendor_requests")}))
    assert never not in samples(text)
    down = render(None, outbox, syncs).decode()
    assert "cases_outbox_messages" not in down
    assert "cases_vendor_sync_failures" not in down


class TestSharedDirectory:
    @pytest.fixture(autouse=True)
    def _no_directory_given(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(MULTIPROC_DIR, raising=False)

    def test_one_worker_needs_none(self) -> None:
        with shared(1) as directory:
            assert directory is None
            assert MULTIPROC_DIR not in os.environ

    def test_workers_get_a_new_one_removed_afterwards(self) -> None:
        with shared(2) as directory:
            assert directory is not None
            assert directory.is_dir()
            assert os.environ[MULTIPROC_DIR] == str(directory)
        assert not directory.exists()
        assert MULTIPROC_DIR not in os.environ

    def test_a_given_one_is_made_and_kept(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        given = tmp_path / "metrics"
        monkeypatch.setenv(MULTIPROC_DIR, str(given))
        with shared(2) as directory:
            assert directory == given
            assert given.is_dir()
        assert given.is_dir()
