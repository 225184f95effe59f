"""One database session per API request, shared by authentication and the route.

The key lookup and the route's work then ride on one connection checkout and one
transaction: fewer round trips than a session for each.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import g
from sqlalchemy.orm import Session

from approvals.store.db import committing
from approvals.web.runtime import current_runtime


def request_session() -> Session:
    session = g.get("db_session")
    if session is None:
        session = g.db_session = current_runtime().db.sessions()
    return session


@contextmanager
def request_transaction() -> Iterator[Session]:
    """The request's session; commits on success, rolls back on any error."""
    with committing(request_session()) as session:
        yield session


def close_request_session(_error: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
