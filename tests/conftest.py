"""Fixtures for real services: the embedded default always, PostgreSQL + Redis when configured.

``APPROVALS_TEST_DATABASE_URL`` (a PostgreSQL server URL; a fresh database is made per run) and
``APPROVALS_TEST_REDIS_URL`` turn on the production backend; without them only the embedded
default (SQLite state, SQLite broker) runs, and the session header says so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.support.api import ApiUser
from tests.support.graph.server import GraphStandIn
from tests.support.receiver import CallbackReceiver
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import Stack

# The Microsoft Graph and identity platform stand-in: fixtures ``graph_standin`` and ``graph``.
pytest_plugins = ["tests.support.graph.fixtures"]

PG_URL = os.environ.get("APPROVALS_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("APPROVALS_TEST_REDIS_URL")
BACKENDS = ["embedded", "postgres+redis"] if PG_URL and REDIS_URL else ["embedded"]


def pytest_report_header() -> str:
    if len(BACKENDS) == 2:
        return "approvals backends: embedded (SQLite) and PostgreSQL + Redis"
    return (
        "approvals backends: embedded only (set APPROVALS_TEST_DATABASE_URL and "
        "APPROVALS_TEST_REDIS_URL to test PostgreSQL + Redis too)"
    )


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def receiver() -> Iterator[CallbackReceiver]:
    server = CallbackReceiver()
    yield server
    server.close()


class PostgresDatabase:
    """A database of its own on the test server, dropped afterwards."""

    def __init__(self, server_url: str) -> None:
        self.name = f"approvals_test_{uuid.uuid4().hex[:10]}"
        url = make_url(server_url)
        self.admin = url.set(drivername="postgresql", database="postgres").render_as_string(False)
        self.url = url.set(drivername="postgresql+psycopg", database=self.name).render_as_string(
            hide_password=False
        )

    def create(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def make_stack(
    kind: str,
    root: Path,
    smtp: SmtpSink,
    extra_env: dict[str, str] | None = None,
) -> tuple[Stack, PostgresDatabase | None]:
    if kind == "embedded":
        return Stack(
            kind,
            root,
            f"sqlite:///{root / 'state.sqlite'}",
            f"sqla+sqlite:///{root / 'broker.sqlite'}?timeout=30",
            smtp.port,
            extra_env,
        ), None
    assert PG_URL and REDIS_URL
    database = PostgresDatabase(PG_URL)
    database.create()
    return Stack(kind, root, database.url, REDIS_URL, smtp.port, extra_env), database


# The app registration the shared stack uses against the Graph stand-in; tests that call Graph
# register it there (the ``graph`` fixture starts each test with a stand-in wiped clean).
GRAPH_APP_ID = "3f1c9a52-approvals-tests"
GRAPH_APP_SECRET = "stand-in secret ~ 123456"


def graph_env(standin: GraphStandIn) -> dict[str, str]:
    """What points a stack at the stand-in: tenant, app, both URLs and the CA to trust."""
    return {
        "APPROVALS_GRAPH_TENANT_ID": standin.tenant_id,
        "APPROVALS_GRAPH_CLIENT_ID": GRAPH_APP_ID,
        "APPROVALS_GRAPH_CLIENT_SECRET": GRAPH_APP_SECRET,
        "APPROVALS_GRAPH_AUTHORITY_URL": standin.base_url,
        "APPROVALS_GRAPH_API_URL": standin.graph_url,
        "APPROVALS_GRAPH_CA_BUNDLE": str(standin.ca_bundle_path),
    }


@pytest.fixture(scope="session", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest,
    smtp: SmtpSink,
    graph_standin: GraphStandIn,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The service on one backend, shared by the tests of a session."""
    root = tmp_path_factory.mktemp(request.param.replace("+", "-"))
    running, database = make_stack(request.param, root, smtp, graph_env(graph_standin))
    running.start()
    yield running
    running.stop()
    if database:
        database.drop()


@pytest.fixture
def api(stack: Stack) -> Iterator[ApiUser]:
    """A fresh API client of the running service, with its key and webhook secret."""
    created, http = stack.new_client()
    yield ApiUser(created.id, created.key, created.webhook_secret, http)
    http.close()


@pytest.fixture
def address() -> str:
    """A recipient address no other test uses, so the SMTP sink's mail can be told apart."""
    return f"person-{uuid.uuid4().hex[:12]}@example.com"
