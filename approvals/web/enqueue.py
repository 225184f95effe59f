"""Hand work to the broker after the transaction that made it necessary has committed.

Publishing happens on a background thread of the web process, so a request never waits for
the broker (on the embedded SQLite broker a publish costs as much as the whole request). A
publish that fails or never happens (the process died) is only delayed: the row is already
due in the database and the beat sweeper finds it (DESIGN 4).
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading

from celery import Celery
from flask import current_app

from worker.celery_app import DELIVER_CALLBACK

log = logging.getLogger(__name__)

# Callbacks go out before mail: a person who just confirmed should not wait behind the mail of
# thousands of new subscriptions still waiting to be published.
URGENT = frozenset({DELIVER_CALLBACK})
_pending: queue.PriorityQueue[tuple[int, int, Celery, str, tuple[str, ...]]] = queue.PriorityQueue()
_order = itertools.count()
_publisher_pid: int | None = None
_lock = threading.Lock()


def _publish_forever() -> None:
    while True:
        _, _, celery, name, args = _pending.get()
        try:
            celery.send_task(name, args=args, retry=False)
        except Exception:  # noqa: BLE001 - any broker failure is covered by the sweeper
            log.warning(
                "could not enqueue %s%r; the sweeper will pick it up",
                name,
                args,
                exc_info=True,
            )


def enqueue(task_name: str, *args: str) -> None:
    """Publish the task named ``task_name`` with ``args`` soon, without waiting for the broker."""
    global _publisher_pid
    if _publisher_pid != os.getpid():  # first use in this (possibly forked) process
        with _lock:
            if _publisher_pid != os.getpid():
                threading.Thread(target=_publish_forever, name="enqueue", daemon=True).start()
                _publisher_pid = os.getpid()
    priority = 0 if task_name in URGENT else 1
    _pending.put((priority, next(_order), current_app.extensions["celery"], task_name, args))
