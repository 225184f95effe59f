"""``/outbox/messages`` and ``/deliveries``: what the service sent and how callbacks went."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from approvals import outbox
from approvals.deliveries import get_delivery, retry_delivery
from approvals.errors import NotFound
from approvals.timefmt import iso
from approvals.web import presenters
from approvals.web.auth import require_client
from approvals.web.enqueue import enqueue
from approvals.web.request_db import request_transaction
from worker.celery_app import DELIVER_CALLBACK

bp = Blueprint("management", __name__)
bp.before_request(require_client)


def _summary(message: Any) -> dict[str, Any]:
    return {
        "id": message.id,
        "to": message.to_address,
        "subject": message.subject,
        "recipientId": message.recipient_id,
        "createdAt": iso(message.created_at),
    }


@bp.get("/outbox/messages")
def outbox_list() -> dict[str, Any]:
    limit = min(max(request.args.get("limit", 100, type=int) or 100, 1), 1000)
    with request_transaction() as session:
        return {
            "messages": [_summary(m) for m in outbox.list_messages(session, g.client_id, limit)]
        }


@bp.get("/outbox/messages/<int:message_id>")
def outbox_show(message_id: int) -> Any:
    with request_transaction() as session:
        message = outbox.get_message(session, message_id, g.client_id)
        if message is None:
            raise NotFound("no such message", field="id")
        if request.args.get("format") == "eml":
            return Response(
                message.raw,
                mimetype="message/rfc822",
                headers={"Content-Disposition": f'attachment; filename="message-{message.id}.eml"'},
            )
        return {**_summary(message), "raw": message.raw}


@bp.get("/deliveries/<delivery_id>")
def delivery_show(delivery_id: str) -> dict[str, Any]:
    with request_transaction() as session:
        return presenters.delivery(get_delivery(session, g.client_id, delivery_id))


@bp.post("/deliveries/<delivery_id>/retry")
def delivery_retry(delivery_id: str) -> tuple[dict[str, Any], int]:
    with request_transaction() as session:
        delivery = retry_delivery(session, g.client_id, delivery_id)
        answer = presenters.delivery(delivery)
    enqueue(DELIVER_CALLBACK, delivery_id)
    return answer, 202
