"""On SQLite a new subject key rides on the record that made it and is written in
its transaction (ADR 0067 amended): held only once that commits, forgotten when it
fails, and refused when another process stored another key for the subject first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import IntegrityError

from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.db.schema import migrate
from cases.domain.erasure import SubjectKind
from cases.persistence.database_url import parse_database_url
from cases.persistence.sealing_mapper import StoredWithSubject
from cases.persistence.subject_keys import SubjectKeys
from cases.settings import Settings
from tests.integration.privacy.conftest import MASTER
from tests.support.builders import T0

NONCE = b"\0" * 12


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[Services, Services]]:
    """Two processes' services on one sealed SQLite file."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    migrate(parse_database_url(url))
    settings = Settings(database_url=url, master_key=MASTER.as_text())  # type: ignore[arg-type]
    first = bootstrap(settings, ManualClock(T0))
    second = bootstrap(settings, ManualClock(T0))
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def keys_of(services: Services) -> SubjectKeys:
    keys = services.log.subject_keys
    assert keys is not None
    assert keys.written_with_records
    return keys


def record(services: Services, subject: UUID, version: int) -> None:
    """Write one record of `subject` carrying what its encoding brought."""
    rows = keys_of(services).rows_for_record(subject, (("email", f"digest-{version}"),))
    stored = StoredWithSubject(subject, version, "tests.fake:Event", b"{}", rows)
    services.log.recorder.insert_events([stored])


def cipher(keys: SubjectKeys, subject: UUID) -> AESGCM:
    found = keys.for_writing(subject, SubjectKind.CONTACT)
    assert found is not None
    return found


def test_a_new_key_is_stored_only_with_its_record(
    two_processes: tuple[Services, Services],
) -> None:
    services, elsewhere = two_processes
    keys, subject = keys_of(services), uuid4()
    sealed = cipher(keys, subject).encrypt(NONCE, b"Karin Lund", None)
    assert keys._row(subject) is None  # made, not yet stored
    assert keys_of(elsewhere).for_reading(subject) is None

    record(services, subject, 1)
    assert keys._row(subject) is not None
    assert keys.digests() == {("email", "digest-1", subject)}
    opened = keys_of(elsewhere).for_reading(subject)
    assert opened is not None
    assert opened.decrypt(NONCE, sealed, None) == b"Karin Lund"


def test_a_failed_record_forgets_its_key(two_processes: tuple[Services, Services]) -> None:
    services, _ = two_processes
    keys, subject = keys_of(services), uuid4()
    taken = uuid4()
    record(services, taken, 1)
    first = cipher(keys, subject)
    rows = keys.rows_for_record(subject)
    clash = StoredWithSubject(taken, 1, "tests.fake:Event", b"{}", rows)
    with pytest.raises(IntegrityError):
        services.log.recorder.insert_events([clash])
    assert keys._row(subject) is None
    assert cipher(keys, subject) is not first  # a new key for the retry


def test_a_key_stored_elsewhere_first_refuses_the_record_and_is_read_instead(
    two_processes: tuple[Services, Services],
) -> None:
    services, elsewhere = two_processes
    subject = uuid4()
    ours, theirs = cipher(keys_of(services), subject), cipher(keys_of(elsewhere), subject)
    record(elsewhere, subject, 1)
    with pytest.raises(IntegrityError):
        record(services, subject, 2)  # sealed under a key that was never kept
    assert [e.originator_version for e in services.log.recorder.select_events(subject)] == [1]
    again = cipher(keys_of(services), subject)
    assert again is not ours
    assert again.decrypt(NONCE, theirs.encrypt(NONCE, b"x", None), None) == b"x"
