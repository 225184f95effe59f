"""Start a connector operation, find it again, and turn its row into an HTTP answer.

A route validates its parameters, picks the mailbox (:mod:`approvals.mailboxes`) and calls
:func:`start`: one row, published to the ``graph`` queue when the request's session commits. The
route then waits a little (:mod:`approvals.operations.waiting`); an operation still running
is answered 202 with ``Location: /operations/{id}`` (the asynchronous pattern Logic Apps
follows). The answer a worker recorded is kept for ``APPROVALS_OPERATION_RESULT_TTL``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from approvals.errors import NotFound, Unprocessable
from approvals.store.jobs import Job, after_commit
from approvals.store.models import Operation, new_id, utcnow
from approvals.store.status import OperationStatus

# How soon a caller polling /operations/{id} should come back.
POLL_AGAIN_SECONDS = 1
FINISHED = (OperationStatus.SUCCEEDED, OperationStatus.FAILED)


@dataclass(frozen=True)
class Answer:
    """What the caller gets: status, body bytes, headers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Started:
    """The operation a request started (or found again by its Idempotency-Key)."""

    id: str
    status: str

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def start(
    session: Session,
    *,
    client_id: str,
    name: str,
    mailbox: str,
    params: dict[str, Any],
    repeatable: bool,
    keep: timedelta,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
) -> Started:
    """A new operation, run once the transaction commits; with an ``idempotency_key`` seen
    before, the operation that key started (the same request only, else 422)."""
    if idempotency_key is not None:
        earlier = _by_key(session, client_id, idempotency_key)
        if earlier is not None:
            return _same_request(earlier, fingerprint)
    now = utcnow()
    row = {
        "id": new_id(),
        "client_id": client_id,
        "name": name,
        "mailbox": mailbox,
        "params": params,
        "repeatable": repeatable,
        "status": OperationStatus.DUE,
        "attempts": 0,
        "due_at": now,
        "enqueued_at": now,
        "created_at": now,
        "expires_at": now + keep,
        "idempotency_key": idempotency_key,
        "request_hash": fingerprint,
    }
    # A Core INSERT: the ORM's unit of work cost the web more than the statement itself.
    if idempotency_key is None:
        # Nothing to collide on: the INSERT commits on its own, one round trip (no BEGIN, no
        # COMMIT); the job is published when the request's session commits, as below.
        engine = session.get_bind().execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(_INSERT, row)
    else:
        try:
            with session.begin_nested():
                session.connection().execute(_INSERT, row)
        except IntegrityError:  # the same key, at the same moment, from another request
            earlier = _by_key(session, client_id, idempotency_key)
            if earlier is None:
                raise
            return _same_request(earlier, fingerprint)
    after_commit(session, Job.RUN_OPERATION, row["id"])
    return Started(row["id"], OperationStatus.DUE)


_INSERT = insert(Operation.__table__)


def release_key(session: Session, client_id: str, key: str) -> None:
    """A failed or expired operation stops answering for ``key``: the request, repeated,
    runs again (a polled trigger's engine repeats a failed poll and must not get its failure
    forever, nor a 404 for a result past its time)."""
    session.execute(
        update(Operation)
        .where(
            Operation.client_id == client_id,
            Operation.idempotency_key == key,
            or_(Operation.status == OperationStatus.FAILED, Operation.expires_at <= utcnow()),
        )
        .values(idempotency_key=None)
    )


def _by_key(session: Session, client_id: str, key: str) -> Operation | None:
    return session.scalar(
        select(Operation).where(Operation.client_id == client_id, Operation.idempotency_key == key)
    )


def _same_request(earlier: Operation, fingerprint: str | None) -> Started:
    if earlier.request_hash != fingerprint:
        raise Unprocessable(
            "this Idempotency-Key was used with another request",
            code="idempotency_key_reused",
            field="Idempotency-Key",
        )
    return Started(earlier.id, earlier.status)


def find(session: Session, client_id: str, operation_id: str) -> Operation:
    """The client's operation; another client's, an unknown or an expired one is 404."""
    # populate_existing: the worker changed the row since this session last saw it.
    operation = session.get(Operation, operation_id, populate_existing=True)
    if operation is None or operation.client_id != client_id or operation.expires_at <= utcnow():
        raise NotFound("no such operation (results are kept for a limited time)", field="id")
    return operation


class Recorded(Protocol):
    """What an answer is made of: an :class:`Operation`, or a row of these columns."""

    id: str
    status: str
    result_status: int | None
    result_type: str | None
    result_body: bytes | None


def answer(operation: Recorded, base_url: str) -> Answer:
    """202 with where to look while it runs; then the answer the worker recorded."""
    if operation.status not in FINISHED:
        return Answer(
            202,
            json.dumps({"id": operation.id, "status": operation.status}).encode(),
            {
                "Location": f"{base_url}/operations/{operation.id}",
                "Retry-After": str(POLL_AGAIN_SECONDS),
                "Content-Type": "application/json",
            },
        )
    headers = {"Content-Type": operation.result_type or "application/json"}
    status = operation.result_status or 500
    if status in (429, 503):
        headers["Retry-After"] = str(_retry_after(operation.result_body))
    return Answer(status, operation.result_body or b"", headers)


def _retry_after(body: bytes | None) -> int:
    try:
        return max(1, int(json.loads(body or b"{}")["error"].get("retryAfter") or 1))
    except (ValueError, KeyError, TypeError, AttributeError):
        return POLL_AGAIN_SECONDS
