"""Deliveries as their owners and clients see them: owe one, read one, retry one, drop them.

The row is written in the same transaction as the event that causes it, so a committed
response always has its callback owed, and it is published once that transaction commits.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select, update
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
    owner: tuple[str, str] | None = None,
) -> Delivery:
    """Owe ``payload`` to ``url`` on behalf of ``owner`` (kind, id), dropped if it closes first.

    The ``webhook-id`` is fixed now and kept on every retry.
    """
    owner_kind, owner_id = owner or (None, None)
    delivery = Delivery(
        client_id=client_id,
        owner_kind=owner_kind,
        owner_id=owner_id,
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


def deliveries_of(session: Session, owner: tuple[str, str]) -> list[Delivery]:
    """What ``owner`` (kind, id) has owed, oldest first."""
    kind, owner_id = owner
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.owner_kind == kind, Delivery.owner_id == owner_id)
            .order_by(Delivery.created_at)
        )
    )


def drop_owed(session: Session, owner: tuple[str, str]) -> None:
    """Drop what ``owner`` still owes and no worker holds: it closed (DESIGN 5)."""
    kind, owner_id = owner
    session.execute(
        update(Delivery)
        .where(
            Delivery.owner_kind == kind,
            Delivery.owner_id == owner_id,
            Delivery.status == DeliveryStatus.DUE,
        )
        .values(status=DeliveryStatus.DROPPED, finished_at=utcnow(), next_attempt_at=None)
    )
