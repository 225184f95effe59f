"""The rules for owed rows: which are owed now, and which the sweeper must enqueue again.

Workers claim an owed row with a conditional UPDATE on :func:`owed_now` (compare-and-set), so
two workers never act on one row, and a claim older than the timeout is taken over.

Every owed row also says when a broker message for it is expected (``enqueued_at``; NULL when
none was sent). The sweeper enqueues only rows whose message is missing or overdue by the claim
timeout, so a backlog in the broker is never multiplied by the sweeper's own copies.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select, update

# Retries sooner than this ride on a broker countdown; later ones wait for the sweeper.
MAX_COUNTDOWN_SECONDS = 120.0


def owed_now(
    status: Any,
    due_at: Any,
    claimed_at: Any,
    *,
    working: str,
    now: datetime,
    claim_timeout: float,
) -> ColumnElement[bool]:
    return or_(
        and_(status == "due", due_at <= now),
        and_(status == working, claimed_at < now - timedelta(seconds=claim_timeout)),
    )


def expected_message_at(next_at: datetime, delay: float | None) -> datetime | None:
    """When the broker should deliver the retry's message: only if a countdown is used."""
    return next_at if delay is not None and delay <= MAX_COUNTDOWN_SECONDS else None


def take_for_enqueue(
    conn: Connection,
    table: Any,
    owed: ColumnElement[bool],
    enqueued_at: Any,
    due_at: Any,
    *,
    now: datetime,
    requeue_after: float,
    limit: int,
) -> list[str]:
    """Ids of owed rows whose message is missing or overdue, marked as enqueued now."""
    overdue = or_(enqueued_at.is_(None), enqueued_at < now - timedelta(seconds=requeue_after))
    ids = list(conn.scalars(select(table.id).where(owed, overdue).order_by(due_at).limit(limit)))
    if ids:
        conn.execute(update(table).where(table.id.in_(ids)).values({enqueued_at: now}))
    return ids


def give_back(
    conn: Connection,
    table: Any,
    ids: list[str],
    *,
    status: Any,
    working: str,
    claimed_at: Any,
    attempts: Any,
    due_at: Any,
    enqueued_at: Any,
    due: datetime,
    message_expected: bool,
) -> None:
    """Undo this worker's claims on ``ids`` without counting an attempt: owed again at ``due``.

    ``message_expected``: the caller enqueues them again (for ``due``); otherwise the sweeper
    will, as for a message that went missing.
    """
    conn.execute(
        update(table)
        .where(table.id.in_(ids), status == working)
        .values(
            {
                status: "due",
                claimed_at: None,
                attempts: attempts - 1,
                due_at: due,
                enqueued_at: due if message_expected else None,
            }
        )
    )
