"""The outbox over HTTP for the operator (ADR 51), on SQLite and PostgreSQL: the
counts, the dead letters, a retry; problems for an unknown message and one that
is not dead; other roles refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from cases.api.app import create_app
from cases.clock import ManualClock
from cases.db.database import open_projection_db
from cases.domain.metadata import Role
from cases.followers.outbox import delivery_workers, outbox_runners
from tests.integration.api.test_terms_api import Api, ok, problem
from tests.integration.outbox.conftest import BOOK, outbox_settings, record_billing
from tests.support.app_services import services_of
from tests.support.webhook_receiver import webhook_receiver

SECRET = "whsec-api"  # noqa: S105 - a test receiver's secret


def test_the_operator_sees_the_dead_letters_and_queues_one_again(
    store_url: str, tmp_path: Path
) -> None:
    with webhook_receiver(SECRET.encode(), [400, 400]) as (url, _):
        settings = outbox_settings(
            store_url,
            tmp_path,
            outbox_webhook_url=url,
            outbox_webhook_secret=SECRET,
            log_level="WARNING",
        )
        clock = ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
        with TestClient(create_app(settings, clock, run_projections=False)) as client:
            api = Api(client, clock)
            services = services_of(client)
            record_billing(services, clock)
            db = open_projection_db(settings)
            try:
                make = delivery_workers(settings, services.log, lambda: db, clock=clock)
                assert make is not None
                queue = outbox_runners(
                    settings, services.log, lambda: db, contacts=BOOK, clock=clock
                )()
                queue.catch_up()
                make().drain()
            finally:
                db.close()
            status = ok(api.call("GET", "/outbox", Role.OPERATOR))
            assert (status["counts"]["bounced"], status["counts"]["pending"]) == (2, 2)
            assert status["position"] == status["head"] - 2  # the two outcomes recorded
            dead = ok(api.call("GET", "/outbox/messages", Role.OPERATOR, dead="true"))
            assert {m["status"] for m in dead} == {"bounced"}
            assert {m["last_error"] for m in dead} == {"HTTP 400"}
            pending = ok(api.call("GET", "/outbox/messages", Role.OPERATOR))
            waiting = next(m for m in pending if m["status"] == "pending")
            refused = problem(
                api.call("POST", f"/outbox/messages/{waiting['message_id']}/retry", Role.OPERATOR),
                409,
            )
            assert refused["type"] == "/problems/message-not-dead-lettered"
            unknown = "00000000-0000-0000-0000-000000000000"
            problem(api.call("POST", f"/outbox/messages/{unknown}/retry", Role.OPERATOR), 404)
            again = ok(
                api.call("POST", f"/outbox/messages/{dead[0]['message_id']}/retry", Role.OPERATOR)
            )
            assert (again["status"], again["attempts"]) == ("pending", 0)
            problem(api.call("GET", "/outbox", Role.BILLING_ADMIN), 403)
            problem(api.call("GET", "/outbox/messages", Role.AUDITOR), 403)
