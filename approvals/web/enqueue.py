"""Hand work to the broker after the transaction that made it necessary has committed.

A failed enqueue is only logged: the row is already due in the database and the beat sweeper
will find it, so the client still gets its answer (DESIGN 4).
"""

from __future__ import annotations

import logging

from celery import Task

log = logging.getLogger(__name__)


def enqueue(task: Task, *args: str) -> None:
    try:
        task.apply_async(args=args, retry=False)
    except Exception:  # noqa: BLE001 - any broker failure is covered by the sweeper
        log.warning(
            "could not enqueue %s%r; the sweeper will pick it up", task.name, args, exc_info=True
        )
