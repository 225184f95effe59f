"""Bearer API keys: every API route runs as exactly one client."""

from __future__ import annotations

import time

from flask import g, request

from approvals.clients import authenticate, hash_key
from approvals.errors import Unauthorized
from approvals.mailboxes import mailboxes_of
from approvals.web.limits import current_limits
from approvals.web.request_db import request_session

# A key that worked is remembered this long, so most API calls cost no lookup: a revoked key
# keeps working for at most this long in a web process that saw it just before.
KNOWN_KEY_SECONDS = 5.0
MAX_KNOWN_KEYS = 10_000
_known: dict[str, tuple[str, float]] = {}  # key hash -> (client id, remembered until)
# client id -> (its mailboxes, remembered until): a change of a key's mailboxes reaches a web
# process within the same few seconds as a revocation, and most operations cost no lookup.
_known_mailboxes: dict[str, tuple[list[str], float]] = {}


def remembered_client(key: str) -> str | None:
    """The client of a key that worked in the last few seconds, without a lookup."""
    known = _known.get(hash_key(key))
    return known[0] if known is not None and known[1] > time.monotonic() else None


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


def client_mailboxes(client_id: str) -> list[str]:
    """The client's mailboxes (its default first), looked up at most every few seconds."""
    known = _known_mailboxes.get(client_id)
    now = time.monotonic()
    if known is not None and known[1] > now:
        return known[0]
    own = mailboxes_of(request_session(), client_id)
    if len(_known_mailboxes) >= MAX_KNOWN_KEYS:
        _known_mailboxes.clear()
    _known_mailboxes[client_id] = (own, now + KNOWN_KEY_SECONDS)
    return own


def _bearer_key() -> str | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


def require_client() -> None:
    """``before_request`` hook for API routes: sets ``g.client_id`` or answers 401.

    Rate limits apply here, after authentication: per client for a valid key, per remote
    address for everything else, so made-up keys share one budget. Once an address has spent
    it, only a key that worked there in the last few seconds is still taken; any other gets
    429 without a lookup until the window ends.
    """
    limits = current_limits()
    key = _bearer_key()
    client_id = remembered_client(key) if key else None
    if client_id is None:
        limits.refuse_spent_address()
        if key is None:
            limits.count_failed_key()
            raise Unauthorized("an 'Authorization: Bearer <api key>' header is required")
        client_id = client_for_key(key)
        if client_id is None:
            limits.count_failed_key()
            raise Unauthorized("unknown or revoked API key")
    limits.count_client(client_id)
    g.client_id = client_id
