"""The connector's triggers over HTTP: polled at their own paths (push subscriptions below).

A poll reads the trigger's parameters and its state (none on a first poll), starts the poll
as an operation on the key's default mailbox, waits up to ``APPROVALS_OPERATION_WAIT`` for the
worker and answers as Logic Apps' polling protocol expects (:mod:`approvals.triggers.polls`).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from flask import Response, g, request

from approvals.errors import NotConfigured
from approvals.mailboxes import mailbox_for
from approvals.operations import service
from approvals.operations.waiting import EndWatch
from approvals.store.models import utcnow
from approvals.triggers import polls
from approvals.triggers.state import STATE_PARAM, TriggerStates, binding
from approvals.web.params import read_params
from approvals.web.request_db import request_transaction
from approvals.web.runtime import current_runtime


def poll(trigger: str) -> Response:
    from approvals.web.routes import route_named

    runtime = current_runtime()
    settings = runtime.settings
    if not settings.graph_configured:
        raise NotConfigured(
            "this service has no Microsoft 365 tenant configured (APPROVALS_GRAPH_*)"
        )
    params = read_params(route_named(trigger), {})
    token = params.pop(STATE_PARAM, None)
    states = TriggerStates(settings.secret_key, settings.secret_key_fallbacks)
    with EndWatch(runtime) as watch:
        with request_transaction() as session:
            mailbox = mailbox_for(session, g.client_id, None)
            bound = binding(trigger, mailbox, params)
            if token is None:  # the first poll starts from now
                state = states.first(g.client_id, bound, {"since": utcnow().isoformat()})
                token = states.dumps(state)
            else:
                state = states.loads(token, client_id=g.client_id, bound=bound)
            operation = polls.start(
                session,
                client_id=g.client_id,
                trigger=trigger,
                mailbox=mailbox,
                params=params,
                token=token,
                state=state,
                keep=timedelta(seconds=settings.operation_result_ttl),
            )
            recorded = None if operation.status not in service.FINISHED else operation
            if recorded is None:
                watch.expect(operation.id)  # before the commit publishes it
        if recorded is None:
            recorded = watch.wait(settings.operation_wait)
        answer = polls.answer(
            recorded,
            token=token,
            state=state,
            states=states,
            location=_location,
            base_url=settings.base_url,
            interval=settings.trigger_interval,
        )
    return Response(answer.body, answer.status, answer.headers)


def _location(token: str) -> str:
    """This trigger's URL with its parameters as given and ``token`` as its state."""
    kept = [(k, v) for k, v in request.args.items(multi=True) if k != STATE_PARAM]
    query = urlencode([*kept, (STATE_PARAM, token)])
    return f"{current_runtime().settings.base_url}{request.path}?{query}"
