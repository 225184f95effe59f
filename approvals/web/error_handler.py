"""The one place an error becomes an answer: JSON for the API, a page for recipients.

Each error is first turned into a :class:`approvals.errors.RequestError` (ours as they are,
Werkzeug's by their status, a dropped database connection as 503, anything else as a logged
500), then written out with its status and headers.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from approvals.errors import PayloadTooLarge, RequestError, ServiceUnavailable

log = logging.getLogger(__name__)

# How soon a client may retry after the database dropped its connection.
DATABASE_RETRY_AFTER_SECONDS = 1
PAGE_TITLES = {
    429: "Too many requests",
    503: "Please try again",
}
DASHBOARD_TITLES = {
    **PAGE_TITLES,
    400: "Check what you entered",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    422: "That cannot be done",
}


class _WerkzeugError(RequestError):
    """A routing or protocol error Werkzeug raised (404, 405, ...), keeping its headers
    (``Allow`` on a 405)."""

    def __init__(self, error: HTTPException) -> None:
        super().__init__(error.description or error.name)
        self.status = error.code or 500
        self.code = (error.name or "error").lower().replace(" ", "_")
        self._headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}

    def headers(self) -> dict[str, str]:
        return self._headers


def as_request_error(error: Exception) -> RequestError:
    if isinstance(error, RequestError):
        return error
    if isinstance(error, RequestEntityTooLarge):
        return PayloadTooLarge(
            f"the request body is larger than {request.max_content_length} bytes"
        )
    if isinstance(error, HTTPException):
        return _WerkzeugError(error)
    if isinstance(error, OperationalError):
        # A dropped or restarted database: nothing of this request was kept.
        log.warning("database unavailable on %s %s: %s", request.method, request.path, error)
        return ServiceUnavailable(
            "the database is unavailable for a moment; retry (with the same Idempotency-Key)",
            retry_after=DATABASE_RETRY_AFTER_SECONDS,
        )
    log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
    return RequestError("internal error")


def _page(error: RequestError) -> Response:
    from approvals.web.pages import SECURITY_HEADERS

    if error.status == 503:
        lines = ["Nothing was recorded. Please go back and press the button again."]
    else:
        lines = [error.message]
    title = PAGE_TITLES.get(error.status, "Something went wrong")
    page = render_template("pages/message.html", title=title, lines=lines)
    return Response(
        page, error.status, {**SECURITY_HEADERS, **error.headers()}, mimetype="text/html"
    )


def _dashboard_page(error: RequestError) -> Response:
    from approvals.web.dashboard.views import page

    title = DASHBOARD_TITLES.get(error.status, "Something went wrong")
    response = page("message.html", error.status, title=title, message=error.message)
    response.headers.update(error.headers())
    return response


def answer_error(error: Exception) -> Any:
    failure = as_request_error(error)
    if request.blueprint == "dashboard":
        return _dashboard_page(failure)
    if request.blueprint == "pages" or request.path.startswith("/respond/"):
        return _page(failure)
    return failure.to_dict(), failure.status, failure.headers()


def register_error_handler(app: Flask) -> None:
    app.register_error_handler(Exception, answer_error)
