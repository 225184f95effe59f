"""The emails shown inside the dashboard: as the recipient sees them, rendered in an iframe
that may run nothing (CSP ``sandbox``, no scripts, no fetches)."""

from __future__ import annotations

import dataclasses
import email
import re
from email.message import Message
from email.policy import default as default_policy
from html import unescape

from flask import Response
from markupsafe import escape

from approvals.store.models import Recipient, Subscription
from approvals.web.runtime import current_runtime
from worker.mail.message import OptionLink, render_html
from worker.mail.sending import compose

EMAIL_HEADERS = {
    "Content-Security-Policy": (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "frame-ancestors 'self'"
    ),
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_ANCHOR = re.compile(r'<a\b[^>]*\bhref="([^"]+)"[^>]*>(.*?)</a>', re.S | re.I)
_TAG = re.compile(r"<[^>]+>")


def request_email(subscription: Subscription, recipient: Recipient) -> str:
    """The request's email for one recipient, its buttons inert: a link token answers for its
    recipient, and whoever reads the dashboard is not that recipient."""
    runtime = current_runtime()
    content = compose(
        runtime,
        subscription.id,
        subscription.options,
        subscription.message,
        recipient.id,
        recipient.address,
    )
    inert = tuple(OptionLink(option.label, "#") for option in content.options)
    return render_html(dataclasses.replace(content, options=inert))


def html_part(raw: str) -> str:
    """The HTML part of a stored message (the outbox keeps whole messages), or its text."""
    message: Message = email.message_from_string(raw, policy=default_policy)
    body = message.get_body(preferencelist=("html", "plain"))  # type: ignore[attr-defined]
    if body is None:
        return ""
    content = body.get_content()
    if body.get_content_type() == "text/plain":
        return f"<pre>{escape(content)}</pre>"
    return str(content)


def links_to_us(html: str) -> list[tuple[str, str]]:
    """The message's links that open this service's pages, with their text (the outbox's
    working buttons)."""
    base = current_runtime().settings.base_url + "/"
    found: dict[str, str] = {}
    for href, text in _ANCHOR.findall(html):
        url = unescape(href)
        if url.startswith(base) and url not in found:
            found[url] = " ".join(unescape(_TAG.sub(" ", text)).split()) or url
    return [(label, url) for url, label in found.items()]


def email_response(html: str) -> Response:
    return Response(html, 200, EMAIL_HEADERS, mimetype="text/html")
