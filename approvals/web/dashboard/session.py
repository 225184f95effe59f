"""The dashboard's cookie, who it signs in, and the CSRF token on every form.

The cookie holds a random session token (HttpOnly, SameSite=Lax, Secure behind https); the
database holds its hash (:mod:`approvals.dashboard.accounts`). Every form carries a token signed
with itsdangerous over the session's hash, or, before sign-in, over a random value in a cookie
of its own: a form posted from another site has neither and is refused.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Response, g, redirect, request, url_for
from itsdangerous import BadData, URLSafeTimedSerializer

from approvals.clients import hash_key
from approvals.dashboard.accounts import Viewer, viewer_for_session
from approvals.errors import Forbidden
from approvals.web.request_db import request_session
from approvals.web.runtime import current_runtime

COOKIE = "approvals_session"
SIGNIN_COOKIE = "approvals_signin"  # binds the sign-in form's token before there is a session
SIGNIN_COOKIE_SECONDS = 3600
CSRF_FIELD = "csrf_token"
# Pages reachable without a session (everything else redirects to sign-in).
OPEN_ENDPOINTS = {"dashboard.signin", "dashboard.signin_submit", "dashboard.signin_link"}


def lifetime() -> timedelta:
    return timedelta(hours=current_runtime().settings.dashboard_session_hours)


def _secure() -> bool:
    return request.is_secure or current_runtime().settings.base_url.startswith("https://")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_runtime().settings.secret_key, salt="approvals.dashboard.csrf"
    )


def current_viewer() -> Viewer:
    viewer: Viewer = g.viewer
    return viewer


def load_viewer() -> Response | None:
    """``before_request`` of the dashboard: who is signed in; without a session, sign-in."""
    token = request.cookies.get(COOKIE, "")
    g.viewer = viewer_for_session(request_session(), token) if token else None
    if g.viewer is None and request.endpoint not in OPEN_ENDPOINTS:
        return redirect(url_for("dashboard.signin", next=_local_path(request.full_path)))
    if request.method == "POST":
        check_csrf()
    return None


def _local_path(path: str) -> str:
    """Only a path on this site is a place to go back to after sign-in (no open redirect)."""
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or not path.startswith("/dashboard") or "\\" in path:
        return url_for("dashboard.home")
    return path.rstrip("?")


def next_path() -> str:
    return _local_path(request.args.get("next") or request.form.get("next") or "")


def _binding() -> str:
    token = request.cookies.get(COOKIE, "")
    if token and getattr(g, "viewer", None) is not None:
        return hash_key(token)
    return request.cookies.get(SIGNIN_COOKIE, "")


def csrf_token() -> str:
    """The token a form of this page must send back (a template global)."""
    binding = _binding()
    if not binding:
        binding = g.signin_binding = g.get("signin_binding") or secrets.token_urlsafe(24)
    return _serializer().dumps(binding)


def check_csrf() -> None:
    sent = request.form.get(CSRF_FIELD, "")
    binding = _binding()
    try:
        valid = (
            bool(binding)
            and _serializer().loads(sent, max_age=int(lifetime().total_seconds())) == binding
        )
    except BadData:
        valid = False
    if not valid:
        raise Forbidden(
            "this form is out of date or was not sent from this site; reload the page and "
            "try again",
            code="csrf_failed",
        )


def keep_signin_binding(response: Response) -> Response:
    """``after_request``: the cookie behind a sign-in form's token, when this page made one."""
    binding = g.get("signin_binding")
    if binding:
        response.set_cookie(
            SIGNIN_COOKIE,
            binding,
            max_age=SIGNIN_COOKIE_SECONDS,
            httponly=True,
            samesite="Lax",
            secure=_secure(),
            path="/dashboard",
        )
    return response


def set_session_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(lifetime().total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=_secure(),
        path="/dashboard",
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/dashboard")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/dashboard")
