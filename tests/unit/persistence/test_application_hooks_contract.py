"""What `cases.persistence.application_hooks` relies on in eventsourcing (ADR
0037): the construction hooks `construct_env` and `construct_transcoder`, and
`save` passing its keyword arguments on to the recorder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, StoredEvent, Transcoder
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.utils import Environment, EnvType

from cases.persistence.application_hooks import ConfiguredBySettings
from cases.persistence.event_log import EventLog
from cases.persistence.recorders import MEMORY_FACTORY_TOPIC
from cases.persistence.registry import cases_transcoder
from tests.support.library_contract import broken, relied_on, relied_on_callable

MODULE = "application_hooks"
PROBE_FACTORY = f"{__name__}:ProbeFactory"


class ProbeRecorder(POPOApplicationRecorder):
    """An in-memory recorder that keeps the keywords each write was given."""

    def __init__(self) -> None:
        super().__init__()
        self.keywords: list[dict[str, Any]] = []

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self.keywords.append(kwargs)
        return super().insert_events(stored_events, **kwargs)


class ProbeFactory(POPOFactory):
    def application_recorder(self) -> ApplicationRecorder:
        return ProbeRecorder()


class _Probe(Application[Any]):
    calls: list[str]

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        self.calls = [*getattr(self, "calls", []), f"construct_env({name})"]
        return Environment(name, dict(env or {}))

    def construct_transcoder(self) -> Transcoder:
        self.calls.append("construct_transcoder")
        return cases_transcoder()


def test_init_builds_from_the_hooks() -> None:
    relied_on_callable(Application, "construct_env", MODULE, "(self, name, env)")
    relied_on_callable(Application, "construct_transcoder", MODULE, "(self)")
    relied_on_callable(Application, "__init__", MODULE, "(self, env)")
    app = _Probe({"PERSISTENCE_MODULE": PROBE_FACTORY})
    assert app.calls == ["construct_env(_Probe)", "construct_transcoder"], broken(
        "Application.__init__", MODULE, f"called the hooks so: {app.calls}"
    )
    assert relied_on(app, "env", MODULE).get("PERSISTENCE_MODULE") == PROBE_FACTORY
    transcoder = relied_on(app.mapper, "transcoder", MODULE)
    assert transcoder.encode(uuid4()).startswith(b'{"_type_":"uuid_hex"'), broken(
        "Application.construct_transcoder", MODULE, "its transcoder is not the mapper's"
    )


def test_the_process_environment_configures_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.no_such_module")
    log = EventLog({"PERSISTENCE_MODULE": MEMORY_FACTORY_TOPIC})
    assert isinstance(log, ConfiguredBySettings)
    assert type(log.recorder).__module__ == "cases.persistence.recorders"


def test_save_hands_its_keywords_to_the_recorder() -> None:
    """The idempotency step of ADR 0031 rides on `save(..., idempotency_step=)`."""
    relied_on_callable(Application, "save", MODULE, "(self, *args, **kwargs)")
    app = Application[Any]({"PERSISTENCE_MODULE": PROBE_FACTORY})
    recorder = relied_on(app, "recorder", MODULE)
    assert isinstance(recorder, ProbeRecorder)
    app.save(Aggregate(), idempotency_step="marker")
    given = [k.get("idempotency_step") for k in recorder.keywords]
    assert given == ["marker"], broken(
        "Application.save", MODULE, f"the recorder was given {recorder.keywords}"
    )
