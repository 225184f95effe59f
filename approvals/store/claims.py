"""The one rule for "owed now" rows: due and past their time, or held by a worker that vanished.

Workers claim such a row with a conditional UPDATE on this predicate (compare-and-set), so
two workers never act on one row, and a claim older than the timeout is taken over.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_


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
