"""`/metrics` (ADR 46): Prometheus text that its own parser reads, counters that
move with the requests a test makes, summed over `cases serve --workers 2`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest
from prometheus_client import REGISTRY

from cases.followers.catalog import PROJECTIONS
from cases.followers.tree_builder import TREE
from cases.observability import metrics
from cases.outbox.derivation import OUTBOX
from cases.outbox.messages import Status
from tests.e2e._api import intake, open_case
from tests.e2e._deployment import Deployment, deployment
from tests.e2e._in_process import InProcessApi, in_process_api
from tests.support.scrape import label_values, value

FOLLOWERS = {*PROJECTIONS, TREE, OUTBOX}
"""What follows the log: the read models, the audit log's tree builder, the outbox."""

REQUESTS = "cases_http_requests_total"
DURATION_COUNT = "cases_http_request_duration_seconds_count"
REFUSED = "cases_commands_refused_total"
RECORDED = "cases_commands_recorded_total"
AN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")
ESCALATION = {
    "target": "vendor",
    "category": "service_defect",
    "vehicle": "advanced_support_for_partners",
    "reason": "Queue grows",
}


def scrape(client: httpx.Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    text: str = response.text
    return text


class TestOneProcess:
    def test_requests_are_counted_by_route_template_and_status(
        self, in_process: InProcessApi
    ) -> None:
        client = in_process.client
        headers = in_process.headers("helpdesk_agent")
        labels = {"method": "GET", "route": "/cases/{case_id}", "status": "404"}
        before = scrape(client)
        for _ in range(3):
            assert client.get(f"/cases/{uuid4()}", headers=headers).status_code == 404
        after = scrape(client)
        assert value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels) == 3
        timed = {"method": "GET", "route": "/cases/{case_id}"}
        assert value(after, DURATION_COUNT, **timed) - value(before, DURATION_COUNT, **timed) >= 3
        assert [r for r in label_values(after, REQUESTS, "route") if AN_ID.search(r)] == []

    def test_a_path_no_route_serves_is_unmatched(self, in_process: InProcessApi) -> None:
        labels = {"method": "GET", "route": "unmatched", "status": "404"}
        before = value(scrape(in_process.client), REQUESTS, **labels)
        in_process.client.get(f"/no-such-thing/{uuid4()}")
        assert value(scrape(in_process.client), REQUESTS, **labels) == before + 1

    def test_a_replayed_answer_is_counted_by_its_route_template(
        self, in_process: InProcessApi
    ) -> None:
        """The idempotency middleware answers a retry before routing, so the route is
        found by path: the app's own routes are matched, not an included router."""
        client = in_process.client
        headers = {**in_process.headers("helpdesk_agent"), "Idempotency-Key": uuid4().hex}
        path = f"/cases/{in_process.case_id}/notes"
        labels = {"method": "POST", "route": "/cases/{case_id}/notes", "status": "200"}
        first = client.post(path, json={"text": "Asked for the logs."}, headers=headers)
        assert first.status_code == 200, first.text
        before = scrape(client)
        retry = client.post(path, json={"text": "Asked for the logs."}, headers=headers)
        assert retry.headers["idempotent-replayed"] == "true"
        after = scrape(client)
        assert value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels) == 1

    def test_commands_are_counted_recorded_and_refused_by_rule(
        self, in_process: InProcessApi
    ) -> None:
        client = in_process.client
        headers = in_process.headers("helpdesk_agent")
        refused = {"aggregate": "SupportCase", "rule": "service-health-not-checked"}
        recorded = {"aggregate": "SupportCase"}
        before = scrape(client)
        response = client.post(
            f"/cases/{in_process.case_id}/escalations", json=ESCALATION, headers=headers
        )
        assert response.status_code == 409, response.text
        assert client.post("/cases", json=intake(), headers=headers).status_code == 201
        after = scrape(client)
        assert value(after, REFUSED, **refused) - value(before, REFUSED, **refused) == 1
        assert value(after, RECORDED, **recorded) - value(before, RECORDED, **recorded) == 1

    def test_projection_positions_and_lag_are_read_at_the_scrape(
        self, in_process: InProcessApi
    ) -> None:
        text = scrape(in_process.client)
        assert value(text, "cases_store_up") == 1
        assert label_values(text, "cases_projection_position", "projection") == FOLLOWERS
        assert label_values(text, "cases_projection_lag_events", "projection") == FOLLOWERS
        head = value(text, "cases_event_log_head_position")
        assert head > 0
        for name in FOLLOWERS:
            position = value(text, "cases_projection_position", projection=name)
            lag = value(text, "cases_projection_lag_events", projection=name)
            assert position + lag == head

    def test_the_outbox_queue_is_read_at_the_scrape(self, in_process: InProcessApi) -> None:
        """Messages by status (a closed set), the dead letters and the oldest
        pending message's age: gauges without ids."""
        text = scrape(in_process.client)
        statuses = label_values(text, "cases_outbox_messages", "status")
        assert statuses == {status.value for status in Status}
        assert value(text, "cases_outbox_dead_letters") == sum(
            value(text, "cases_outbox_messages", status=s) for s in ("failed", "bounced")
        )
        assert value(text, "cases_outbox_oldest_pending_age_seconds") >= 0


@pytest.fixture
def switched_off(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApi]:
    """The app with `CASES_METRICS_ENABLED=false`; recording is on again afterwards, as
    the other apps of this test process expect."""
    try:
        with in_process_api(tmp_path_factory.mktemp("no-metrics"), metrics_enabled=False) as api:
            yield api
    finally:
        metrics.set_recording(True)


def test_switched_off_there_is_no_route_and_nothing_is_recorded(
    switched_off: InProcessApi,
) -> None:
    """What api_load measures against (issue 18): a server that records nothing."""
    client = switched_off.client
    agent = switched_off.headers("helpdesk_agent")
    counted = [
        ("cases_commands_recorded_total", {"aggregate": "SupportCase"}),
        ("cases_http_requests_total", {"method": "POST", "route": "/cases", "status": "201"}),
        ("cases_events_recorded_total", {"event": "SupportCase.Received"}),
    ]
    before = [REGISTRY.get_sample_value(name, labels) or 0.0 for name, labels in counted]
    assert client.post("/cases", json=intake(), headers=agent).status_code == 201
    assert client.get("/metrics").status_code == 404
    after = [REGISTRY.get_sample_value(name, labels) or 0.0 for name, labels in counted]
    assert after == before


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """`cases serve --workers 2` on PostgreSQL, its projections in their own process."""
    with deployment("postgres", tmp_path_factory.mktemp("metrics"), workers=2) as deployed:
        yield deployed


@pytest.mark.postgres
class TestTwoWorkers:
    def test_every_scrape_counts_the_requests_of_both_workers(
        self, two_workers: Deployment
    ) -> None:
        """Each request and each scrape on a new connection, so either worker may
        take it: every scrape must still see all the requests made."""
        labels = {"method": "GET", "route": "/cases/{case_id}", "status": "404"}
        with two_workers.client() as anonymous:
            before = value(scrape(anonymous), REQUESTS, **labels)
        token = two_workers.tokens["helpdesk_agent"]
        for _ in range(20):
            with two_workers.client(token=token) as client:
                assert client.get(f"/cases/{uuid4()}").status_code == 404
        seen = []
        for _ in range(6):
            with two_workers.client() as anonymous:
                seen.append(value(scrape(anonymous), REQUESTS, **labels) - before)
        assert seen == [20] * 6

    def test_commands_group_commits_and_projections_on_postgres(
        self, two_workers: Deployment
    ) -> None:
        with two_workers.client("helpdesk_agent") as agent:
            before = scrape(agent)
            case = open_case(agent, customer_id=f"customer-{uuid4().hex[:8]}")
            refused = agent.post(f"/cases/{case['id']}/escalations", json=ESCALATION)
            assert refused.status_code == 409
            after = scrape(agent)
        rule = {"aggregate": "SupportCase", "rule": "service-health-not-checked"}
        assert value(after, REFUSED, **rule) - value(before, REFUSED, **rule) == 1
        assert (
            value(after, RECORDED, aggregate="SupportCase")
            - value(before, RECORDED, aggregate="SupportCase")
            == 1
        )
        batches = "cases_group_commit_batch_commands_count"
        assert value(after, batches) - value(before, batches) >= 1
        assert value(after, "cases_store_up") == 1
        assert label_values(after, "cases_projection_running", "projection") == FOLLOWERS
