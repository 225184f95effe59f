"""Configuration, read once from ``APPROVALS_*`` variables into one typed, frozen object.

Every process (web, worker, beat, CLI) builds its settings through :func:`load_settings`, so
they agree on the instance folder, the database, the broker and the secret key. Each variable
has a type: a password of ``123456`` stays the string ``"123456"``, and a value that does not
fit its type stops the process at start with a :class:`ConfigurationError` naming the variable.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from limits import parse as parse_rate
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

PREFIX = "APPROVALS_"
DEFAULT_PORT = 8000
DEFAULT_EXPIRY_DAYS = 30
DEFAULT_MAX_REQUEST_BYTES = 10 * 1024 * 1024
# Standard Webhooks' suggested schedule, in seconds: 0 s, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_RETRY_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
DEFAULT_MAIL_RETRY_SCHEDULE = (0.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)
DEFAULT_WEBHOOK_CONNECT_TIMEOUT = 5.0
DEFAULT_WEBHOOK_TIMEOUT = 15.0
DEFAULT_SMTP_TIMEOUT = 30.0
DEFAULT_CLAIM_TIMEOUT = 120.0
# Logic Apps gives a synchronous call 120 s; answer well before, with 202 and a Location.
DEFAULT_OPERATION_WAIT = 30.0
DEFAULT_OPERATION_RESULT_TTL = 24 * 3600.0
# How often a push trigger subscription polls Graph; also the Retry-After of a polled trigger's
# "nothing new" (Logic Apps' own default for these triggers is a few minutes).
DEFAULT_TRIGGER_INTERVAL = 60.0
DEFAULT_GRAPH_AUTHORITY_URL = "https://login.microsoftonline.com"
DEFAULT_GRAPH_API_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_GRAPH_TIMEOUT = 30.0
# Graph's MailboxConcurrency limit: at most this many requests in flight per mailbox.
DEFAULT_GRAPH_MAILBOX_CONCURRENCY = 4

Seconds = Annotated[float, Field(gt=0)]
Schedule = Annotated[tuple[float, ...], NoDecode]


class ConfigurationError(ValueError):
    """A variable's value cannot be used; the message names each variable and why."""


def _default_instance_path() -> Path:
    """Flask's instance folder for an installed package: ``<prefix>/var/approvals-instance``."""
    here = Path(__file__).resolve().parent
    if (here.parent / "pyproject.toml").exists():
        return here.parent / "instance"
    return Path(sys.prefix) / "var" / "approvals-instance"


def _split(value: Any) -> Any:
    """A list from ``"a,b"`` or ``"a;b"`` (or a JSON list); other values as they are."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [part.strip() for part in re.split(r"[;,]", text) if part.strip()]


class Settings(BaseSettings):
    """Everything the service reads from its environment, with the embedded defaults applied.

    Empty values (``APPROVALS_X=``) count as unset. Fields left empty here (database, broker,
    secret key, base URL, rate-limit storage) are derived by :func:`load_settings`.
    """

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, extra="ignore", frozen=True, env_ignore_empty=True
    )

    instance_path: Path = Field(default_factory=_default_instance_path)
    database_url: str = ""
    broker_url: str = ""
    broker_transport_options: dict[str, Any] = Field(default_factory=dict)
    secret_key: str = Field("", repr=False)
    secret_key_fallbacks: Annotated[tuple[str, ...], NoDecode] = Field((), repr=False)
    base_url: str = ""
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    mail_backend: Literal["outbox", "smtp", "graph"] = "outbox"
    mail_from: str = "approvals <approvals@localhost>"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = Field(None, repr=False)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout: Seconds = DEFAULT_SMTP_TIMEOUT
    mail_retry_schedule: Schedule = DEFAULT_MAIL_RETRY_SCHEDULE
    webhook_allowed_networks: str = ""
    webhook_retry_schedule: Schedule = DEFAULT_RETRY_SCHEDULE
    webhook_connect_timeout: Seconds = DEFAULT_WEBHOOK_CONNECT_TIMEOUT
    webhook_timeout: Seconds = DEFAULT_WEBHOOK_TIMEOUT
    webhook_retry_after_max: Annotated[float, Field(ge=0)] = 36000.0
    webhook_host_concurrency: int = Field(4, ge=1)
    expiry_days: Seconds = DEFAULT_EXPIRY_DAYS
    max_request_bytes: int = Field(DEFAULT_MAX_REQUEST_BYTES, ge=1024)
    sweep_interval: Seconds = 5.0
    claim_timeout: Seconds = DEFAULT_CLAIM_TIMEOUT
    worker_concurrency: int = Field(16, ge=1)
    api_rate_limit: str = "600/minute"
    page_rate_limit: str = "60/minute"
    auth_failure_rate_limit: str = "30/minute"
    # How long a dashboard sign-in lasts (the cookie and its session row).
    dashboard_session_hours: Annotated[float, Field(gt=0)] = 12.0
    rate_limit_storage_url: str = ""
    operation_wait: Annotated[float, Field(ge=0)] = DEFAULT_OPERATION_WAIT
    operation_result_ttl: Seconds = DEFAULT_OPERATION_RESULT_TTL
    trigger_interval: Seconds = DEFAULT_TRIGGER_INTERVAL
    graph_tenant_id: str = ""
    graph_client_id: str = ""
    graph_client_secret: str = Field("", repr=False)
    graph_certificate_path: Path | None = None
    graph_mailbox: str = ""
    graph_authority_url: str = DEFAULT_GRAPH_AUTHORITY_URL
    graph_api_url: str = DEFAULT_GRAPH_API_URL
    graph_ca_bundle: Path | None = None
    graph_timeout: Seconds = DEFAULT_GRAPH_TIMEOUT
    graph_mailbox_concurrency: int = Field(DEFAULT_GRAPH_MAILBOX_CONCURRENCY, ge=1)
    metrics_token: str = Field("", repr=False)
    metrics_dir: Path | None = None
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("secret_key_fallbacks", mode="before")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("mail_retry_schedule", "webhook_retry_schedule", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> Any:
        schedule = _split(value)
        if isinstance(schedule, list | tuple) and not schedule:
            raise ValueError("a schedule needs at least one delay")
        return schedule

    @field_validator("mail_retry_schedule", "webhook_retry_schedule")
    @classmethod
    def _not_negative(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay < 0 for delay in value):
            raise ValueError("delays must not be negative")
        return value

    @field_validator("broker_transport_options", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("smtp_security", "mail_backend", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("api_rate_limit", "page_rate_limit", "auth_failure_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse_rate(value)  # raises ValueError naming what it could not read
        return value

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        for entry in re.split(r"[\s,]+", value.strip()):
            if entry:
                ipaddress.ip_network(entry, strict=True)
        return value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _storage(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "memory://")):
            raise ValueError("must be redis://, rediss:// or memory://")
        return value

    @field_validator("graph_authority_url", "graph_api_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("must be an https:// URL (msal and Graph speak only TLS)")
        return value.rstrip("/")

    @field_validator("graph_certificate_path", "graph_ca_bundle")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _graph_complete(self) -> Settings:
        """Graph configured in part fails at start, not at the first request."""
        wanted = self.mail_backend == "graph" or any(
            (
                self.graph_tenant_id,
                self.graph_client_id,
                self.graph_client_secret,
                self.graph_certificate_path,
                self.graph_mailbox,
            )
        )
        if not wanted:
            return self
        missing = [
            PREFIX + name.upper()
            for name in ("graph_tenant_id", "graph_client_id")
            if not getattr(self, name)
        ]
        if not self.graph_client_secret and self.graph_certificate_path is None:
            missing.append(f"{PREFIX}GRAPH_CLIENT_SECRET or {PREFIX}GRAPH_CERTIFICATE_PATH")
        if self.mail_backend == "graph" and not self.graph_mailbox:
            missing.append(f"{PREFIX}GRAPH_MAILBOX (APPROVALS_MAIL_BACKEND=graph sends from it)")
        if missing:
            raise ValueError("Microsoft Graph is configured in part; missing " + ", ".join(missing))
        if self.graph_client_secret and self.graph_certificate_path is not None:
            raise ValueError(
                f"give {PREFIX}GRAPH_CLIENT_SECRET or {PREFIX}GRAPH_CERTIFICATE_PATH, not both"
            )
        return self

    @property
    def graph_configured(self) -> bool:
        return bool(self.graph_tenant_id)

    @property
    def is_sqlite_broker(self) -> bool:
        return self.broker_url.startswith("sqla+sqlite")


class _FromMapping(Settings):
    """Settings read from a given mapping only (tests, the bench), never from ``os.environ``."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        **_others: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def _load_secret_key(instance_path: Path) -> str:
    """The embedded default's key: generated once and kept, readable only by its owner."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        # Write then link: web, worker and beat may start together and must agree on one key.
        temporary = instance_path / f".secret_key.{os.getpid()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()


def _explain(error: ValidationError) -> ConfigurationError:
    lines = []
    for problem in error.errors(include_url=False):
        message = problem["msg"].removeprefix("Value error, ")
        if not problem["loc"]:  # a rule across variables: its message names them
            lines.append(message)
            continue
        name = PREFIX + str(problem["loc"][0]).upper()
        secret = any(word in name for word in ("PASSWORD", "KEY", "SECRET", "TOKEN"))
        given = "" if secret else f" (given {problem.get('input')!r})"
        lines.append(f"{name}: {message}{given}")
    return ConfigurationError("invalid configuration:\n  " + "\n  ".join(lines))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from the environment (or ``environ``); the one place it is read.

    Raises :class:`ConfigurationError` naming every variable whose value cannot be used.
    """
    try:
        if environ is None:
            settings = Settings()
        else:
            values = {
                key[len(PREFIX) :].lower(): value
                for key, value in environ.items()
                if key.startswith(PREFIX) and value != ""
            }
            settings = _FromMapping(**values)
    except ValidationError as exc:
        raise _explain(exc) from None
    instance = settings.instance_path.resolve()
    instance.mkdir(parents=True, exist_ok=True)
    broker = settings.broker_url or f"sqla+sqlite:///{instance / 'broker.sqlite'}?timeout=30"
    shared_limits = broker if broker.startswith(("redis://", "rediss://")) else "memory://"
    return settings.model_copy(
        update={
            "instance_path": instance,
            "database_url": settings.database_url or f"sqlite:///{instance / 'approvals.sqlite'}",
            "broker_url": broker,
            "secret_key": settings.secret_key or _load_secret_key(instance),
            "base_url": (settings.base_url or f"http://127.0.0.1:{settings.port}").rstrip("/"),
            "rate_limit_storage_url": settings.rate_limit_storage_url or shared_limits,
            "metrics_dir": (settings.metrics_dir or instance / "metrics").resolve(),
        }
    )
