"""The route's wait for an operation: woken by the worker's notification on PostgreSQL,
polling on SQLite; either way it sees the answer the worker recorded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from approvals.clients import create_client
from approvals.crypto import SecretBox
from approvals.operations import waiting
from approvals.store.db import Database
from approvals.store.migrate import upgrade
from approvals.store.models import Operation, utcnow
from approvals.store.status import OperationStatus
from tests.conftest import PG_URL, PostgresDatabase
from worker.operations.results import json_result
from worker.operations.runner import record

KINDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(params=KINDS)
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Just what waiting and recording use: ``runtime.db`` on a migrated database."""
    made = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    else:
        assert PG_URL
        made = PostgresDatabase(PG_URL)
        made.create()
        url = made.url
    db = Database(url)
    upgrade(db)
    yield SimpleNamespace(db=db)
    db.dispose()
    if made is not None:
        made.drop()


def running_operation(db: Database) -> str:
    with db.session() as session:
        client = create_client(session, "wait", SecretBox("wait-test-" + "k" * 32))
        now = utcnow()
        operation = Operation(
            client_id=client.id,
            name="GetEmailsV3",
            mailbox="requests@contoso.example",
            params={"top": 10},
            repeatable=True,
            status=OperationStatus.RUNNING,
            attempts=1,
            due_at=now,
            claimed_at=now,
            created_at=now,
            expires_at=now + timedelta(hours=1),
        )
        session.add(operation)
        session.commit()
        return operation.id


def connected(runtime: Any) -> waiting.Listener | None:
    listener = waiting.listener_for(runtime.db.engine)
    if listener is not None:
        assert listener.ready.wait(10), "the listener did not connect"
    return listener


@pytest.mark.parametrize("recorded", ["while waiting", "before the wait began"])
def test_the_wait_ends_with_the_answer_the_worker_recorded(
    runtime: Any, recorded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    operation_id = running_operation(runtime.db)
    listener = connected(runtime)
    # Without the notification a waiting route would sleep for this long before reading.
    monkeypatch.setattr(waiting, "NOTIFIED_LOOK_SECONDS", 60)
    outcome: list[Any] = []
    with waiting.EndWatch(runtime) as watch:
        watch.expect(operation_id)  # as the route does, before its insert commits
        if recorded == "before the wait began":  # a worker quicker than the web
            record(runtime, operation_id, json_result({"value": []}))
        waiter = threading.Thread(target=lambda: outcome.append(watch.wait(30)))
        waiter.start()
        if recorded == "while waiting":
            record(runtime, operation_id, json_result({"value": []}))
        waiter.join(10)
    assert not waiter.is_alive(), "the notification did not wake the wait"
    [ended] = outcome
    assert ended is not None
    assert ended.status == OperationStatus.SUCCEEDED
    assert (ended.result_status, ended.result_body) == (200, b'{"value":[]}')
    if listener is not None:
        assert listener._waiting == {}, "the watch was not forgotten"


def test_the_wait_gives_up_after_its_time(runtime: Any) -> None:
    operation_id = running_operation(runtime.db)
    connected(runtime)
    with waiting.EndWatch(runtime) as watch:
        watch.expect(operation_id)
        assert watch.wait(0.3) is None
    with runtime.db.session() as session:
        row = session.get(Operation, operation_id)
        assert row is not None and row.status == OperationStatus.RUNNING
