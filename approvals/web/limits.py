"""Rate limits: per API key on the API, per remote address on the recipient pages.

Counters live in Redis in production (shared by every web process) and in memory on the
embedded default; ``limits`` does the counting. While Redis is down or restarting the counts
go on in memory, so an outage of the counters never takes the API down with it. Over the
limit, the answer is 429 with ``Retry-After``.

Checked in one ``before_request`` hook with one storage call, where Flask-Limiter's general
machinery cost a tenth of an intake request.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from flask import Flask, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from approvals.config import Settings

log = logging.getLogger(__name__)


def api_key_identity() -> str:
    """The caller's bearer key (hashed, never kept in clear), or its address without one."""
    header = request.headers.get("Authorization", "")
    if header:
        return "key:" + hashlib.sha256(header.encode()).hexdigest()
    return "addr:" + remote_address()


def remote_address() -> str:
    return request.remote_addr or "unknown"


class RateLimits:
    """Fixed windows counted in the configured storage, in memory while that is unreachable."""

    def __init__(self, storage_url: str) -> None:
        self._shared = FixedWindowRateLimiter(storage_from_string(storage_url))
        self._fallback = FixedWindowRateLimiter(MemoryStorage())
        self._failing = False

    def hit(self, item: RateLimitItem, identity: str) -> bool:
        """Count one request; False when it is over the limit."""
        try:
            allowed = self._shared.hit(item, identity)
        except Exception as exc:  # noqa: BLE001 - any storage failure: count locally meanwhile
            if not self._failing:
                log.warning("rate-limit storage unreachable, counting in memory: %s", exc)
                self._failing = True
            return self._fallback.hit(item, identity)
        if self._failing:
            log.info("rate-limit storage reachable again")
            self._failing = False
        return allowed


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
