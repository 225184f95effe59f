"""``/approvalmail/$subscriptions`` and ``/mailwithoptions/$subscriptions``: send, read, cancel."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import g, request

from approvals.approval.schemas import REQUEST_MODELS
from approvals.approval.subscriptions import (
    cancel_subscription,
    create_subscription,
    deliveries_for,
    get_subscription,
    request_fingerprint,
    response_for,
)
from approvals.errors import BadRequest
from approvals.policies.view import policy_view
from approvals.web import presenters
from approvals.web.request_db import request_transaction
from approvals.web.runtime import current_runtime
from approvals.web.validation import parse_json, read_body, validate_body

MAX_IDEMPOTENCY_KEY = 255
log = logging.getLogger(__name__)


def create(kind: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    runtime = current_runtime()
    body = parse_json(read_body(runtime.settings.max_request_bytes))
    subscription_request = validate_body(REQUEST_MODELS[kind], body)
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise BadRequest("Idempotency-Key is longer than 255 characters", field="Idempotency-Key")
    with request_transaction() as session:
        subscription, recipient_ids = create_subscription(
            session,
            client_id=g.client_id,
            kind=kind,
            request=subscription_request,
            expiry=timedelta(days=runtime.settings.expiry_days),
            idempotency_key=key,
            fingerprint=request_fingerprint([kind, body]) if key else "",
        )
        answer = presenters.subscription_created(subscription, runtime.settings.base_url)
    headers = {"Location": answer["resource"]}
    if not recipient_ids:
        headers["Idempotent-Replayed"] = "true"
    log.info(
        "subscription created" if recipient_ids else "subscription replayed (Idempotency-Key)",
        extra={"subscription_id": subscription.id, "recipients": len(recipient_ids)},
    )
    return answer, 201, headers


def show(kind: str, id: str) -> dict[str, Any]:  # noqa: A002 - the connector's parameter name
    with request_transaction() as session:
        subscription = get_subscription(session, g.client_id, kind, id)
        return presenters.subscription_state(
            subscription,
            response_for(session, subscription.id),
            deliveries_for(session, subscription.id),
            policy_view(session, subscription),
        )


def cancel(kind: str, id: str) -> dict[str, Any]:  # noqa: A002 - the connector's parameter name
    with request_transaction() as session:
        subscription = cancel_subscription(session, g.client_id, kind, id)
        return {"id": subscription.id, "status": subscription.status}
