"""kombu's Redis transport, with one publishing client per channel instead of one per message.

kombu builds a new redis-py client (with its table of response callbacks) for every message
it publishes, every task event and every ack. Under a steady load of connector operations
that was 7 % of the worker's interpreter time and 6 % of the web's (py-spy, issue 12).
redis-py's client is thread-safe over its connection pool, so one per channel serves them all;
it is made again whenever kombu replaces the pool (after a fork or a reconnection).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    _publishing_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        pool = self.pool
        cached = self._publishing_client
        if cached is None or cached.connection_pool is not pool:
            cached = self._publishing_client = self._create_client()
        yield cached


class Transport(redis.Transport):
    Channel = Channel
