"""The dashboard at ``/dashboard``: sign-in, requests, outbox, callbacks, keys and overview.

Server-rendered pages without scripts; every form carries a CSRF token, every page but sign-in
needs a session (:mod:`approvals.web.dashboard.session`).
"""

from __future__ import annotations

from flask import Blueprint, Flask, g

from approvals.web.dashboard import views
from approvals.web.dashboard.session import csrf_token, keep_signin_binding, load_viewer

PREFIX = "/dashboard"
BLUEPRINT = "dashboard"

# (rule, endpoint, view, methods)
RULES = [
    ("", "home", views.home, ["GET"]),
    ("/signin", "signin", views.signin, ["GET"]),
    ("/signin", "signin_submit", views.signin_submit, ["POST"]),
    ("/signin/<token>", "signin_link", views.signin_link, ["GET"]),
    ("/signout", "signout", views.signout, ["POST"]),
    ("/requests", "requests", views.requests, ["GET"]),
    ("/requests/<id>", "request_page", views.request_page, ["GET"]),
    ("/requests/<id>/email/<recipient_id>", "request_email", views.request_email, ["GET"]),
    ("/requests/<id>/cancel", "cancel", views.cancel, ["POST"]),
    ("/requests/<id>/recipients/<recipient_id>/resend", "resend", views.resend, ["POST"]),
    ("/callbacks/<id>/retry", "retry_callback", views.retry_callback, ["POST"]),
    ("/new", "new_request", views.new_request, ["GET"]),
    ("/new", "new_request_submit", views.new_request_submit, ["POST"]),
    ("/outbox", "outbox", views.outbox_list, ["GET"]),
    ("/outbox/<int(max=2147483647):id>", "outbox_message", views.outbox_message, ["GET"]),
    ("/outbox/<int(max=2147483647):id>/html", "outbox_html", views.outbox_html, ["GET"]),
    ("/callbacks", "callbacks", views.callbacks, ["GET"]),
    ("/keys", "keys", views.keys, ["GET"]),
    ("/keys", "keys_create", views.keys_create, ["POST"]),
    ("/keys/<id>/revoke", "keys_revoke", views.keys_revoke, ["POST"]),
    ("/keys/<id>/rotate-secret", "keys_rotate", views.keys_rotate, ["POST"]),
    ("/overview", "overview", views.overview_page, ["GET"]),
]


def register_dashboard(app: Flask) -> None:
    blueprint = Blueprint(BLUEPRINT, __name__, url_prefix=PREFIX)
    blueprint.before_request(load_viewer)
    blueprint.after_request(keep_signin_binding)
    for rule, endpoint, view, methods in RULES:
        blueprint.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=methods)
    blueprint.context_processor(lambda: {"viewer": g.get("viewer")})
    app.register_blueprint(blueprint)
    app.jinja_env.globals["csrf_token"] = csrf_token
