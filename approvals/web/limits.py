"""Rate limits: per API key on the API, per remote address on the recipient pages.

Counters live in Redis in production (shared by every web process) and in memory on the
embedded default. Over the limit, the API answers 429 with the usual error body and
``Retry-After``.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Flask, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from approvals.config import Settings


def api_key_identity() -> str:
    """The caller's bearer key (hashed, never kept in clear), or its address without one."""
    header = request.headers.get("Authorization", "")
    if header:
        return "key:" + hashlib.sha256(header.encode()).hexdigest()
    return "addr:" + (get_remote_address() or "unknown")


def init_limits(app: Flask, settings: Settings, api: list[Blueprint], pages: Blueprint) -> Limiter:
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.rate_limit_storage_url,
        # X-RateLimit-* headers cost a storage round trip on every request; a 429 still says
        # when to come back (Retry-After, set where errors become responses).
        headers_enabled=False,
        # Redis down or restarting must not take the API down with it: count in memory meanwhile.
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        strategy="fixed-window",
    )
    for blueprint in api:
        limiter.limit(settings.api_rate_limit, key_func=api_key_identity)(blueprint)
    limiter.limit(settings.page_rate_limit, key_func=get_remote_address)(pages)
    return limiter


def retry_after_seconds(error: RateLimitExceeded) -> int:
    """The length of the limit's window: the longest a client must wait."""
    return max(1, int(error.limit.limit.get_expiry()))
