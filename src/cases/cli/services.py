"""Open the services for one CLI command, turning failures into one clear line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

from cases.bootstrap import Services, bootstrap
from cases.clock import Clock, SystemClock
from cases.domain.errors import DomainError
from cases.log_config import configure_logging
from cases.observability import metrics
from cases.persistence.database_url import SETTING, DatabaseUrl, StoreKind, parse_database_url
from cases.persistence.store import StoreUnavailableError
from cases.settings import Settings, SettingsError, get_settings


def fail(message: str, code: int) -> NoReturn:
    """One `error:` line on stderr, then exit with `code`."""
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def read_model_store(settings: Settings, needs: str) -> DatabaseUrl:
    """The store the settings name, or an exit (2) if it is unreadable or keeps no
    read models (memory); `needs` says which commands need them."""
    try:
        url = parse_database_url(settings.effective_database_url)
    except SettingsError as e:
        fail(str(e), 2)
    if url.kind is StoreKind.MEMORY:
        fail(f"{SETTING}: {needs} need a SQLite or PostgreSQL store, not {url.describe()}", 2)
    return url


def cli_settings(quiet: bool = True) -> Settings:
    """The settings, with JSON logging configured; a bad setting exits with 2.

    `quiet` keeps the log to warnings unless CASES_LOG_LEVEL asks for more, so
    output meant for people stays readable.
    """
    try:
        settings = get_settings()
    except SettingsError as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    explicit = "log_level" in settings.model_fields_set
    configure_logging(settings.log_level if explicit or not quiet else "WARNING")
    metrics.set_recording(settings.metrics_enabled)
    return settings


@contextmanager
def open_services(clock: Clock | None = None, quiet: bool = True) -> Iterator[Services]:
    """Services on the configured store.

    Configuration and store errors exit with status 2, refused commands with 1,
    each as one line on stderr.
    """
    settings = cli_settings(quiet)
    try:
        services = bootstrap(settings, clock or SystemClock())
    except (SettingsError, StoreUnavailableError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    try:
        yield services
    except DomainError as e:
        print(f"refused ({e.rule}): {e.message}", file=sys.stderr)
        raise typer.Exit(1) from None
    finally:
        services.close()
