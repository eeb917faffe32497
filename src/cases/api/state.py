"""What the app holds for its lifetime, and its link to the store.

The store is opened when the app starts. On PostgreSQL a server that starts while
the database is away still starts: `/health` answers, `/ready` and every data
route answer 503, and the store is opened as soon as it can be, by a background
thread that tries every `RECONNECT_EVERY` and by the next request after
`TRY_ON_REQUEST_AFTER` (ADR 0019). Once open, the library's pool reconnects by
itself; this only covers a process that has never reached the database.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

import psycopg
import structlog
from eventsourcing.persistence import PersistenceError

from cases.api.idempotency import IdempotencyStore
from cases.api.read_pool import ReadPool
from cases.api.replica import Replica
from cases.application.principal_registry import AuthenticatedPrincipal
from cases.bootstrap import Services
from cases.clock import Clock
from cases.db.schema import SchemaBehindError
from cases.persistence.store import StoreUnavailableError
from cases.settings import Settings

logger = structlog.get_logger("cases.api")

TOKEN_CACHE_SECONDS = 2.5  # with the registry's own 5 s: a revocation elsewhere within 7.5 s
RECONNECT_EVERY = 1.0  # seconds between the background thread's attempts
TRY_ON_REQUEST_AFTER = 0.5  # seconds since the last attempt before a request tries too
# What opening a store that is away raises (SchemaBehindError: migrations pending).
OPEN_ERRORS: tuple[type[Exception], ...] = (
    StoreUnavailableError,
    PersistenceError,
    psycopg.Error,
    sqlite3.Error,
    OSError,
    SchemaBehindError,
)


class TokenCache:
    """Bearer tokens authenticated in the last `seconds`, read on the event loop.

    The registry has its own cache, but reaching it means a thread hop; a hit
    here costs a dict lookup. A revocation through this process clears it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[str, tuple[float, AuthenticatedPrincipal]] = {}

    def get(self, token: str) -> AuthenticatedPrincipal | None:
        entry = self._entries.get(token)
        if entry is None or time.monotonic() - entry[0] >= self.seconds:
            return None
        return entry[1]

    def put(self, token: str, principal: AuthenticatedPrincipal) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[token] = (time.monotonic(), principal)

    def clear(self) -> None:
        self._entries.clear()


class ApiState:
    """The settings, the services once the store is open, the read-model pool (on
    the primary), the replica queries may read from, and the idempotency keys (on
    `app.state.api`)."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        reads: ReadPool,
        open_services: Callable[[], Services],
        *,
        on_open: Callable[[Services], None] | None = None,
        replica: Replica | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.reads = reads
        self.replica = replica
        self.idempotency = IdempotencyStore(reads, clock)
        self.tokens = TokenCache(TOKEN_CACHE_SECONDS)
        self._open_services = open_services
        self._on_open = on_open
        self._services: Services | None = None
        self._lock = threading.Lock()
        self._last_attempt = float("-inf")
        self._stop = threading.Event()
        self._reconnector: threading.Thread | None = None
        self.unavailable = "the store has not been opened yet"

    # The services -------------------------------------------------------------

    @property
    def services(self) -> Services:
        """The services, or StoreUnavailableError (503) while the store was never
        reached."""
        services = self._services
        if services is None:
            raise StoreUnavailableError(self.unavailable)
        return services

    @property
    def opened(self) -> Services | None:
        return self._services

    def should_try_now(self) -> bool:
        """Whether a request should try to open the store itself (in a thread)."""
        return time.monotonic() - self._last_attempt >= TRY_ON_REQUEST_AFTER

    def open(self) -> Services:
        """Open the store now (blocking), or raise what stopped it."""
        with self._lock:
            return self._open_locked()

    def try_open(self) -> Services:
        """Open the store if it can be reached now, else StoreUnavailableError (at
        once if another thread is trying already)."""
        services = self._services
        if services is not None:
            return services
        if not self._lock.acquire(blocking=False):
            raise StoreUnavailableError(self.unavailable)
        try:
            return self._open_locked()
        except OPEN_ERRORS as e:
            self._note_failure(e)
            raise StoreUnavailableError(self.unavailable) from None
        finally:
            self._lock.release()

    def _open_locked(self) -> Services:
        if self._services is None:
            self._last_attempt = time.monotonic()
            services = self._open_services()
            if self._on_open is not None:
                try:
                    self._on_open(services)
                except BaseException:
                    services.close()
                    raise
            self._services = services
            logger.info("store_opened")
        return self._services

    def _note_failure(self, error: Exception) -> None:
        text = str(error).strip()
        reason = text.splitlines()[0] if text else type(error).__name__
        unavailable = f"the store cannot be reached: {reason}"
        if unavailable != self.unavailable:  # once per reason, not once a second
            logger.warning("store_unreachable", reason=reason)
        self.unavailable = unavailable

    # Lifecycle ------------------------------------------------------------------

    def start(self, *, may_wait: bool) -> None:
        """Open the store; if it is away and `may_wait`, keep trying in the background
        (the server starts anyway), else raise."""
        try:
            self.open()
        except OPEN_ERRORS as e:
            if not may_wait or isinstance(e, SchemaBehindError):
                raise
            self._note_failure(e)
            self._reconnector = threading.Thread(
                target=self._keep_trying, name="store-reconnect", daemon=True
            )
            self._reconnector.start()

    def _keep_trying(self) -> None:
        while self._services is None and not self._stop.wait(RECONNECT_EVERY):
            try:
                self.open()
            except OPEN_ERRORS as e:
                self._note_failure(e)

    def close(self) -> None:
        self._stop.set()
        if self._reconnector is not None:
            self._reconnector.join(timeout=10)
        self.reads.close()
        if self.replica is not None:
            self.replica.close()
        with self._lock:
            if self._services is not None:
                self._services.close()
                self._services = None
