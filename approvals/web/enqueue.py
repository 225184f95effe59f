"""The web's publisher: jobs go to the broker after their transaction commits, off the request.

:class:`BackgroundPublisher` is the web's :class:`approvals.store.jobs.Publisher`. Publishing
happens on a background thread of the web process, so a request never waits for
the broker (on the embedded SQLite broker a publish costs as much as the whole request). The
thread takes everything waiting at once and sends one message per task and batch of ids, so
under load a message carries many rows and the broker sees a fraction of the requests. A
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

from approvals.store.jobs import Job
from worker.celery_app import batch_size, batches

log = logging.getLogger(__name__)

# Callbacks and operations go out before mail (someone waits for each): a person who just
# confirmed should not wait behind the mail of
# thousands of new subscriptions still waiting to be published.
URGENT = frozenset({Job.DELIVER_CALLBACK, Job.RUN_OPERATION})
URGENT_PRIORITY = 0
# The most ids one pass of the publisher takes off the queue.
MAX_PASS = 500
# Mail waits this long for company before it is published: under load one message then
# carries many recipients, and the broker costs the web a fraction of a publish per request.
# An urgent job ends the wait: it goes at once, with whatever mail has gathered.
MAIL_LINGER_SECONDS = 0.05
_pending: queue.PriorityQueue[tuple[int, int, Celery, str, str]] = queue.PriorityQueue()
_urgent = threading.Event()  # set when an urgent job is queued
_order = itertools.count()
_publisher_pid: int | None = None
_lock = threading.Lock()


def _take_waiting() -> dict[tuple[Celery, str], list[str]]:
    """Block for one id, then take what else is waiting, grouped by task, urgent first."""
    groups: dict[tuple[Celery, str], list[str]] = {}
    # Cleared before the blocking get: an urgent job queued from here on either comes out of
    # the get (it sorts first) or sets the event and cuts the linger below short.
    _urgent.clear()
    item = _pending.get()
    if item[0] != URGENT_PRIORITY:
        _pending.put(item)
        _urgent.wait(MAIL_LINGER_SECONDS)
        item = _pending.get()
    for _ in range(MAX_PASS):
        _, _, celery, name, item_id = item
        groups.setdefault((celery, name), []).append(item_id)
        try:
            item = _pending.get_nowait()
        except queue.Empty:
            break
    else:
        _pending.put(item)
    return groups


def _publish_forever() -> None:
    while True:
        for (celery, name), ids in _take_waiting().items():
            try:
                # One producer (and broker connection) for the whole pass, not one per message.
                with celery.producer_or_acquire() as producer:
                    for batch in batches(ids, batch_size(name)):
                        celery.send_task(name, args=(batch,), retry=False, producer=producer)
            except Exception:  # noqa: BLE001 - any broker failure is covered by the sweeper
                log.warning(
                    "could not enqueue %s for %d rows; the sweeper will pick them up",
                    name,
                    len(ids),
                    exc_info=True,
                )


class BackgroundPublisher:
    """Publishes through ``celery`` from one thread per process, never blocking the caller."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def publish(self, job: Job, item_id: str) -> None:
        """Have ``job`` look at row ``item_id`` soon, without waiting."""
        global _publisher_pid
        if _publisher_pid != os.getpid():  # first use in this (possibly forked) process
            with _lock:
                if _publisher_pid != os.getpid():
                    threading.Thread(target=_publish_forever, name="enqueue", daemon=True).start()
                    _publisher_pid = os.getpid()
        urgent = job in URGENT
        priority = URGENT_PRIORITY if urgent else 1
        _pending.put((priority, next(_order), self.celery, str(job), item_id))
        if urgent:
            _urgent.set()
