"""One deadline for a whole callback, however its receiver answers.

httpcore's timeouts apply to each read and write, so a receiver that trickles its answer a
byte at a time never trips them. Inside :func:`within`, every socket operation of the
connections that :class:`DeadlineStream` wraps gets at most the time left, and none starts
once it is spent (``httpcore.ReadTimeout``, which the caller records as a timeout).
"""

from __future__ import annotations

import math
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore

_deadline: ContextVar[float | None] = ContextVar("callback_deadline", default=None)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Bound every socket operation in this block (this thread) to ``seconds`` in all."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def time_left(timeout: float | None) -> float | None:
    """``timeout``, shortened to what is left of the deadline; raise once nothing is."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the whole request took longer than its timeout")
    return min(timeout if timeout is not None else math.inf, left)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the current deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, time_left(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return DeadlineStream(
            self.inner.start_tls(ssl_context, server_hostname, time_left(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)
