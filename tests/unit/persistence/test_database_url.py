"""CASES_DATABASE_URL names the store; a bad one is a one-line error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cases.persistence.database_url import StoreKind, parse_database_url
from cases.persistence.store import StoreUnavailableError, open_event_log
from cases.settings import Settings, SettingsError, load_settings


def test_sqlite_paths_relative_and_absolute() -> None:
    assert parse_database_url("sqlite:///data/cases.db").path == Path("data/cases.db")
    assert parse_database_url("sqlite:////var/lib/cases.db").path == Path("/var/lib/cases.db")


def test_postgres_url_parts() -> None:
    url = parse_database_url("postgresql://cases:s3cret@db.internal:6543/cases_prod")
    assert url.kind is StoreKind.POSTGRES
    assert (url.host, url.port, url.dbname, url.user, url.password) == (
        "db.internal",
        6543,
        "cases_prod",
        "cases",
        "s3cret",
    )
    assert "s3cret" not in url.describe()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://x/y", "unsupported scheme"),
        ("sqlite://", "no file path"),
        ("postgresql://u:pw@host/", "names no database"),
        ("postgresql://host:notaport/db", "bad port"),
        ("just-a-path.db", "unsupported scheme"),
    ],
)
def test_bad_urls_name_the_setting(url: str, reason: str) -> None:
    with pytest.raises(SettingsError) as error:
        parse_database_url(url)
    message = str(error.value)
    assert message.startswith("CASES_DATABASE_URL: ")
    assert reason in message
    assert "\n" not in message
    assert "pw@" not in message


def test_the_default_store_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'cases.db'}"


def test_bad_settings_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASES_SNAPSHOT_INTERVAL", "one")
    with pytest.raises(SettingsError, match="CASES_SNAPSHOT_INTERVAL"):
        load_settings()


def test_an_unreachable_postgres_is_a_one_line_error(tmp_path: Path) -> None:
    """Nothing listens on port 1: the error names the setting and the server."""
    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:1/nowhere",
        data_dir=tmp_path,
        postgres_connect_timeout=1,
    )
    with pytest.raises(StoreUnavailableError) as error:
        open_event_log(settings)
    message = str(error.value)
    assert message.startswith("CASES_DATABASE_URL: cannot open PostgreSQL database")
    assert "127.0.0.1:1" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("primary", "replica", "reason"),
    [
        ("postgresql://p@db:5432/cases", "sqlite:///replica.db", "must be a postgresql:// URL"),
        (None, "postgresql://p@replica:5432/cases", "needs a PostgreSQL CASES_DATABASE_URL"),
        ("sqlite:///x.db", "postgresql://p@replica:5432/cases", "needs a PostgreSQL"),
    ],
)
def test_a_read_replica_is_a_postgres_copy_of_a_postgres_primary(
    monkeypatch: pytest.MonkeyPatch, primary: str | None, replica: str, reason: str
) -> None:
    """CASES_READ_DATABASE_URL is refused in one line naming it (ADR 0064)."""
    monkeypatch.delenv("CASES_DATABASE_URL", raising=False)
    if primary is not None:
        monkeypatch.setenv("CASES_DATABASE_URL", primary)
    monkeypatch.setenv("CASES_READ_DATABASE_URL", replica)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith("CASES_READ_DATABASE_URL: ")
    assert reason in str(error.value)


def test_a_bad_replica_url_names_its_own_setting() -> None:
    with pytest.raises(SettingsError, match=r"^CASES_READ_DATABASE_URL: .*names no database"):
        parse_database_url("postgresql://p@replica/", "CASES_READ_DATABASE_URL")
