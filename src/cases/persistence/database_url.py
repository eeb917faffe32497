"""`CASES_DATABASE_URL` parsed into the store it names."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cases.settings import SettingsError

SETTING = "CASES_DATABASE_URL"


class StoreKind(StrEnum):
    MEMORY = "memory"
    SQLITE = "sqlite"
    POSTGRES = "postgres"


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """Where events are stored; `describe()` never shows the password."""

    kind: StoreKind
    path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 5432
    dbname: str = ""
    user: str = ""
    password: str = ""

    def describe(self) -> str:
        if self.kind is StoreKind.SQLITE:
            return f"SQLite file {self.path}"
        if self.kind is StoreKind.POSTGRES:
            return f"PostgreSQL database {self.dbname!r} at {self.host}:{self.port}"
        return "in-memory store"


def parse_database_url(url: str, setting: str = SETTING) -> DatabaseUrl:
    """Parse a database URL, or raise SettingsError naming the setting."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "memory":
        return DatabaseUrl(StoreKind.MEMORY)
    if scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if parts.netloc or not path:
            raise SettingsError(f"{setting}: {url!r} has no file path; use sqlite:///data/cases.db")
        return DatabaseUrl(StoreKind.SQLITE, path=Path(path))
    if scheme in {"postgres", "postgresql"}:
        return _parse_postgres(url, setting)
    raise SettingsError(
        f"{setting}: unsupported scheme {parts.scheme or '(none)'!r} in {_redact(url)!r}; "
        "use sqlite:///PATH or postgresql://USER@HOST:PORT/DBNAME"
    )


def _parse_postgres(url: str, setting: str) -> DatabaseUrl:
    split = urlsplit(url)
    dbname = unquote(split.path.lstrip("/"))
    if not dbname or "/" in dbname:
        raise SettingsError(
            f"{setting}: {_redact(url)!r} names no database; use postgresql://USER@HOST:PORT/DBNAME"
        )
    try:
        port = split.port or 5432
    except ValueError:
        raise SettingsError(f"{setting}: {_redact(url)!r} has a bad port") from None
    return DatabaseUrl(
        StoreKind.POSTGRES,
        host=split.hostname or "127.0.0.1",
        port=port,
        dbname=dbname,
        user=unquote(split.username or "postgres"),
        password=unquote(split.password or ""),
    )


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
