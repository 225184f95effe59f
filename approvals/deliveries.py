"""Deliveries: "POST this JSON to this URL for this client", owed until it lands or gives up.

Approval callbacks use it today; trigger batches will too. The row is written in the same
transaction as the event that causes it, so a committed response always has its callback owed.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from approvals.errors import NotFound, Unprocessable
from approvals.store.jobs import Job, after_commit
from approvals.store.models import Delivery, utcnow
from approvals.store.status import RETRYABLE_DELIVERY, DeliveryStatus


def create_delivery(
    session: Session,
    *,
    client_id: str,
    url: str,
    payload: dict[str, Any],
    subscription_id: str | None = None,
) -> Delivery:
    """Owe ``payload`` to ``url``; the ``webhook-id`` is fixed now and kept on every retry."""
    delivery = Delivery(
        client_id=client_id,
        subscription_id=subscription_id,
        url=url,
        payload=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
        webhook_id=f"msg_{uuid.uuid4().hex}",
        status=DeliveryStatus.DUE,
        next_attempt_at=utcnow(),
        enqueued_at=utcnow(),  # published once this transaction commits
    )
    session.add(delivery)
    session.flush()
    after_commit(session, Job.DELIVER_CALLBACK, delivery.id)
    return delivery


def get_delivery(session: Session, client_id: str, delivery_id: str) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.client_id != client_id:
        raise NotFound("no such delivery", field="id")
    return delivery


def retry_delivery(session: Session, client_id: str, delivery_id: str) -> Delivery:
    """Make a failed or stopped delivery due now, for one more attempt."""
    delivery = get_delivery(session, client_id, delivery_id)
    changed = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status.in_(RETRYABLE_DELIVERY))
        .values(
            status=DeliveryStatus.DUE,
            next_attempt_at=utcnow(),
            enqueued_at=utcnow(),
            finished_at=None,
        )
    ).rowcount
    if not changed:
        raise Unprocessable(
            f"only a failed or stopped delivery can be retried; this one is {delivery.status}",
            code="delivery_not_retryable",
        )
    session.refresh(delivery)
    after_commit(session, Job.DELIVER_CALLBACK, delivery.id)
    return delivery
