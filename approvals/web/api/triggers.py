"""The connector's triggers over HTTP: polled at their own paths, or pushed by subscription.

A poll reads the trigger's parameters and its state (none on a first poll), starts the poll
as an operation on the key's default mailbox, waits up to ``APPROVALS_OPERATION_WAIT`` for the
worker and answers as Logic Apps' polling protocol expects (:mod:`approvals.triggers.polls`).
A push subscription (``<trigger path>/$subscriptions``) is polled by the worker instead, and
each batch POSTed to its ``NotificationUrl`` (:mod:`approvals.triggers.subscriptions`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Response, g, request

from approvals.delivery.service import deliveries_of
from approvals.errors import BadRequest, NotConfigured
from approvals.mailboxes import mailbox_for
from approvals.operations import service
from approvals.operations.waiting import EndWatch
from approvals.store.models import utcnow
from approvals.triggers import polls, subscriptions
from approvals.triggers.owner import owner
from approvals.triggers.schemas import TriggerSubscriptionRequest
from approvals.triggers.state import STATE_PARAM, TriggerStates, binding
from approvals.web import presenters
from approvals.web.auth import client_mailboxes
from approvals.web.params import read_params
from approvals.web.request_db import request_transaction
from approvals.web.runtime import current_runtime
from approvals.web.validation import parse_json, read_body, validate_body


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
    mailbox = mailbox_for(client_mailboxes(g.client_id), None)
    bound = binding(trigger, mailbox, params)
    if token is None:  # the first poll starts from now
        state = states.first(g.client_id, bound, {"since": utcnow().isoformat()})
        token = states.dumps(state)
    else:
        state = states.loads(token, client_id=g.client_id, bound=bound)
    with EndWatch(runtime) as watch:
        with request_transaction() as session:
            started = polls.start(
                session,
                client_id=g.client_id,
                trigger=trigger,
                mailbox=mailbox,
                params=params,
                token=token,
                state=state,
                keep=timedelta(seconds=settings.operation_result_ttl),
            )
            if not started.finished:
                watch.expect(started.id)  # before the commit publishes it
        if started.finished:  # an earlier poll with this state: its answer again
            with request_transaction() as session:
                recorded: service.Recorded | None = service.find(session, g.client_id, started.id)
        else:
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


def subscribe(trigger: str) -> tuple[dict[str, str], int, dict[str, str]]:
    """``POST <trigger path>/$subscriptions``: poll the trigger from now on, push each batch."""
    from approvals.web.routes import route_named

    runtime = current_runtime()
    if not runtime.settings.graph_configured:
        raise NotConfigured(
            "this service has no Microsoft 365 tenant configured (APPROVALS_GRAPH_*)"
        )
    body = validate_body(
        TriggerSubscriptionRequest, parse_json(read_body(runtime.settings.max_request_bytes))
    )
    poll_route = route_named(trigger)
    declared = {p.name for p in poll_route.params if p.where == "query"} - {STATE_PARAM}
    unknown = sorted(set(body.parameters) - declared)
    if unknown:
        raise BadRequest(
            f"{trigger} has no parameter {unknown[0]!r}",
            code="unknown_parameter",
            field=f"parameters.{unknown[0]}",
        )
    params = read_params(poll_route, {}, query=body.parameters)
    params.pop(STATE_PARAM, None)
    mailbox = mailbox_for(client_mailboxes(g.client_id), None)
    with request_transaction() as session:
        subscription = subscriptions.create(
            session,
            client_id=g.client_id,
            trigger=trigger,
            mailbox=mailbox,
            params=params,
            notification_url=body.NotificationUrl,
        )
        resource = f"{runtime.settings.base_url}{request.path}/{subscription.id}"
        answer = presenters.trigger_subscription_created(subscription, resource)
    return answer, 201, {"Location": resource}


def show_subscription(trigger: str, id: str) -> dict[str, Any]:  # noqa: A002 - path id
    with request_transaction() as session:
        subscription = subscriptions.find(session, g.client_id, trigger, id)
        return presenters.trigger_subscription_state(
            subscription, deliveries_of(session, owner(subscription.id))
        )


def unsubscribe(trigger: str, id: str) -> dict[str, Any]:  # noqa: A002 - path id
    with request_transaction() as session:
        subscription = subscriptions.delete(session, g.client_id, trigger, id)
        return {"id": subscription.id, "status": subscription.status}
