"""Bearer API keys: every API route runs as exactly one client."""

from __future__ import annotations

import time

from flask import g, request

from approvals.clients import authenticate, hash_key
from approvals.errors import Unauthorized
from approvals.web.limits import current_limits
from approvals.web.request_db import request_session

# A key that worked is remembered this long, so most API calls cost no lookup: a revoked key
# keeps working for at most this long in a web process that saw it just before.
KNOWN_KEY_SECONDS = 5.0
MAX_KNOWN_KEYS = 10_000
_known: dict[str, tuple[str, float]] = {}  # key hash -> (client id, remembered until)


def client_for_key(key: str) -> str | None:
    """The id of the active client holding ``key``, or None."""
    digest = hash_key(key)
    known = _known.get(digest)
    now = time.monotonic()
    if known is not None and known[1] > now:
        return known[0]
    client_id = authenticate(request_session(), key, digest)
    if client_id is None:
        _known.pop(digest, None)
        return None
    if len(_known) >= MAX_KNOWN_KEYS:
        _known.clear()
    _known[digest] = (client_id, now + KNOWN_KEY_SECONDS)
    return client_id


def require_client() -> None:
    """``before_request`` hook for API blueprints: sets ``g.client_id`` or answers 401.

    Rate limits apply here, after authentication: per client for a valid key, per remote
    address for everything else (so made-up keys share one budget and, once it is spent,
    cost no lookup).
    """
    limits = current_limits()
    limits.refuse_spent_address()
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        limits.count_failed_key()
        raise Unauthorized("an 'Authorization: Bearer <api key>' header is required")
    client_id = client_for_key(key.strip())
    if client_id is None:
        limits.count_failed_key()
        raise Unauthorized("unknown or revoked API key")
    limits.count_client(client_id)
    g.client_id = client_id
