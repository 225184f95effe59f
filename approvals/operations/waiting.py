"""Wait, a little, for an operation to end: the route answers its result if it comes in time.

The worker records the result in the operation's row; the waiting route looks at the row.
On PostgreSQL the worker also sends ``NOTIFY approvals_operation_done, '<id>'`` in the
statement that records it, and one thread per web process LISTENs and wakes the request
waiting for that id: the answer goes out about a millisecond after the worker's commit, and a
waiting request reads nothing until then (polling read the row five to ten times per
operation, the web's largest cost per call under load). Without a notification the route
still reads the row every 0.5 s, every 50 ms while the listener reconnects (notifications
sent meanwhile are lost).

Without notifications (SQLite, or the listener not connected yet) it polls: first often, then
less (2 ms doubling to 50 ms), so a quick operation is answered within a few milliseconds of
its end and a slow one costs a read every 50 ms until the wait is over.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from sqlalchemy import Engine, Executable, Row, Update, bindparam, func, select

from approvals.runtime import Runtime
from approvals.store.models import Operation
from approvals.store.status import OperationStatus

FIRST_LOOK_SECONDS = 0.002
MAX_LOOK_SECONDS = 0.05
# With the listener connected the row is read again only this often without a notification.
NOTIFIED_LOOK_SECONDS = 0.5
# The worker notifies this channel with the operation's id when it records an answer.
CHANNEL = "approvals_operation_done"
RECONNECT_SECONDS = 1.0
# Failed reconnections wait twice as long each time, up to this.
MAX_RECONNECT_SECONDS = 30.0
_FINISHED = (OperationStatus.SUCCEEDED, OperationStatus.FAILED)

log = logging.getLogger(__name__)


class Listener:
    """One connection per web process LISTENing on :data:`CHANNEL`; wakes the waiting ids."""

    def __init__(self, engine: Engine) -> None:
        self.conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self.ready = threading.Event()
        self.generation = 0  # connections made so far: a notification may be lost between two
        self._waiting: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._listen_forever, name="operations-listen", daemon=True).start()

    def watch(self, operation_id: str) -> threading.Event:
        """An event set when ``operation_id`` is notified; :meth:`forget` it afterwards."""
        event = threading.Event()
        with self._lock:
            self._waiting[operation_id] = event
        return event

    def forget(self, operation_id: str) -> None:
        with self._lock:
            self._waiting.pop(operation_id, None)

    def _listen_forever(self) -> None:
        import psycopg

        failures = 0  # in a row: the first is worth a traceback, the rest only a longer wait
        while True:
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.generation += 1
                    failures = 0
                    self.ready.set()
                    for notify in conn.notifies():
                        with self._lock:
                            event = self._waiting.get(notify.payload)
                        if event is not None:
                            event.set()
            except Exception as exc:  # noqa: BLE001 - the waiting requests poll meanwhile
                failures += 1
                if failures == 1:
                    log.warning("operations listener lost its connection", exc_info=True)
                else:
                    log.debug("operations listener still cannot connect: %s", exc)
            self.ready.clear()
            time.sleep(min(RECONNECT_SECONDS * 2 ** (failures - 1), MAX_RECONNECT_SECONDS))


_listeners: dict[tuple[int, str], Listener] = {}
_listeners_lock = threading.Lock()


def listener_for(engine: Engine) -> Listener | None:
    """This process's listener for the engine's database (started on first use; a forked
    process starts its own); None on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    key = (os.getpid(), str(engine.url))
    listener = _listeners.get(key)
    if listener is None:
        with _listeners_lock:
            listener = _listeners.get(key)
            if listener is None:
                listener = _listeners[key] = Listener(engine)
    return listener


class EndWatch:
    """The route's wait for one operation, set up before the transaction that inserts it
    commits: the worker may answer within milliseconds of that commit, and a notification
    sent before anyone listens would leave the route sleeping until its next look."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.listener = listener_for(runtime.db.engine)
        self.operation_id: str | None = None
        self.woken: threading.Event | None = None
        self.generation = 0

    def expect(self, operation_id: str) -> None:
        self.operation_id = operation_id
        if self.listener is not None and self.listener.ready.is_set():
            self.generation = self.listener.generation
            self.woken = self.listener.watch(operation_id)

    def wait(self, seconds: float) -> Row[Any] | None:
        """The operation's recorded answer once it has ended; None when ``seconds`` passed
        first. The answer comes from the one read that found the operation ended."""
        assert self.operation_id is not None, "expect() the operation first"
        deadline = time.monotonic() + seconds
        if self.woken is not None:
            return self._wait_notified(deadline)
        return self._poll(deadline)

    def __enter__(self) -> EndWatch:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.woken is not None and self.listener is not None and self.operation_id:
            self.listener.forget(self.operation_id)

    def _wait_notified(self, deadline: float) -> Row[Any] | None:
        """Sleep until the worker's notification; read the row now and then without one."""
        assert self.listener is not None and self.woken is not None
        generation = self.generation
        while True:
            left = deadline - time.monotonic()
            if self.listener.ready.is_set() and self.listener.generation == generation:
                look = NOTIFIED_LOOK_SECONDS
            else:  # reconnecting, or reconnected since: notifications may have been missed
                look, generation = MAX_LOOK_SECONDS, self.listener.generation
            # The worker notifies after its commit: the row holds the answer by then.
            self.woken.wait(max(0.0, min(look, left)))
            ended = self._ended()
            if ended is not None or left <= 0:
                return ended

    def _poll(self, deadline: float) -> Row[Any] | None:
        pause = FIRST_LOOK_SECONDS
        while True:
            ended = self._ended()
            left = deadline - time.monotonic()
            if ended is not None or left <= 0:
                return ended
            time.sleep(min(pause, left))
            pause = min(pause * 2, MAX_LOOK_SECONDS)

    def _ended(self) -> Row[Any] | None:
        # Autocommit: the SELECT alone, without a BEGIN and a ROLLBACK round trip around it.
        engine = self.runtime.db.engine.execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            row = conn.execute(_RECORDED_ANSWER, {"operation_id": self.operation_id}).first()
        return row if row is not None and row.status in _FINISHED else None


# Built once: what service.answer needs of an ended operation.
_RECORDED_ANSWER = select(
    Operation.id,
    Operation.status,
    Operation.result_status,
    Operation.result_type,
    Operation.result_body,
).where(Operation.id == bindparam("operation_id"))


def notifying(statement: Update, operation_id: Any) -> Executable:
    """``statement`` (the worker's recording UPDATE) and ``pg_notify`` as one PostgreSQL
    statement: autocommitted, the notification goes out with the commit, one round trip.
    ``operation_id`` is the id or a bind parameter."""
    return select(func.pg_notify(CHANNEL, operation_id)).add_cte(statement.cte("recorded"))
