"""One settings object, read from `CASES_*` environment variables."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """Raised when a setting is missing or malformed; the message names it."""


WebUrl = Annotated[str, Field(pattern=r"^https?://\S+$")]
"""An http(s) URL: what every URL setting must be."""

MailAddress = Annotated[str, Field(max_length=320)]
"""An e-mail address, at most as long as SMTP allows."""


def _unset(description: str, *, max_length: int | None = None) -> Any:
    """A setting that is unset (None) unless given (at most `max_length` long)."""
    return Field(default=None, max_length=max_length, description=description)


def _positive(default: float, description: str, *, most: float) -> Any:
    """A number above 0 and at most `most` (a time, in the unit its name says)."""
    return Field(default=default, gt=0, le=most, description=description)


def _not_negative(default: float, description: str, *, most: float | None = None) -> Any:
    """A number of at least 0 (and at most `most`)."""
    return Field(default=default, ge=0, le=most, description=description)


class Settings(BaseSettings):
    """Configuration of a `cases` process."""

    model_config = SettingsConfigDict(env_prefix="CASES_", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Where the embedded SQLite database lives by default.",
    )
    database_url: str | None = _unset(
        "The event store: sqlite:///PATH, postgresql://USER@HOST:PORT/DB or "
        "memory:// (tests). Default: a SQLite file cases.db in CASES_DATA_DIR."
    )
    read_database_url: str | None = _unset(
        "A PostgreSQL streaming replica of CASES_DATABASE_URL (postgresql://...) the "
        "API's queries and reports are read from; writes, idempotency keys, the audit "
        "log and the outbox stay on the primary (ADR 0064). Unset: all on the primary.",
        max_length=2000,
    )
    read_replica_wait: float = _not_negative(
        1.0,
        "API server with a replica: seconds a query with min_position waits "
        "for the replica to replay that position before it reads from the primary (ADR 0064).",
        most=5,
    )
    vendor_name: str = Field(default="Microsoft", min_length=1, max_length=100)
    snapshot_interval: int = Field(default=50, ge=2, le=10_000)
    postgres_pool_size: int = Field(default=5, ge=1, le=100)
    postgres_connect_timeout: int = Field(default=5, ge=1, le=120)
    api_store_timeout: float = _positive(
        1.0,
        "API server on PostgreSQL: seconds one attempt of an event-store "
        "read or write waits for a pooled connection.",
        most=60,
    )
    api_store_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="API server on PostgreSQL: attempts of an event-store read or write "
        "after connection errors, 0.2 s apart (ADR 0019).",
    )
    api_aggregate_cache: int = _not_negative(
        1000,
        "API server: aggregates kept in memory per process, brought up to "
        "date from the store on each load (0: none).",
        most=1_000_000,
    )
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    api_lock_timeout: float = _positive(
        2.0,
        "API server: seconds one statement waits for a lock another "
        "connection holds before it is cancelled and the request answers 503 (PostgreSQL "
        "lock_timeout; on SQLite the busy timeout, rounded up to whole seconds; ADR 0034).",
        most=60,
    )
    api_statement_timeout: float = _positive(
        10.0,
        "API server on PostgreSQL: seconds one statement may run before it "
        "is cancelled and the request answers 503 (statement_timeout; ADR 0034).",
        most=600,
    )
    ready_max_lag_events: int = _not_negative(
        1000,
        "/ready answers 503 while a projection has more than this many log "
        "positions still to pass (ADR 0034).",
    )
    ready_max_lag_seconds: float = _not_negative(
        30.0,
        "/ready answers 503 while the oldest event a projection has yet to "
        "apply was recorded more than this many seconds ago (ADR 0034).",
    )
    metrics_enabled: bool = Field(
        default=True,
        description="Count and time requests, commands, batches and projections for "
        "`GET /metrics` (Prometheus). Off: no route, no middleware and nothing recorded "
        "in this process (ADR 0046).",
    )
    pin_workers: bool = Field(
        default=True,
        description="`cases serve --workers N` (N of 2 or more) keeps each worker's "
        "threads on a core of its own, wrapping round when there are more workers than "
        "cores (ADR 0096), scheduled as batch work (SCHED_BATCH, ADR 0097). Off: the "
        "kernel places and schedules them as usual.",
    )
    otel_enabled: bool = Field(
        default=False,
        description="Trace requests and PostgreSQL statements with OpenTelemetry, "
        "exported over OTLP/HTTP as the standard OTEL_* variables say (needs the "
        "`otel` extra; ADR 0046).",
    )
    backdating_allowance_hours: float = _not_negative(
        72,
        "How many hours before it is recorded an act may be dated "
        "(occurred_at, received_at) by staff; further back only an import of history "
        "(the system role) may record (ADR 0032).",
        most=24 * 366,
    )

    audit_log_origin: str = Field(
        default="localhost/cases",
        min_length=1,
        max_length=200,
        pattern=r"^[^\s+]+$",
        description="The transparency log's origin line in every checkpoint, a schema-less "
        "URL naming this log (C2SP tlog-checkpoint); also the signing key's name (ADR 0043).",
    )
    audit_log_key_file: Path | None = _unset(
        "The checkpoint signing key (signed-note private key). Default: "
        "audit-log.key in CASES_DATA_DIR, generated on first use on the embedded store."
    )
    audit_log_checkpoint_events: int = Field(
        default=1000,
        ge=1,
        le=10_000_000,
        description="A checkpoint is issued once the tree has grown by this many events.",
    )
    audit_log_checkpoint_seconds: float = _positive(
        60.0,
        "A checkpoint is issued this many seconds after the last one if the "
        "tree has grown at all since.",
        most=86_400,
    )
    audit_log_verify_workers: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Processes `cases audit verify` follows the log in, each over its own "
        "ranges of it on its own connections; default: one per CPU; 1: in its own process "
        "(ADR 0043).",
    )
    audit_log_witness_dir: Path | None = _unset(
        "An append-only directory every new checkpoint is also written to, "
        "out of the database administrator's reach (none if unset)."
    )
    master_key: SecretStr | None = _unset(
        "The master key that wraps each data subject's key (base64 of 32 "
        "random bytes; ADR 0044). With it (or CASES_MASTER_KEY_FILE) personal fields are "
        "stored sealed and can be erased; without it they are stored as they are."
    )
    retention_years: int = Field(
        default=7,
        ge=1,
        le=100,
        description="`cases privacy retention` erases the personal data of support cases "
        "closed more than this many years ago (ADR 0044); bookkeeping facts stay.",
    )
    allow_bare_customer_ids: bool = Field(
        default=False,
        description="Take in cases and open accounts for customers the customer directory "
        "does not hold (ADR 0048). Without it they are refused (422 unknown-customer) once "
        "the directory holds any customer; a store with an empty directory takes bare ids.",
    )
    keys_database_url: str | None = _unset(
        "PostgreSQL only: the same database as CASES_DATABASE_URL, as the role "
        "that owns the subject keys' schema cases_keys (ADR 0067), so the application's "
        "role may be refused every right there. Default: CASES_DATABASE_URL."
    )
    master_key_file: Path | None = _unset(
        "A file holding the master key (as CASES_MASTER_KEY), read at start."
    )
    audit_log_webhook_url: WebUrl | None = _unset(
        "A URL every new checkpoint is also POSTed to, signed with the webhook "
        "secret (Cases-Signature header; none if unset). A failing receiver delays only "
        "this witness, never the tree builder (ADR 0043).",
        max_length=2000,
    )
    audit_log_webhook_secret_file: Path | None = _unset(
        "A file holding the webhook's signing secret (surrounding whitespace "
        "ignored); or set CASES_AUDIT_LOG_WEBHOOK_SECRET. Never logged."
    )
    audit_log_webhook_secret: SecretStr | None = _unset(
        "The webhook's signing secret itself, when not in a file. Never logged."
    )

    vendor_token_url: WebUrl = Field(
        default="https://login.microsoftonline.com/common/oauth2/v2.0/token",
        description="The OAuth 2.0 token endpoint the vendor clients take a "
        "client-credentials token from (put your tenant in place of `common`).",
    )
    vendor_client_id: str | None = _unset(
        "The application (client) id the vendor clients authenticate as; without it no sync runs.",
        max_length=200,
    )
    vendor_client_secret: SecretStr | None = _unset(
        "The application's client secret. Never logged."
    )
    vendor_client_secret_file: Path | None = _unset(
        "A file holding the client secret, read at start."
    )
    graph_base_url: WebUrl = Field(
        default="https://graph.microsoft.com/v1.0",
        description="Microsoft Graph, where service-health issues are read.",
    )
    graph_scope: str = Field(
        default="https://graph.microsoft.com/.default",
        description="The scope of the token for Graph (ServiceHealth.Read.All granted).",
    )
    partner_center_base_url: WebUrl = Field(
        default="https://api.partnercenter.microsoft.com/v1",
        description="Partner Center, where vendor support requests are opened and read.",
    )
    partner_center_scope: str = Field(
        default="https://api.partnercenter.microsoft.com/.default",
        description="The scope of the token for Partner Center.",
    )
    vendor_http_timeout: float = _positive(
        30.0, "Seconds one request to the vendor may take.", most=600
    )
    vendor_max_retry_wait: float = _not_negative(
        60.0,
        "The longest a 429 or 503 Retry-After is honoured, in seconds; five "
        "refusals in a row fail the sync, which the next run retries.",
        most=3600,
    )
    advisory_sync_seconds: float = _not_negative(
        0,
        "The scheduled advisory sync's interval beside the projection runners "
        "(`cases projections run`, and `cases serve` on SQLite); 0: not scheduled.",
        most=86_400,
    )

    @field_validator("read_database_url")
    @classmethod
    def _replica_of_postgres(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("the read replica must be a postgresql:// URL")
        primary = info.data.get("database_url") or ""
        if not primary.startswith(("postgresql://", "postgres://")):
            raise ValueError("a read replica needs a PostgreSQL CASES_DATABASE_URL (its primary)")
        return value

    @property
    def vendor_secret(self) -> str | None:
        if self.vendor_client_secret is not None:
            return self.vendor_client_secret.get_secret_value()
        if self.vendor_client_secret_file is not None:
            return self.vendor_client_secret_file.read_text(encoding="utf-8").strip()
        return None

    # The outbox and its delivery (issue 16, ADR 50) -------------------------------
    smtp_host: str | None = _unset(
        "The mail server the outbox delivers e-mail through (none: messages "
        "stay in the outbox, listed by `cases outbox list`).",
        max_length=255,
    )
    smtp_port: int = Field(default=25, ge=1, le=65_535, description="The mail server's port.")
    smtp_starttls: bool = Field(
        default=False, description="Upgrade the SMTP connection with STARTTLS before sending."
    )
    smtp_username: str | None = _unset("Log in to the mail server as this user.", max_length=255)
    smtp_password: SecretStr | None = _unset("The mail server password. Never logged.")
    smtp_from: MailAddress = Field(
        default="noreply@partner.example",
        description="The From address of every message the outbox sends.",
    )
    outbox_sender_name: str = Field(
        default="Your partner",
        max_length=200,
        description="How messages are signed (the partner's name).",
    )
    outbox_language: str = Field(
        default="en",
        pattern=r"^(sv|en)$",
        description="The language of messages to a person whose language is not known "
        "(a case's contact, the queue).",
    )
    outbox_billing_mailbox: MailAddress | None = _unset(
        "Until the customer directory lands: the one address billing notices "
        "go to for every customer (none: billing notices only reach the webhook)."
    )
    outbox_queue_address: MailAddress | None = _unset(
        "Where service-level breach alerts go when the case's agent has no "
        "e-mail address (none: only to an agent id that is one)."
    )
    outbox_webhook_url: WebUrl | None = _unset(
        "A URL every outbox message is also POSTed to as JSON, signed "
        "(Cases-Signature) with the outbox webhook secret.",
        max_length=2000,
    )
    outbox_webhook_secret: SecretStr | None = _unset(
        "The outbox webhook's signing secret, which also signs messages to a "
        "customer's own webhook (its communication preferences). Never logged."
    )
    outbox_retry_hours: float = _positive(
        24.0,
        "How long a message that cannot be delivered is retried (with "
        "exponential backoff and jitter) before it is dead-lettered.",
        most=24 * 14,
    )
    outbox_first_retry_seconds: float = _positive(
        30.0, "The wait before the first retry.", most=3600
    )
    outbox_lease_seconds: float = _positive(
        60.0,
        "How long a claimed message is the claiming worker's: past it (the "
        "worker died) another worker sends it again, with the same message id.",
        most=3600,
    )
    outbox_send_timeout: float = _positive(
        10.0, "Seconds one SMTP or webhook attempt may take.", most=300
    )
    outbox_retention_days: float = _positive(
        30.0,
        "How long a delivered message's recipient, subject and body are kept; "
        "then the sweep blanks them (the delivery events stay in the log, ADR 68).",
        most=3650,
    )
    outbox_dead_retention_days: float = _positive(
        90.0,
        "The same for a dead-lettered (failed or bounced) message: longer, "
        "so an operator can still read and retry it.",
        most=3650,
    )
    outbox_sweep_seconds: float = _positive(
        3600.0, "How often the delivery worker sweeps messages past their retention.", most=86400
    )

    @property
    def backdating_allowance(self) -> timedelta:
        return timedelta(hours=self.backdating_allowance_hours)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cases.db').as_posix()}"


def load_settings() -> Settings:
    """Read the settings, turning validation errors into one clear line."""
    try:
        return Settings()
    except ValidationError as e:
        problems = "; ".join(
            f"CASES_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in e.errors()
        )
        raise SettingsError(problems) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests override with `get_settings.cache_clear`)."""
    return load_settings()
