"""The sweeper's queries, timed, and their plans (does a sweep scan every row?).

The queries are the product's own (``DELIVERIES.take_for_enqueue``, ``MAIL.take_for_enqueue``,
``expire_due``): their SQL is captured as they run and then EXPLAINed, so the plans shown are
of exactly what the beat sweeper sends. all run in transactions that are rolled back.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, func, select

from approvals.policies.expiry import expire_due
from approvals.runtime import Runtime
from approvals.store.claims import DELIVERIES, MAIL
from approvals.store.models import Delivery, Recipient, Subscription, utcnow
from bench.stats import median
from worker.tasks import SWEEP_BATCH

REPEAT = 7


def _timed(call: Any) -> float:
    times = []
    for _ in range(REPEAT):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return median(times)


def measure(bench: Any) -> dict[str, Any]:
    settings = bench.settings
    runtime = Runtime.from_settings(settings)
    db = runtime.db

    def rolled_back(take: Any) -> None:
        with db.engine.connect() as conn:
            take(conn, now=utcnow(), claim_timeout=settings.claim_timeout, limit=SWEEP_BATCH)
            conn.rollback()

    def deliveries() -> None:
        rolled_back(DELIVERIES.take_for_enqueue)

    def recipients() -> None:
        rolled_back(MAIL.take_for_enqueue)

    def expiry() -> None:
        session = db.sessions()
        try:
            expire_due(session)
        finally:
            session.rollback()
            session.close()

    with db.session() as session:
        rows = {
            "subscriptions": session.scalar(select(func.count()).select_from(Subscription)),
            "recipients": session.scalar(select(func.count()).select_from(Recipient)),
            "deliveries": session.scalar(select(func.count()).select_from(Delivery)),
        }
    result: dict[str, Any] = {"rows": rows, "ms": {}, "plans": {}}
    try:
        for name, call in (
            ("deliveries", deliveries),
            ("recipients", recipients),
            ("expiry", expiry),
        ):
            result["ms"][name] = _timed(call)
            result["plans"][name] = _plan(db, call)
    finally:
        db.dispose()  # no connection left open on a database that is dropped at the end
    return result


def _plan(db: Any, call: Any) -> list[str]:
    """EXPLAIN the statements ``call`` sends (SELECT/UPDATE only)."""
    captured: list[tuple[str, Any]] = []

    def hook(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
            captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", hook)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", hook)
    sqlite = db.engine.dialect.name == "sqlite"
    lines: list[str] = []
    with db.engine.connect() as connection:
        for statement, parameters in captured:
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            plan = connection.exec_driver_sql(prefix + statement, parameters).all()
            text = [str(row[-1]) for row in plan]
            lines.append(" / ".join(t.strip() for t in text))
        connection.rollback()
    return lines
