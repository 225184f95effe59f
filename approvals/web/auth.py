"""Bearer API keys: every API route runs as exactly one client."""

from __future__ import annotations

from flask import g, request

from approvals.clients import authenticate
from approvals.errors import Unauthorized
from approvals.web.request_db import request_session


def require_client() -> None:
    """``before_request`` hook for API blueprints: sets ``g.client_id`` or answers 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("an 'Authorization: Bearer <api key>' header is required")
    client_id = authenticate(request_session(), key.strip())
    if client_id is None:
        raise Unauthorized("unknown or revoked API key")
    g.client_id = client_id
