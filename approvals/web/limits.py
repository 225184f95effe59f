"""Rate limits: per client on the API, per remote address on the pages and for failed keys.

The API is limited after authentication, per client: a made-up key gets no budget of its own.
Requests without a valid key count against their remote address
(``APPROVALS_AUTH_FAILURE_RATE_LIMIT``), and an address over that budget gets 429 before its
key is even looked up.

Fixed windows (``limits`` parses the rates). Each web process counts in memory and, with Redis
configured, adds its counts to the shared ones every ``SYNC_SECONDS`` on a thread of its own,
learning the totals of every process in return: a request never waits for Redis, and all web
processes together let through at most what one process admits in that interval beyond the
limit. While Redis is down the counting goes on in memory alone, so an outage of the counters
never takes the API down. Over the limit, the answer is 429 with ``Retry-After``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

import redis
from flask import Flask, current_app, request
from limits import RateLimitItem, parse

from approvals.config import Settings
from approvals.errors import TooManyRequests

log = logging.getLogger(__name__)

# How often a process adds its counts to the shared ones and reads the totals back.
SYNC_SECONDS = 0.1
# A window hit within this long keeps learning the other processes' counts.
REFRESH_SECONDS = 5.0
KEY_PREFIX = "approvals:limits:"


def remote_address() -> str:
    return request.remote_addr or "unknown"


@dataclass
class _Window:
    ends: float  # wall-clock time (shared by every process) when the window closes
    key: str
    shared: int = 0  # every process's hits, as Redis last said (this process's included)
    sending: int = 0  # this process's hits on their way to Redis
    unsent: int = 0  # this process's hits not yet sent
    last_hit: float = 0.0

    @property
    def count(self) -> int:
        return self.shared + self.sending + self.unsent


class RateLimits:
    """Fixed-window counters, kept here and, given a Redis URL, shared through Redis."""

    def __init__(self, storage_url: str, sync_seconds: float = SYNC_SECONDS) -> None:
        shared = storage_url.startswith(("redis://", "rediss://"))
        if not shared and not storage_url.startswith("memory://"):
            raise ValueError(
                f"APPROVALS_RATE_LIMIT_STORAGE_URL must be redis://, rediss:// or memory://, "
                f"not {storage_url!r}"
            )
        self._redis = redis.Redis.from_url(storage_url, socket_timeout=1) if shared else None
        self._sync_seconds = sync_seconds
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._syncing_pid: int | None = None
        self._failing = False

    def hit(self, item: RateLimitItem, identity: str) -> bool:
        """Count one request; False when it is over the limit (and then it is not counted)."""
        seconds = item.get_expiry()
        now = time.time()
        start = now - now % seconds
        key = f"{KEY_PREFIX}{item.key_for(identity)}:{int(start)}"
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                self._forget_closed(now)
                window = self._windows[key] = _Window(ends=start + seconds, key=key)
            if window.count >= item.amount:
                return False
            window.unsent += 1
            window.last_hit = now
        if self._redis is not None and self._syncing_pid != os.getpid():
            self._start_syncing()
        return True

    def exhausted(self, item: RateLimitItem, identity: str) -> bool:
        """True when ``identity`` has no request left in this window (nothing is counted)."""
        now = time.time()
        start = now - now % item.get_expiry()
        window = self._windows.get(f"{KEY_PREFIX}{item.key_for(identity)}:{int(start)}")
        return window is not None and window.count >= item.amount

    def _forget_closed(self, now: float) -> None:
        closed = [k for k, w in self._windows.items() if w.ends <= now and not w.unsent]
        for key in closed:
            del self._windows[key]

    def _start_syncing(self) -> None:
        with self._lock:
            if self._syncing_pid == os.getpid():
                return
            self._syncing_pid = os.getpid()  # set per process: a forked child starts its own
        threading.Thread(target=self._sync_forever, name="rate-limits", daemon=True).start()

    def _sync_forever(self) -> None:
        while True:
            time.sleep(self._sync_seconds)
            self.sync()

    def sync(self) -> None:
        """Add this process's new hits to Redis and take the totals back."""
        assert self._redis is not None
        with self._lock:
            now = time.time()
            # Windows with new hits, and those in use lately (to learn the other processes').
            sending = [
                (w, w.unsent)
                for w in self._windows.values()
                if w.unsent or (w.ends > now and now - w.last_hit < REFRESH_SECONDS)
            ]
            for window, count in sending:
                window.unsent -= count
                window.sending += count
        if not sending:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for window, count in sending:
                pipe.incrby(window.key, count)
                pipe.expireat(window.key, int(window.ends) + 1)
            replies = pipe.execute()
        except redis.RedisError as exc:
            with self._lock:
                for window, count in sending:
                    window.sending -= count
                    window.unsent += count  # counted here meanwhile; sent once Redis is back
            if not self._failing:
                log.warning("rate-limit storage unreachable, counting in memory: %s", exc)
                self._failing = True
            return
        if self._failing:
            log.info("rate-limit storage reachable again")
            self._failing = False
        with self._lock:
            for (window, count), total in zip(sending, replies[::2], strict=True):
                window.sending -= count
                window.shared = int(total)


def too_many(item: RateLimitItem) -> TooManyRequests:
    return TooManyRequests(
        f"more than {item} requests; try again later",
        retry_after=max(1, int(item.get_expiry())),
    )


class Limits:
    """The service's three budgets over one set of counters."""

    def __init__(self, settings: Settings) -> None:
        self.counters = RateLimits(settings.rate_limit_storage_url)
        self.per_client = parse(settings.api_rate_limit)
        self.per_page_address = parse(settings.page_rate_limit)
        self.failed_keys_per_address = parse(settings.auth_failure_rate_limit)

    def count_client(self, client_id: str) -> None:
        """One authenticated API call; 429 over the client's budget."""
        if not self.counters.hit(self.per_client, f"api:client:{client_id}"):
            raise too_many(self.per_client)

    def refuse_spent_address(self) -> None:
        """429 at once for an address that used up its failed-key budget: no key lookup."""
        identity = f"auth:addr:{remote_address()}"
        if self.counters.exhausted(self.failed_keys_per_address, identity):
            raise too_many(self.failed_keys_per_address)

    def count_failed_key(self) -> None:
        """One request without a valid key; 429 instead of 401 once the address is over."""
        identity = f"auth:addr:{remote_address()}"
        if not self.counters.hit(self.failed_keys_per_address, identity):
            raise too_many(self.failed_keys_per_address)

    def count_page(self) -> None:
        if not self.counters.hit(self.per_page_address, f"pages:{remote_address()}"):
            raise too_many(self.per_page_address)


EXTENSION = "approvals.limits"


def init_limits(app: Flask, settings: Settings, pages: str) -> Limits:
    """Keep the app's :class:`Limits`; the ``pages`` blueprint is limited per address here,
    the API by :func:`approvals.web.auth.require_client`."""
    limits = app.extensions[EXTENSION] = Limits(settings)

    @app.before_request
    def check_page_rate_limit() -> None:
        if request.blueprint == pages:
            limits.count_page()

    return limits


def current_limits() -> Limits:
    return current_app.extensions[EXTENSION]
