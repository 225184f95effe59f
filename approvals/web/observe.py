"""Per-request bookkeeping the operator sees: request counts and latency by route.

Routes are labelled with the route table's path (``/deliveries/{id}``), never the URL itself,
so an id or a link token can neither reach a metric nor multiply its series.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from approvals.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS
from approvals.web.routes import ROUTES

UNMATCHED = "unmatched"


def register_observers(app: Flask) -> None:
    paths = {
        f"{blueprint}.{route.operation_id}": route.path
        for route in ROUTES
        for blueprint in (_BLUEPRINTS[route.access],)
    }

    def started() -> None:
        g.started = time.perf_counter()

    def answered(response: Response) -> Response:
        route = paths.get(request.endpoint or "", UNMATCHED)
        method = request.method
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        began = g.get("started")
        if began is not None:
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - began)
        return response

    app.before_request(started)
    app.after_request(answered)


_BLUEPRINTS = {"api": "api", "page": "pages", "public": "public"}
