"""``/healthz``, ``/readyz`` and ``/metrics``: what load balancers, compose and Prometheus ask.

The views are thin: the checks are :mod:`approvals.observability.readiness`, the metrics
:mod:`approvals.observability.metrics` and :mod:`approvals.observability.owed`.
"""

from __future__ import annotations

import hmac

from flask import Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from approvals.errors import Unauthorized
from approvals.observability.multiprocess import metrics_dir
from approvals.observability.owed import DatabaseGauges
from approvals.observability.readiness import check_broker, check_database
from approvals.web.answers import Health
from approvals.web.runtime import current_runtime
from worker.celery_app import connect_to_broker


def healthz() -> tuple[dict[str, object], int]:
    """The process answers: nothing else is checked (a liveness probe must not fail because
    the database is down, or every web process would be restarted for nothing)."""
    return Health(status="ok", checks={}).model_dump(), 200


def readyz() -> tuple[dict[str, object], int, dict[str, str]]:
    runtime = current_runtime()
    checks = check_database(runtime.db)
    checks.append(check_broker(lambda: connect_to_broker(current_app.extensions["celery"])))
    ready = all(check.ok for check in checks)
    body = Health(
        status="ok" if ready else "unavailable",
        checks={c.name: "ok" if c.ok else c.detail for c in checks},
    )
    return body.model_dump(), 200 if ready else 503, {"Cache-Control": "no-store"}


def metrics() -> Response:
    token = current_runtime().settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            raise Unauthorized("an 'Authorization: Bearer <APPROVALS_METRICS_TOKEN>' is required")
    return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def _registry() -> CollectorRegistry:
    """Every process's counters (or this process's alone outside multiprocess mode) and the
    gauges the database holds, collected now."""
    runtime = current_runtime()
    registry = CollectorRegistry()
    folder = metrics_dir()
    if folder:
        MultiProcessCollector(registry, path=folder)
    else:
        registry.register(_Default())
    registry.register(DatabaseGauges(runtime.db, runtime.settings.claim_timeout))
    return registry


class _Default:
    """The process's own registry, when there is no metrics folder to read."""

    def collect(self):  # type: ignore[no-untyped-def]
        return REGISTRY.collect()
