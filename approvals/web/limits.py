"""Rate limits: per API key on the API, per remote address on the recipient pages.

Fixed windows (``limits`` parses the rates). Each web process counts in memory and, with Redis
configured, adds its counts to the shared ones every ``SYNC_SECONDS`` on a thread of its own,
learning the totals of every process in return: a request never waits for Redis, and all web
processes together let through at most what one process admits in that interval beyond the
limit. While Redis is down the counting goes on in memory alone, so an outage of the counters
never takes the API down. Over the limit, the answer is 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import Flask, request
from limits import RateLimitItem, parse
from werkzeug.exceptions import TooManyRequests

from approvals.config import Settings

log = logging.getLogger(__name__)

# How often a process adds its counts to the shared ones and reads the totals back.
SYNC_SECONDS = 0.1
# A window hit within this long keeps learning the other processes' counts.
REFRESH_SECONDS = 5.0
KEY_PREFIX = "approvals:limits:"


def api_key_identity() -> str:
    """The caller's bearer key (hashed, never kept in clear), or its address without one."""
    header = request.headers.get("Authorization", "")
    if header:
        return "key:" + hashlib.sha256(header.encode()).hexdigest()
    return "addr:" + remote_address()


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


def init_limits(app: Flask, settings: Settings, api: list[str], pages: str) -> RateLimits:
    """Limit the blueprints named in ``api`` per key and the ``pages`` blueprint per address."""
    limits = RateLimits(settings.rate_limit_storage_url)
    rules: dict[str, tuple[RateLimitItem, Callable[[], str], str]] = {
        name: (parse(settings.api_rate_limit), api_key_identity, "api") for name in api
    }
    rules[pages] = (parse(settings.page_rate_limit), remote_address, "pages")

    @app.before_request
    def check_rate_limit() -> None:
        rule = rules.get(request.blueprint or "")
        if rule is None:
            return
        item, identity, scope = rule
        if not limits.hit(item, f"{scope}:{identity()}"):
            raise TooManyRequests(
                f"more than {item} requests; try again later",
                retry_after=max(1, int(item.get_expiry())),
            )

    return limits
