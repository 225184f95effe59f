"""The threads that call webhook receivers, apart from the worker's task threads.

Sending is done here so that a slow receiver holds a few of these threads and its own queue,
never a task thread or anyone else's turn.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from worker.pace import moving_average

log = logging.getLogger(__name__)

# Threads that call receivers, per worker process. Few: threads that are runnable at once fight
# over the interpreter lock, which costs more CPU than the requests themselves.
RECEIVER_THREADS = 8
# Shares (one receiver's part of a batch) queued or running per process before tasks wait.
MAX_SHARES = 256
# A receiver answering faster than this (on average) gets one thread at a time: more would
# only fight over the interpreter lock. A slower one gets up to its limit.
QUICK_ANSWER_SECONDS = 0.05
MAX_TRACKED_HOSTS = 10_000

T = TypeVar("T")


@dataclass(frozen=True)
class Share(Generic[T]):
    """One receiver's part of a batch: sent one request after another over a kept connection."""

    host: str
    limit: int  # shares of this receiver that may run at once
    work: Callable[[], T]
    then: Callable[[T], None]  # given what ``work`` returned
    abandon: Callable[[], None]  # give back what it has not sent, when the worker stops


class Receivers:
    """The threads that call receivers, with a queue per receiver.

    A task claims a batch, queues each receiver's share here and returns. A thread takes the
    next share of a receiver that has fewer than its limit running (receivers in turn), so a
    slow receiver holds at most its limit of threads and its other shares wait in its own
    queue, holding none: callbacks to everyone else keep flowing. A quick receiver's limit is
    one (see ``QUICK_ANSWER_SECONDS``). Queuing waits once ``max_shares`` are queued or
    running, so a worker never claims far more than it sends.
    """

    def __init__(self, threads: int, max_shares: int) -> None:
        self._changed = threading.Condition()
        self._waiting: dict[str, deque[Share[Any]]] = {}
        self._running: dict[str, int] = {}
        self._answer_seconds: dict[str, float] = {}  # moving average per receiver
        self._room = threading.BoundedSemaphore(max_shares)
        self._active: dict[int, Share[Any]] = {}  # the shares running now, by id
        self._stopping = threading.Event()
        for number in range(threads):
            threading.Thread(target=self._serve, name=f"receivers-{number}", daemon=True).start()

    def submit(self, share: Share[Any]) -> None:
        if self.stopping:
            share.abandon()
            return
        self._room.acquire()
        with self._changed:
            self._waiting.setdefault(share.host, deque()).append(share)
            self._changed.notify()

    def observe(self, host: str, seconds: float) -> None:
        """Note how long ``host`` took to answer."""
        average = self._answer_seconds.get(host)
        if average is None and len(self._answer_seconds) >= MAX_TRACKED_HOSTS:
            self._answer_seconds.clear()
        self._answer_seconds[host] = moving_average(average, seconds)

    def _limit(self, share: Share[Any]) -> int:
        quick = self._answer_seconds.get(share.host, 0.0) < QUICK_ANSWER_SECONDS
        return 1 if quick else share.limit

    @property
    def stopping(self) -> bool:
        """The worker is stopping: a running share sends nothing more and gives the rest back."""
        return self._stopping.is_set()

    def close(self, timeout: float) -> None:
        """Stop: give back every queued share at once, let each running one finish the request
        it is making (it gives back the rest) for up to ``timeout``, then give back what is
        still running. What was given back is due again, for this worker's successor."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        with self._changed:
            left = [share for queue in self._waiting.values() for share in queue]
            self._waiting.clear()
        for share in left:
            share.abandon()
        with self._changed:
            self._changed.wait_for(lambda: not self._running, max(0.0, deadline - time.monotonic()))
            running = list(self._active.values())
        for share in running:
            share.abandon()

    def _next(self) -> Share[Any]:
        """The next share that may run; called holding the condition."""
        while True:
            for host, queue in self._waiting.items():
                if self._running.get(host, 0) < self._limit(queue[0]):
                    share = queue.popleft()
                    del self._waiting[host]
                    if queue:  # to the back of the line: receivers take turns
                        self._waiting[host] = queue
                    self._running[host] = self._running.get(host, 0) + 1
                    self._active[id(share)] = share
                    return share
            self._changed.wait()

    def _serve(self) -> None:
        while True:
            with self._changed:
                share = self._next()
            outcomes: Any = None
            try:
                outcomes = share.work()
            except Exception:  # noqa: BLE001 - its claims lapse and the sweeper tries again
                log.exception("calling receiver %s failed", share.host)
            finally:
                with self._changed:
                    del self._active[id(share)]
                    self._running[share.host] -= 1
                    if not self._running[share.host]:
                        del self._running[share.host]
                    self._changed.notify_all()
                self._room.release()
            if outcomes is not None:
                try:
                    share.then(outcomes)
                except Exception:  # noqa: BLE001 - the rows stay due; the sweeper enqueues them
                    log.exception("could not schedule what receiver %s left", share.host)


_receivers: Receivers | None = None
_receivers_lock = threading.Lock()
CLOSE_TIMEOUT_SECONDS = 10.0


def receivers() -> Receivers:
    """This process's receiver threads, started on first use and drained at exit."""
    global _receivers
    with _receivers_lock:
        if _receivers is None:
            _receivers = Receivers(RECEIVER_THREADS, MAX_SHARES)
            atexit.register(_receivers.close, CLOSE_TIMEOUT_SECONDS)
        return _receivers
