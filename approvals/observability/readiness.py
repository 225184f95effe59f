"""``/readyz``: can this process do its work now? The database answers, its schema is the
code's (migrations applied), and the broker accepts a connection.

Each check has a short timeout of its own, so a load balancer or compose health check never
waits long for an answer, and each failure names what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text

from approvals.store.db import Database
from approvals.store.migrate import pending_migrations


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


def check_database(db: Database) -> list[Check]:
    """The database answers a query, and its schema is at the code's migration head."""
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current, heads = pending_migrations(conn)
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is "not ready"
        detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return [Check("database", False, detail), Check("migrations", False, "database down")]
    migrations = Check("migrations", True)
    if current != heads:
        have = ", ".join(sorted(current)) or "none"
        migrations = Check(
            "migrations",
            False,
            f"database at {have}, code at {', '.join(sorted(heads))}: run 'approvals db upgrade'",
        )
    return [Check("database", True), migrations]


def check_broker(connect: Callable[[], None]) -> Check:
    """``connect`` (the broker's own client, which the core does not import) succeeds."""
    try:
        connect()
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is "not ready"
        return Check("broker", False, f"{type(exc).__name__}: {exc}")
    return Check("broker", True)
