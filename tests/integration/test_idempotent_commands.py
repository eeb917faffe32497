"""Commands of requests sent with an Idempotency-Key run once (ADR 0031), on every
store: a repeat of the request answers from the steps recorded with the events."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cases.application.caller import Caller
from cases.application.command_runner import Receipt
from cases.application.idempotent_request import IdempotencyKeyReusedError, IdempotentRequest
from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.domain.errors import VersionMismatchError
from cases.domain.metadata import Actor, Role
from cases.domain.support_offering import SupportOffering
from cases.persistence.database_url import StoreKind, parse_database_url
from cases.persistence.idempotency_steps import key_id
from cases.settings import Settings
from tests.support.builders import T0, caller, intake, terms


@pytest.fixture
def services(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Services]:
    url = parse_database_url(database_url)
    if url.kind is not StoreKind.MEMORY:
        migrate(url)
    services = bootstrap(Settings(database_url=database_url, data_dir=tmp_path), clock)
    try:
        yield services
    finally:
        services.close()


@pytest.fixture
def desk(services: Services, clock: ManualClock) -> Services:
    services.desk.publish_terms(caller(), terms(), effective_from=T0)
    clock.advance(timedelta(minutes=5))
    return services


def sent(key: str, body: str = "the body", who: Caller | None = None) -> Caller:
    """A caller making a request with this key (each call: the request sent again)."""
    digest = hashlib.sha256(body.encode()).hexdigest()
    return replace(who or caller(), request=IdempotentRequest(key_id("owner", key), digest))


RECEIVED = T0 + timedelta(minutes=5)  # when the desk fixture's clock stands


def case_intake() -> dict[str, Any]:
    return {**intake(), "received_at": RECEIVED}


def head(services: Services) -> int:
    return services.log.head()


class TestRepeatedRequests:
    def test_a_repeated_intake_answers_the_first_case(
        self, desk: Services, clock: ManualClock
    ) -> None:
        """The same keyed intake twice: one case, the same receipt."""
        first = desk.desk.receive_case(sent("intake-1"), cmd.TakeIn(**case_intake()))
        before = head(desk)
        clock.advance(timedelta(minutes=1))
        again_caller = sent("intake-1")
        again = desk.desk.receive_case(again_caller, cmd.TakeIn(**case_intake()))
        assert again == first
        assert head(desk) == before
        assert again_caller.request is not None
        assert again_caller.request.replayed

    def test_a_repeated_change_is_not_recorded_again(
        self, desk: Services, clock: ManualClock
    ) -> None:
        """A keyed note sent twice is recorded once; both answers report its version."""
        case = desk.desk.receive_case(caller(), cmd.TakeIn(**case_intake()))
        first = desk.desk.handle(sent("note-1"), case.aggregate_id, cmd.AddNote("Called back."))
        clock.advance(timedelta(minutes=1))
        again = desk.desk.handle(sent("note-1"), case.aggregate_id, cmd.AddNote("Called back."))
        assert again == first
        assert desk.desk.case(case.aggregate_id).version == first.version == case.version + 1

    def test_a_repeated_change_decides_its_result_again_from_the_state_it_started_from(
        self, services: Services, clock: ManualClock
    ) -> None:
        """Publishing terms answers the version published; a repeat answers the same
        version although another version was published in between."""
        first = services.desk.publish_terms(sent("terms-1"), terms(), T0)
        clock.advance(timedelta(minutes=1))
        services.desk.publish_terms(caller(), terms(), T0 + timedelta(days=1))
        clock.advance(timedelta(minutes=1))
        again = services.desk.publish_terms(sent("terms-1"), terms(), T0)
        assert again == first
        assert first[0] == 1

    def test_a_step_recorded_before_a_crash_is_skipped_and_the_rest_runs(
        self, services: Services
    ) -> None:
        """A request that created the offering and died before publishing: its
        retry finds the offering, skips the creation and publishes once."""
        services.runner.create(SupportOffering, sent("terms-2"), SupportOffering.establish)
        version, _ = services.desk.publish_terms(sent("terms-2"), terms(), T0)
        offering = services.desk.offering()
        assert version == 1
        assert len(offering.published) == 1

    def test_the_same_key_for_another_request_is_refused(self, desk: Services) -> None:
        case = desk.desk.receive_case(caller(), cmd.TakeIn(**case_intake()))
        desk.desk.handle(sent("note-2", "first"), case.aggregate_id, cmd.AddNote("First."))
        before = head(desk)
        with pytest.raises(IdempotencyKeyReusedError):
            desk.desk.handle(sent("note-2", "other"), case.aggregate_id, cmd.AddNote("Other."))
        assert head(desk) == before

    def test_a_new_principal_s_token_is_shown_again_and_works(self, services: Services) -> None:
        admin = caller(Actor("ulla-admin", Role.USER_MANAGEMENT_ADMIN))
        first = services.principals.create(
            sent("principal-1", who=admin), name="Ulla", role=Role.AUDITOR
        )
        again = services.principals.create(
            sent("principal-1", who=admin), name="Ulla", role=Role.AUDITOR
        )
        assert again.token == first.token
        assert again.principal_id == first.principal_id
        assert services.principals.count() == 1
        assert services.principals.authenticate(first.token).principal_id == first.principal_id


class TestTwins:
    def test_twins_sent_at_once_record_once_and_answer_alike(self, desk: Services) -> None:
        """Requests with one key racing each other: one records, the others answer
        from its step after losing the race."""
        case = desk.desk.receive_case(caller(), cmd.TakeIn(**case_intake()))
        start = threading.Barrier(4)
        receipts: list[Receipt] = []

        def send() -> None:
            start.wait()
            receipts.append(
                desk.desk.handle(sent("twins"), case.aggregate_id, cmd.AddNote("Once."))
            )

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(receipts) == 4
        assert len(set(receipts)) == 1
        assert desk.desk.case(case.aggregate_id).version == case.version + 1


class TestStepsReadWithTheKeptAnswer:
    """The API reads a request's steps with its kept answer, before the endpoint
    runs (ADR 0031, amendment "kap"); the runner then does not read them again."""

    def test_steps_read_before_a_twin_recorded_still_answer_from_its_step(
        self, desk: Services
    ) -> None:
        """Read empty, then the twin records: the save loses, the runner reads
        again and answers from the twin's step, recording nothing."""
        case = desk.desk.receive_case(caller(), cmd.TakeIn(**case_intake()))
        late = sent("read-early")
        assert late.request is not None
        late.request.steps_read(desk.log.recorded_steps(late.request.key_id))
        first = desk.desk.handle(sent("read-early"), case.aggregate_id, cmd.AddNote("Once."))
        before = head(desk)
        again = desk.desk.handle(late, case.aggregate_id, cmd.AddNote("Once."))
        assert again == first
        assert head(desk) == before
        assert late.request.replayed

    def test_steps_of_another_request_read_so_refuse_the_key(self, desk: Services) -> None:
        case = desk.desk.receive_case(caller(), cmd.TakeIn(**case_intake()))
        desk.desk.handle(sent("read-other", "first"), case.aggregate_id, cmd.AddNote("First."))
        before = head(desk)
        other = sent("read-other", "other")
        assert other.request is not None
        other.request.steps_read(desk.log.recorded_steps(other.request.key_id))
        with pytest.raises(IdempotencyKeyReusedError):
            desk.desk.handle(other, case.aggregate_id, cmd.AddNote("Other."))
        assert head(desk) == before


class TestAnsweredByItsStep:
    """Whether a retry can be answered from the request's step alone, so that no copy
    of the answer need be kept (ADR 95)."""

    def test_one_recorded_step_whose_receipt_is_the_answer(self, desk: Services) -> None:
        case = desk.desk.receive_case(caller(), cmd.TakeIn(**case_intake()))
        note = sent("step-1")
        assert note.request is not None
        desk.desk.handle(note, case.aggregate_id, cmd.AddNote("Called back."))
        assert not note.request.answered_by_its_step  # the route has not said so
        note.request.answer_is_receipt()
        assert note.request.answered_by_its_step

    def test_a_repeat_found_in_the_log_is_answered_by_its_step_too(self, desk: Services) -> None:
        case = desk.desk.receive_case(caller(), cmd.TakeIn(**case_intake()))
        desk.desk.handle(sent("step-2"), case.aggregate_id, cmd.AddNote("Called back."))
        again = sent("step-2")
        assert again.request is not None
        desk.desk.handle(again, case.aggregate_id, cmd.AddNote("Called back."))
        again.request.answer_is_receipt()
        assert again.request.replayed
        assert again.request.answered_by_its_step

    def test_two_steps_are_not(self, desk: Services) -> None:
        case = desk.desk.receive_case(caller(), cmd.TakeIn(**case_intake()))
        both = sent("step-3")
        assert both.request is not None
        desk.desk.handle(both, case.aggregate_id, cmd.AddNote("One."))
        desk.desk.handle(both, case.aggregate_id, cmd.AddNote("Two."))
        both.request.answer_is_receipt()
        assert not both.request.answered_by_its_step

    def test_a_refused_command_s_step_is_not_in_the_log_so_it_answers_nothing(
        self, desk: Services
    ) -> None:
        case = desk.desk.receive_case(caller(), cmd.TakeIn(**case_intake()))
        refused = sent("step-4")
        assert refused.request is not None
        with pytest.raises(VersionMismatchError):
            desk.desk.handle(refused, case.aggregate_id, cmd.AddNote("Late."), expected_version=99)
        refused.request.answer_is_receipt()
        assert not refused.request.answered_by_its_step


def test_key_ids_differ_by_owner_and_key() -> None:
    assert key_id("a", "k") != key_id("b", "k") != key_id("a", "l")
    assert len({key_id("a", "k"), key_id("a", "k")}) == 1
