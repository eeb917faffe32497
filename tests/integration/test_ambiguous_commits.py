"""A connection lost while a write commits (PostgreSQL, through a proxy that drops
the commit's answer): the write is settled by reading it back, never recorded
twice, and reported as unknown only when it truly cannot be read (ADR 0031)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import OperationalError

from cases.application.caller import Caller
from cases.application.command_runner import Receipt
from cases.application.idempotent_request import IdempotentRequest
from cases.bootstrap import Services, services_on
from cases.clock import ManualClock
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.domain.support_case import SupportCase
from cases.persistence.database_url import parse_database_url
from cases.persistence.idempotency_steps import key_id
from cases.persistence.outcomes import OutcomeUnknownError
from cases.persistence.store import StoreOptions, open_event_log
from cases.settings import Settings
from tests.support.builders import T0, caller, intake, terms
from tests.support.postgres import throwaway_database
from tests.support.tcp_proxy import TcpProxy, tcp_proxy

pytestmark = pytest.mark.postgres

INSERT = b"INSERT INTO"


@pytest.fixture
def proxied(tmp_path: Path, clock: ManualClock) -> Iterator[tuple[Services, TcpProxy]]:
    """Services whose event store is reached through a proxy that can lose answers."""
    with throwaway_database() as url:
        target = parse_database_url(url)
        migrate(target)
        with tcp_proxy(target.host, target.port) as proxy:
            settings = Settings(database_url=proxy.url_to(url), data_dir=tmp_path)
            log = open_event_log(settings, StoreOptions(pool_timeout=1.0, attempts=3))
            services = services_on(log, clock)
            try:
                services.desk.publish_terms(caller(), terms(), effective_from=T0)
                clock.advance(timedelta(minutes=5))
                yield services, proxy
            finally:
                services.close()


def notes(services: Services, case_id: UUID, text: str) -> int:
    history = services.audit.history(SupportCase, case_id)
    return sum(1 for e in history if e.event_type.endswith("NoteAdded") and text in str(e.details))


def keyed(key: str) -> Caller:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return replace(caller(), request=IdempotentRequest(key_id("owner", key), digest))


def retried(send: Callable[[], Receipt]) -> Receipt:
    """Send as a client does after a 503: again, after a while, until answered."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return send()
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class TestLostAnswers:
    def test_a_commit_whose_answer_was_lost_is_recognised_not_repeated(
        self, proxied: tuple[Services, TcpProxy]
    ) -> None:
        """Without any key: the note committed, its answer was lost; the retried
        write finds the very same rows and reports them as its own."""
        services, proxy = proxied
        case = services.desk.receive_case(caller(), cmd.TakeIn(**intake(), received_at=T0))
        proxy.arm(INSERT)
        receipt = services.desk.handle(caller(), case.aggregate_id, cmd.AddNote("Said once."))
        assert proxy.answers_lost == 1
        assert notes(services, case.aggregate_id, "Said once.") == 1
        assert receipt.version == services.desk.case(case.aggregate_id).version
        assert receipt.version == case.version + 1

    def test_an_outcome_that_cannot_be_read_is_unknown_and_a_keyed_retry_settles_it(
        self, proxied: tuple[Services, TcpProxy]
    ) -> None:
        """The database stays away after the lost answer: the write is reported
        as of unknown outcome (not 'nothing recorded'); once it is back, the retry
        with the same key answers the recorded note and adds none."""
        services, proxy = proxied
        case = services.desk.receive_case(caller(), cmd.TakeIn(**intake(), received_at=T0))
        proxy.refuse_after_loss = True
        proxy.arm(INSERT)
        with pytest.raises(OutcomeUnknownError):
            services.desk.handle(keyed("lost"), case.aggregate_id, cmd.AddNote("Maybe said."))
        proxy.refusing = False
        receipt = retried(
            lambda: services.desk.handle(
                keyed("lost"), case.aggregate_id, cmd.AddNote("Maybe said.")
            )
        )
        assert notes(services, case.aggregate_id, "Maybe said.") == 1
        assert receipt.version == case.version + 1
