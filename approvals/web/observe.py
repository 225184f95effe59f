"""Per-request bookkeeping the operator sees: a request id, request counts and latency.

The request id is the caller's ``X-Request-Id`` (when it is a sane one) or a new one; it is on
every log line of the request and in the answer's ``X-Request-Id``, so a caller's report and
our logs meet. Routes are labelled with the route table's path (``/deliveries/{id}``), never
the URL itself, so an id or a link token can neither reach a metric nor multiply its series.
"""

from __future__ import annotations

import re
import time
import uuid

from flask import Flask, Response, g, request

from approvals.observability.logs import bind, unbind
from approvals.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS
from approvals.web.routes import ROUTES

UNMATCHED = "unmatched"
REQUEST_ID = "X-Request-Id"
# A caller's id is kept when it looks like one (a UUID, a trace id, ...), never arbitrary text.
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id() -> str:
    given = request.headers.get(REQUEST_ID, "")
    return given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex


def register_observers(app: Flask) -> None:
    paths = {
        f"{blueprint}.{route.operation_id}": route.path
        for route in ROUTES
        for blueprint in (_BLUEPRINTS[route.access],)
    }

    def started() -> None:
        g.started = time.perf_counter()
        g.request_id = request_id()
        g.log_ids = bind(request_id=g.request_id)

    def finished(_error: BaseException | None) -> None:
        tokens = g.pop("log_ids", None)
        if tokens is not None:
            unbind(tokens)

    def answered(response: Response) -> Response:
        if "request_id" in g:
            response.headers[REQUEST_ID] = g.request_id
        route = paths.get(request.endpoint or "", UNMATCHED)
        method = request.method
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        began = g.get("started")
        if began is not None:
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - began)
        return response

    app.before_request(started)
    app.after_request(answered)
    app.teardown_request(finished)


_BLUEPRINTS = {"api": "api", "page": "pages", "public": "public"}
