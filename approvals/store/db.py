"""The engine and sessions, with the SQLite settings that let web, worker and beat share a file."""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from approvals.store.jobs import Publisher, forget_jobs, take_jobs

# Web, worker and beat write at once; SQLite waits this long for a lock instead of failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _tune_sqlite(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, *, durable_commits: bool = True) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout, PostgreSQL a pool that
    replaces connections the server closed.

    ``durable_commits=False`` (the worker) lets PostgreSQL acknowledge a commit before it is
    flushed to disk. Nothing the worker writes is lost for good by that: after a database
    crash a claim is retaken and a mail or callback whose "done" mark vanished is sent again,
    which at-least-once delivery allows (same ``webhook-id``). Responses, written by the web
    process, stay fully durable.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    connect_args = {} if durable_commits else {"options": "-c synchronous_commit=off"}
    engine = create_engine(url, pool_size=10, max_overflow=10, connect_args=connect_args)
    event.listen(engine, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection, _record, _proxy) -> None:  # type: ignore[no-untyped-def]
    """Make the pool replace a connection the server has closed, without a round trip.

    An idle pooled connection has nothing to read unless the server ended it (a restart, a
    terminated backend: its goodbye, then end of file). ``pool_pre_ping``'s ``SELECT 1`` would
    find the same at the cost of a round trip on every checkout.
    """
    if dbapi_connection.closed:
        raise DisconnectionError("connection closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        raise DisconnectionError("the server closed this connection")


@contextmanager
def committing(session: Session) -> Iterator[Session]:
    """Commit ``session`` when the block succeeds, roll it back when anything escapes."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _forget(session: Session, _previous: object) -> None:
    forget_jobs(session)  # every rollback() call, even one with no transaction to undo


class Database:
    """One engine and its session factory, shared by everything in a process.

    Its sessions publish the jobs they owe (:func:`approvals.store.jobs.after_commit`) through
    ``publisher`` when they commit; the web and the worker each set theirs.
    """

    def __init__(self, url: str, *, durable_commits: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url, durable_commits=durable_commits)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.publisher: Publisher | None = None
        event.listen(self.sessions, "after_commit", self._publish)
        event.listen(self.sessions, "after_soft_rollback", _forget)

    def _publish(self, session: Session) -> None:
        jobs = take_jobs(session)
        if self.publisher is not None:
            for job, item_id in jobs:
                self.publisher.publish(job, item_id)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        session = self.sessions()
        try:
            with committing(session):
                yield session
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


_databases: dict[tuple[str, bool], Database] = {}


def database_for(url: str, *, durable_commits: bool = True) -> Database:
    """The process-wide :class:`Database` for ``url`` (created on first use)."""
    key = (url, durable_commits)
    db = _databases.get(key)
    if db is None:
        db = _databases[key] = Database(url, durable_commits=durable_commits)
    return db
