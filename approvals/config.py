"""Configuration, read once from ``APPROVALS_*`` variables into one typed object.

Every process (web, worker, beat, CLI) builds its settings through :func:`load_settings`, so
they agree on the instance folder, the database, the broker and the secret key.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREFIX = "APPROVALS_"
DEFAULT_PORT = 8000
DEFAULT_EXPIRY_DAYS = 30
DEFAULT_MAX_REQUEST_BYTES = 10 * 1024 * 1024
# Standard Webhooks' suggested schedule, in seconds: 0 s, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_RETRY_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
DEFAULT_MAIL_RETRY_SCHEDULE = (0.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)


def _default_instance_path() -> Path:
    """Flask's instance folder for an installed package: ``<prefix>/var/approvals-instance``."""
    import sys

    here = Path(__file__).resolve().parent
    if (here.parent / "pyproject.toml").exists():
        return here.parent / "instance"
    return Path(sys.prefix) / "var" / "approvals-instance"


def _floats(value: Any, default: tuple[float, ...]) -> tuple[float, ...]:
    if value in (None, ""):
        return default
    if isinstance(value, (list, tuple)):
        return tuple(float(v) for v in value)
    return tuple(float(v) for v in str(value).replace(";", ",").split(",") if v.strip())


def _bool(value: Any, default: bool = False) -> bool:
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def read_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``APPROVALS_*`` variables without their prefix, JSON-decoded where possible.

    This mirrors Flask's ``from_prefixed_env`` so that the worker and the CLI, which do not
    always build a Flask app first, read the same values.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(PREFIX):
            continue
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        values[key[len(PREFIX) :]] = value
    return values


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


def _limit_storage(raw: dict[str, Any]) -> str:
    """Share rate-limit counters through Redis when there is one; else per process."""
    broker = str(raw.get("BROKER_URL") or "")
    return broker if broker.startswith(("redis://", "rediss://")) else "memory://"


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment, with the embedded defaults applied."""

    instance_path: Path
    database_url: str
    broker_url: str
    secret_key: str
    secret_key_fallbacks: tuple[str, ...]
    base_url: str
    port: int
    mail_backend: str
    mail_from: str
    smtp_host: str
    smtp_port: int
    smtp_username: str | None
    smtp_password: str | None
    smtp_security: str
    smtp_timeout: float
    webhook_allowed_networks: str
    webhook_retry_schedule: tuple[float, ...]
    webhook_connect_timeout: float
    webhook_timeout: float
    webhook_retry_after_max: float
    mail_retry_schedule: tuple[float, ...]
    expiry_days: float
    max_request_bytes: int
    sweep_interval: float
    claim_timeout: float
    worker_concurrency: int
    webhook_host_concurrency: int
    broker_transport_options: dict[str, Any]
    api_rate_limit: str
    page_rate_limit: str
    rate_limit_storage_url: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_sqlite_broker(self) -> bool:
        return self.broker_url.startswith("sqla+sqlite")


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from the environment; the one place configuration is read."""
    raw = read_environment(environ)
    instance = Path(str(raw.get("INSTANCE_PATH") or _default_instance_path())).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    port = int(raw.get("PORT") or DEFAULT_PORT)
    fallbacks = raw.get("SECRET_KEY_FALLBACKS") or ()
    if isinstance(fallbacks, str):
        fallbacks = tuple(k for k in fallbacks.split(",") if k)
    return Settings(
        instance_path=instance,
        database_url=str(raw.get("DATABASE_URL") or f"sqlite:///{instance / 'approvals.sqlite'}"),
        broker_url=str(
            raw.get("BROKER_URL") or f"sqla+sqlite:///{instance / 'broker.sqlite'}?timeout=30"
        ),
        secret_key=str(raw.get("SECRET_KEY") or _load_secret_key(instance)),
        secret_key_fallbacks=tuple(str(k) for k in fallbacks),
        base_url=str(raw.get("BASE_URL") or f"http://127.0.0.1:{port}").rstrip("/"),
        port=port,
        mail_backend=str(raw.get("MAIL_BACKEND") or "outbox"),
        mail_from=str(raw.get("MAIL_FROM") or "approvals <approvals@localhost>"),
        smtp_host=str(raw.get("SMTP_HOST") or "127.0.0.1"),
        smtp_port=int(raw.get("SMTP_PORT") or 25),
        smtp_username=raw.get("SMTP_USERNAME") or None,
        smtp_password=raw.get("SMTP_PASSWORD") or None,
        smtp_security=str(raw.get("SMTP_SECURITY") or "none").lower(),
        smtp_timeout=float(raw.get("SMTP_TIMEOUT") or 30),
        webhook_allowed_networks=str(raw.get("WEBHOOK_ALLOWED_NETWORKS") or ""),
        webhook_retry_schedule=_floats(raw.get("WEBHOOK_RETRY_SCHEDULE"), DEFAULT_RETRY_SCHEDULE),
        webhook_connect_timeout=float(raw.get("WEBHOOK_CONNECT_TIMEOUT") or 5),
        webhook_timeout=float(raw.get("WEBHOOK_TIMEOUT") or 15),
        webhook_retry_after_max=float(raw.get("WEBHOOK_RETRY_AFTER_MAX") or 36000),
        mail_retry_schedule=_floats(raw.get("MAIL_RETRY_SCHEDULE"), DEFAULT_MAIL_RETRY_SCHEDULE),
        expiry_days=float(raw.get("EXPIRY_DAYS") or DEFAULT_EXPIRY_DAYS),
        max_request_bytes=int(raw.get("MAX_REQUEST_BYTES") or DEFAULT_MAX_REQUEST_BYTES),
        sweep_interval=float(raw.get("SWEEP_INTERVAL") or 5),
        claim_timeout=float(raw.get("CLAIM_TIMEOUT") or 120),
        worker_concurrency=int(raw.get("WORKER_CONCURRENCY") or 16),
        webhook_host_concurrency=int(raw.get("WEBHOOK_HOST_CONCURRENCY") or 4),
        broker_transport_options=dict(raw.get("BROKER_TRANSPORT_OPTIONS") or {}),
        api_rate_limit=str(raw.get("API_RATE_LIMIT") or "600/minute"),
        page_rate_limit=str(raw.get("PAGE_RATE_LIMIT") or "60/minute"),
        rate_limit_storage_url=str(raw.get("RATE_LIMIT_STORAGE_URL") or _limit_storage(raw)),
        raw=raw,
    )
