"""Connector operations over HTTP: one view serves every row of the route table that runs one.

The view reads the row's parameters and body, resolves the mailbox the key may use, starts the
operation, waits up to ``APPROVALS_OPERATION_WAIT`` seconds for the worker, and answers its
result, or 202 with ``Location: /operations/{id}`` (at once with ``Prefer: respond-async``).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Response, g, request

from approvals.approval.subscriptions import request_fingerprint
from approvals.errors import BadRequest, NotConfigured
from approvals.mailboxes import mailbox_for
from approvals.operations import service
from approvals.operations.waiting import EndWatch
from approvals.web.auth import client_mailboxes
from approvals.web.params import read_params
from approvals.web.request_db import request_transaction
from approvals.web.runtime import current_runtime
from approvals.web.validation import parse_json, read_body, validate_body

MAX_IDEMPOTENCY_KEY = 255


def run(operation: str, **path_values: str) -> Response:
    from approvals.web.routes import route_named

    route = route_named(operation)
    runtime = current_runtime()
    if not runtime.settings.graph_configured:
        raise NotConfigured(
            "this service has no Microsoft 365 tenant configured (APPROVALS_GRAPH_*)"
        )
    params = read_params(route, path_values)
    if route.body is not None:
        body = validate_body(route.body, parse_json(read_body(runtime.settings.max_request_bytes)))
        params[route.body_name] = body.model_dump(mode="json", exclude_none=True)
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise BadRequest("Idempotency-Key is longer than 255 characters", field="Idempotency-Key")
    wait = "respond-async" not in request.headers.get("Prefer", "")
    mailbox = mailbox_for(client_mailboxes(g.client_id), params.get("mailboxAddress"))
    with EndWatch(runtime) as watch:
        with request_transaction() as session:
            started = service.start(
                session,
                client_id=g.client_id,
                name=route.operation_id,
                mailbox=mailbox,
                params=params,
                repeatable=route.repeatable,
                keep=timedelta(seconds=runtime.settings.operation_result_ttl),
                idempotency_key=key,
                fingerprint=request_fingerprint([route.operation_id, params]) if key else None,
            )
            operation_id, new = started.id, not started.finished
            watch.expect(operation_id)  # before the commit publishes it
        ended = watch.wait(runtime.settings.operation_wait) if wait and new else None
    if ended is not None:  # just recorded for this client: answered from the read that saw it
        return _response(service.answer(ended, runtime.settings.base_url))
    return _answer(operation_id)


def show(id: str) -> Response:  # noqa: A002 - named like every other path id
    return _answer(id)


def _answer(operation_id: str) -> Response:
    runtime = current_runtime()
    with request_transaction() as session:
        answer = service.answer(
            service.find(session, g.client_id, operation_id), runtime.settings.base_url
        )
    return _response(answer)


def _response(answer: service.Answer) -> Response:
    return Response(answer.body, answer.status, answer.headers)
