"""How many of a worker's threads send mail at once.

While the mail server answers quickly, sending is CPU work (building the message, smtplib),
and more than a few threads doing it only fight over the interpreter lock: on the benchmark's
local SMTP sink, sixteen threads sending spent about 1.25 ms of CPU per mail and four 0.97 ms,
and the four sent more (about 860 mails/s against 760). While the server answers slowly,
threads mostly wait for it, and all of them may.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from worker.pace import moving_average

# Batches sending at once per worker process while the server answers quickly.
QUICK_SENDERS = 4
# A server answering a message faster than this (on average) is quick.
QUICK_SEND_SECONDS = 0.02


class SendGate:
    """Lets ``quick_senders`` batches through at once while sends are quick, all while slow."""

    def __init__(self, quick_senders: int = QUICK_SENDERS) -> None:
        self.quick_senders = quick_senders
        self._changed = threading.Condition()
        self._sending = 0
        self._average = 0.0  # seconds per message, a moving average

    @property
    def quick(self) -> bool:
        return self._average < QUICK_SEND_SECONDS

    def observe(self, seconds: float) -> None:
        """Note how long the server took to take one message."""
        with self._changed:
            was_quick = self.quick
            self._average = moving_average(self._average, seconds)
            if was_quick and not self.quick:
                self._changed.notify_all()  # slow now: everyone waiting may go

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold one of the places; while the server is quick, wait for one to be free."""
        with self._changed:
            self._changed.wait_for(lambda: not self.quick or self._sending < self.quick_senders)
            self._sending += 1
        try:
            yield
        finally:
            with self._changed:
                self._sending -= 1
                self._changed.notify()
