"""A running service: database, broker, web, worker and beat, each a real process."""

from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from approvals.clients import CreatedClient, create_client
from approvals.crypto import SecretBox
from approvals.store.db import Database
from approvals.store.migrate import upgrade
from tests.support.processes import ServiceProcess, wait_for_port
from tests.support.smtp_sink import free_port

T = TypeVar("T")

# Short enough for tests to watch a whole retry schedule; the defaults stay as documented.
TEST_SETTINGS = {
    "APPROVALS_MAIL_BACKEND": "smtp",
    "APPROVALS_WEBHOOK_RETRY_SCHEDULE": "0,0.3,0.3,0.3",
    "APPROVALS_WEBHOOK_RETRY_AFTER_MAX": "2",
    "APPROVALS_WEBHOOK_TIMEOUT": "2",
    "APPROVALS_WEBHOOK_CONNECT_TIMEOUT": "1",
    "APPROVALS_MAIL_RETRY_SCHEDULE": "0,0.3,0.3,0.3",
    "APPROVALS_SWEEP_INTERVAL": "1",
    "APPROVALS_CLAIM_TIMEOUT": "4",
    "APPROVALS_TRIGGER_INTERVAL": "1",
    "APPROVALS_WORKER_CONCURRENCY": "4",
    "APPROVALS_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
    # Every test and benchmark request comes from 127.0.0.1; test_hardening checks the limits.
    "APPROVALS_API_RATE_LIMIT": "1000000/minute",
    "APPROVALS_PAGE_RATE_LIMIT": "1000000/minute",
    "APPROVALS_AUTH_FAILURE_RATE_LIMIT": "1000000/minute",
}


class Stack:
    """Everything a user would run, started from the ``approvals`` command."""

    def __init__(
        self,
        name: str,
        root: Path,
        database_url: str,
        broker_url: str,
        smtp_port: int,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.root = root
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        root.mkdir(parents=True, exist_ok=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("APPROVALS_")},
            **TEST_SETTINGS,
            "APPROVALS_INSTANCE_PATH": str(root),
            "APPROVALS_DATABASE_URL": database_url,
            "APPROVALS_BROKER_URL": broker_url,
            "APPROVALS_SECRET_KEY": "test-secret-" + uuid.uuid4().hex,
            "APPROVALS_BASE_URL": self.base_url,
            "APPROVALS_PORT": str(self.port),
            "APPROVALS_SMTP_HOST": "127.0.0.1",
            "APPROVALS_SMTP_PORT": str(smtp_port),
            **(extra_env or {}),
        }
        if broker_url.startswith("redis"):
            prefix = f"approvals-test-{uuid.uuid4().hex[:8]}:"
            self.env["APPROVALS_BROKER_TRANSPORT_OPTIONS"] = f'{{"global_keyprefix": "{prefix}"}}'
        self.db = Database(database_url)
        self.box = SecretBox(self.env["APPROVALS_SECRET_KEY"])
        self.web = ServiceProcess(
            ["web", "--workers", "1", "--threads", "8"], self.env, root / "web.log"
        )
        self.worker = ServiceProcess(["worker"], self.env, root / "worker.log")
        self.beat = ServiceProcess(["beat"], self.env, root / "beat.log")

    def start(self) -> None:
        upgrade(self.db)
        self.web.start()
        self.worker.start()
        self.beat.start()
        wait_for_port(self.port, self.web)

    def stop(self) -> None:
        for process in (self.beat, self.worker, self.web):
            process.stop()
        self.db.dispose()

    def restart_worker(self) -> None:
        self.worker.stop()
        self.worker.start()

    @contextmanager
    def worker_in_its_place(self, name: str, **env: str) -> Iterator[ServiceProcess]:
        """The stack's worker stopped, and another with ``env`` (not yet started) instead;
        afterwards the other stopped and the stack's own started again."""
        self.worker.stop()
        other = ServiceProcess(["worker"], {**self.env, **env}, self.root / f"{name}.log")
        try:
            yield other
        finally:
            other.stop()
            self.worker.start()

    def new_client(self, name: str = "test") -> tuple[CreatedClient, httpx.Client]:
        with self.db.session() as session:
            created = create_client(session, name, self.box)
        http = httpx.Client(
            base_url=self.base_url, timeout=20, headers={"Authorization": f"Bearer {created.key}"}
        )
        return created, http

    def subscription_count(self, client_id: str) -> int:
        """How many subscriptions a client has in the database: bad input must add none."""
        from sqlalchemy import func, select

        from approvals.store.models import Subscription

        with self.db.session() as session:
            return session.scalar(
                select(func.count())
                .select_from(Subscription)
                .where(Subscription.client_id == client_id)
            )

    def queued(self, queue: str) -> int:
        """Messages waiting in one of this stack's broker queues (``mail``, ``callbacks``)."""
        from kombu import Connection

        options = json.loads(self.env.get("APPROVALS_BROKER_TRANSPORT_OPTIONS") or "{}")
        with (
            warnings.catch_warnings(),  # kombu's SQLAlchemy models use a deprecated loader
            Connection(self.env["APPROVALS_BROKER_URL"], transport_options=options) as broker,
        ):
            warnings.simplefilter("ignore", DeprecationWarning)
            return broker.default_channel.queue_declare(queue).message_count

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.command[0]} ---\n{p.log_tail()}" for p in (self.web, self.worker, self.beat)
        )


def eventually(check: Callable[[], T | None], timeout: float = 20, interval: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; raise with the last value otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
