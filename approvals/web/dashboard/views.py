"""The dashboard's pages: thin views over :mod:`approvals.dashboard` and the API's services."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

from flask import Response, make_response, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from approvals import outbox
from approvals.approval.subscriptions import (
    cancel_subscription,
    create_subscription,
    request_fingerprint,
    resend_email,
)
from approvals.clients import create_client, list_clients, revoke_client, rotate_webhook_secret
from approvals.dashboard import accounts, overview
from approvals.dashboard.callbacks import list_callbacks
from approvals.dashboard.requests import (
    KINDS,
    STATUSES,
    BadCursor,
    RequestFilter,
    list_requests,
    request_detail,
    visible_subscription,
)
from approvals.delivery.service import retry_delivery
from approvals.errors import BadRequest, Forbidden, NotFound
from approvals.store.models import Delivery, OutboxMessage, Recipient
from approvals.web.dashboard import previews
from approvals.web.dashboard.forms import IMPORTANCE, KIND_LABELS, blank_form, read_form
from approvals.web.dashboard.session import (
    COOKIE,
    clear_session_cookie,
    current_viewer,
    lifetime,
    next_path,
    set_session_cookie,
)
from approvals.web.limits import current_limits
from approvals.web.request_db import request_transaction
from approvals.web.runtime import current_runtime

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
ROTATE_OVERLAP = timedelta(hours=24)


def page(template: str, status: int = 200, **context: Any) -> Response:
    response = make_response(render_template(f"dashboard/{template}", **context), status)
    response.headers.update(PAGE_HEADERS)
    return response


def _done(endpoint: str, **values: Any) -> Response:
    """After a POST, a GET (so reloading does not send the form again)."""
    return redirect(url_for(endpoint, **values), 303)  # type: ignore[return-value]


# --- signing in and out --------------------------------------------------------------------


def home() -> Response:
    return _done("dashboard.requests")


def signin() -> Response:
    return page("signin.html", next=next_path(), error="")


def signin_submit() -> Response:
    limits = current_limits()
    limits.refuse_spent_address()
    key = request.form.get("key", "")
    with request_transaction() as session:
        client_id = accounts.client_for_key(session, key) if key.strip() else None
        if client_id is None:
            limits.count_failed_key()
            return page(
                "signin.html", 401, next=next_path(), error="That key is unknown or revoked."
            )
        token = accounts.start_session(session, client_id, lifetime())
    response = _done_to(next_path())
    set_session_cookie(response, token)
    return response


def signin_link(token: str) -> Response:
    limits = current_limits()
    limits.refuse_spent_address()
    with request_transaction() as session:
        client_id = accounts.use_signin_link(session, token)
        if client_id is None:
            limits.count_failed_key()
            return page(
                "signin.html",
                410,
                next="",
                error="That sign-in link was used already or has expired. "
                "Run `approvals signin-link` for a new one, or sign in with a key.",
            )
        session_token = accounts.start_session(session, client_id, lifetime())
    response = _done_to(url_for("dashboard.requests"))
    set_session_cookie(response, session_token)
    return response


def signout() -> Response:
    with request_transaction() as session:
        accounts.end_session(session, request.cookies.get(COOKIE, ""))
    response = _done("dashboard.signin")
    clear_session_cookie(response)
    return response


def _done_to(path: str) -> Response:
    return redirect(path, 303)  # type: ignore[return-value]


# --- requests ------------------------------------------------------------------------------


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a date like 2026-12-31", field=name) from None


def requests() -> Response:
    status = request.args.get("status") or None
    kind = request.args.get("kind") or None
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}", field="status")
    if kind is not None and kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}", field="kind")
    filters = RequestFilter(
        status=status,
        kind=kind,
        recipient=request.args.get("recipient") or None,
        since=_date_arg("since"),
        until=_date_arg("until"),
        search=request.args.get("q") or None,
    )
    viewer = current_viewer()
    with request_transaction() as session:
        try:
            found = list_requests(session, viewer, filters, request.args.get("after") or None)
        except BadCursor as exc:
            raise BadRequest(str(exc), field="after") from None
    base_args = {k: v for k, v in request.args.items() if k != "after" and v}
    return page(
        "requests.html",
        found=found,
        filters=filters,
        statuses=STATUSES,
        kinds=KIND_LABELS,
        base_args=base_args,
        other_args={k: v for k, v in base_args.items() if k != "status"},
    )


def request_page(id: str) -> Response:  # noqa: A002 - like the API's path ids
    with request_transaction() as session:
        detail = request_detail(session, current_viewer(), id)
        return page("request.html", detail=detail, kinds=KIND_LABELS)


def request_email(id: str, recipient_id: str) -> Response:  # noqa: A002
    with request_transaction() as session:
        subscription = visible_subscription(session, current_viewer(), id)
        recipient = session.get(Recipient, recipient_id)
        if recipient is None or recipient.subscription_id != subscription.id:
            raise NotFound("no such recipient", field="recipient_id")
        return previews.email_response(previews.request_email(subscription, recipient))


def cancel(id: str) -> Response:  # noqa: A002
    with request_transaction() as session:
        subscription = visible_subscription(session, current_viewer(), id)
        cancel_subscription(session, subscription.client_id, subscription.kind, id)
    return _done("dashboard.request_page", id=id)


def resend(id: str, recipient_id: str) -> Response:  # noqa: A002
    with request_transaction() as session:
        subscription = visible_subscription(session, current_viewer(), id)
        resend_email(session, subscription.client_id, subscription.kind, id, recipient_id)
    return _done("dashboard.request_page", id=id)


def retry_callback(id: str) -> Response:  # noqa: A002 - a delivery id
    viewer = current_viewer()
    with request_transaction() as session:
        delivery = session.get(Delivery, id)
        if delivery is None or not viewer.sees(delivery.client_id):
            raise NotFound("no such callback", field="id")
        retry_delivery(session, delivery.client_id, id)
        back = request.form.get("back", "")
    if back.startswith("/dashboard/"):
        return _done_to(back)
    return _done("dashboard.callbacks")


def new_request() -> Response:
    form = blank_form(request.args.get("kind", "approvalmail"))
    return page(
        "new.html",
        form=form,
        kinds=KIND_LABELS,
        importance=IMPORTANCE,
        form_id=secrets.token_urlsafe(16),
    )


def new_request_submit() -> Response:
    form = read_form(request.form)
    form_id = request.form.get("form_id", "")[:64]
    if form.request is None:
        return page(
            "new.html",
            422,
            form=form,
            kinds=KIND_LABELS,
            importance=IMPORTANCE,
            form_id=form_id or secrets.token_urlsafe(16),
        )
    viewer = current_viewer()
    runtime = current_runtime()
    with request_transaction() as session:
        # The form's id is its Idempotency-Key: pressing Send twice makes one request.
        subscription, _ = create_subscription(
            session,
            client_id=viewer.client_id,
            kind=form.kind,
            request=form.request,
            expiry=timedelta(days=runtime.settings.expiry_days),
            idempotency_key=f"dashboard:{form_id}" if form_id else None,
            fingerprint=request_fingerprint([form.kind, form.body]),
        )
        new_id = subscription.id
    return _done("dashboard.request_page", id=new_id)


# --- outbox, callbacks, keys, overview -----------------------------------------------------


def _outbox_scope() -> str | None:
    viewer = current_viewer()
    return None if viewer.is_admin else viewer.client_id


def outbox_list() -> Response:
    with request_transaction() as session:
        messages = outbox.list_messages(session, _outbox_scope(), 200)
        backend = current_runtime().settings.mail_backend
        return page("outbox.html", messages=messages, backend=backend)


def _kept_message(session: Session, id: int) -> OutboxMessage:  # noqa: A002
    message = outbox.get_message(session, id, _outbox_scope())
    if message is None:
        raise NotFound("no such message", field="id")
    return message


def outbox_message(id: int) -> Response:  # noqa: A002
    with request_transaction() as session:
        message = _kept_message(session, id)
        links = previews.links_to_us(previews.html_part(message.raw))
        return page("outbox_message.html", message=message, links=links)


def outbox_html(id: int) -> Response:  # noqa: A002
    with request_transaction() as session:
        return previews.email_response(previews.html_part(_kept_message(session, id).raw))


def callbacks() -> Response:
    host = request.args.get("host") or None
    with request_transaction() as session:
        rows = list_callbacks(session, current_viewer(), host)
        return page("callbacks.html", rows=rows, host=host or "")


def _admin() -> None:
    if not current_viewer().is_admin:
        raise Forbidden("only an admin key manages keys", code="admin_only")


def keys() -> Response:
    _admin()
    with request_transaction() as session:
        return page("keys.html", clients=list_clients(session), created=None, rotated=None)


def keys_create() -> Response:
    _admin()
    name = request.form.get("name", "").strip()
    if not name or len(name) > 200:
        raise BadRequest("a key needs a name of 1 to 200 characters", field="name")
    runtime = current_runtime()
    with request_transaction() as session:
        created = create_client(
            session, name, runtime.box, is_admin=request.form.get("admin") == "on"
        )
        clients = list_clients(session)
        # The one time the key and secret exist in clear: shown on this answer, never again.
        return page("keys.html", clients=clients, created=created, rotated=None)


def keys_revoke(id: str) -> Response:  # noqa: A002
    _admin()
    with request_transaction() as session:
        if not revoke_client(session, id):
            raise NotFound("no such key", field="id")
    return _done("dashboard.keys")


def keys_rotate(id: str) -> Response:  # noqa: A002
    _admin()
    runtime = current_runtime()
    with request_transaction() as session:
        fresh = rotate_webhook_secret(session, id, runtime.box, ROTATE_OVERLAP)
        clients = list_clients(session)
        return page("keys.html", clients=clients, created=None, rotated=(id, fresh))


def overview_page() -> Response:
    with request_transaction() as session:
        figures = overview.figures(session, current_viewer())
        return page("overview.html", figures=figures, charts=overview.charts_for(figures))
