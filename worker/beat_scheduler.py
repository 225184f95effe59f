"""Beat's scheduler: Celery's persistent one, starting over with a fresh broker connection
after a send fails.

Celery keeps one producer for the life of beat. Once its channel is closed (a broker error
kombu could not recover from in place), every later send fails with "channel disconnected",
and nothing is swept again until beat is restarted. Dropping the producer and its connection
after a failed send makes the next tick connect again.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.beat import PersistentScheduler, SchedulingError
from kombu.common import ignore_errors

log = logging.getLogger(__name__)


class ReconnectingScheduler(PersistentScheduler):
    """A failed send costs one tick, not every tick after it."""

    def apply_async(self, entry: Any, producer: Any = None, advance: bool = True, **kwargs: Any):
        try:
            return super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        except SchedulingError:
            self.forget_connection()
            raise

    def forget_connection(self) -> None:
        """Drop the cached producer and broker connection; the next send makes new ones."""
        self.__dict__.pop("producer", None)
        connection = self.__dict__.pop("connection", None)
        if connection is not None:
            ignore_errors(connection, connection.release)
        log.warning("beat: a send failed; the next one uses a new broker connection")
