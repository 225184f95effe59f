"""The route's wait for an operation: woken by the worker's notification on PostgreSQL,
polling on SQLite; either way it sees the answer the worker recorded."""

from __future__ import annotations

import threading
import time
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


def test_the_wait_ends_soon_after_the_worker_records_the_answer(
    runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    operation_id = running_operation(runtime.db)
    listener = waiting.listener_for(runtime.db.engine)
    if listener is not None:
        assert listener.ready.wait(10), "the listener did not connect"
    reads: list[str] = []
    ended = waiting._ended
    monkeypatch.setattr(waiting, "_ended", lambda rt, oid: reads.append(oid) or ended(rt, oid))
    outcome: list[tuple[bool, float]] = []

    def wait() -> None:
        ended_in_time = waiting.wait_for_end(runtime, operation_id, 5)
        outcome.append((ended_in_time, time.monotonic()))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)
    recorded_at = time.monotonic()
    record(runtime, operation_id, json_result({"value": []}))
    waiter.join(5)

    [(ended_in_time, returned_at)] = outcome
    assert ended_in_time
    with runtime.db.session() as session:
        row = session.get(Operation, operation_id)
        assert row is not None and row.status == OperationStatus.SUCCEEDED
        assert row.result_status == 200 and row.result_body == b'{"value":[]}'
    if listener is not None:
        # Woken by the notification, within the first look: the row was never polled.
        assert reads == []
        assert returned_at - recorded_at < waiting.NOTIFIED_LOOK_SECONDS / 2
    else:
        assert reads  # SQLite polls


def test_the_wait_gives_up_after_its_time(runtime: Any) -> None:
    operation_id = running_operation(runtime.db)
    listener = waiting.listener_for(runtime.db.engine)
    if listener is not None:
        assert listener.ready.wait(10)
    began = time.monotonic()
    assert waiting.wait_for_end(runtime, operation_id, 0.3) is False
    assert 0.3 <= time.monotonic() - began < 2
