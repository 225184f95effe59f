"""Subscriptions: accept, read, cancel and expire them. Plain Python over a session."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from approvals.approval.owner import owner
from approvals.approval.schemas import SubscriptionRequest
from approvals.delivery.service import deliveries_of, drop_owed
from approvals.errors import NotFound, Unprocessable
from approvals.policies.durations import to_timedelta
from approvals.policies.reminders import cancel_reminders, plan_reminders
from approvals.policies.settings import PolicySettings
from approvals.store.jobs import Job, after_commit
from approvals.store.models import (
    NO_CALLBACK,
    Delivery,
    IdempotencyRecord,
    Recipient,
    Response,
    Subscription,
    new_id,
    utcnow,
)
from approvals.store.new_rows import insert_subscription
from approvals.store.status import EmailStatus, SubscriptionStatus


def request_fingerprint(body: Any) -> str:
    """A stable hash of a request body, to tell a true repeat from a reused key."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def create_subscription(
    session: Session,
    *,
    client_id: str,
    kind: str,
    request: SubscriptionRequest,
    expiry: timedelta,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> tuple[Subscription, list[str]]:
    """Store a subscription and its recipients (mail owed now); returns the recipients' ids.

    With an ``idempotency_key`` already used by this client, the first subscription is
    returned instead, with no recipient ids: nothing new is stored or sent.
    """
    if idempotency_key:
        previous = _replay(session, client_id, idempotency_key, fingerprint)
        if previous is not None:
            return previous, []
    now = utcnow()
    message = request.Message
    policy = request.stored()
    if request.ExpiresAfter:
        expiry = min(expiry, to_timedelta(request.ExpiresAfter))
    values: dict[str, Any] = {
        "id": new_id(),
        "client_id": client_id,
        "kind": kind,
        "notification_url": request.NotificationUrl or NO_CALLBACK,
        "message": message.model_dump(mode="json"),
        "options": message.option_list(),
        "status": SubscriptionStatus.PENDING,
        "created_at": now,
        "expires_at": now + expiry,
    }
    if policy is not None:
        values["policy"] = policy
        if request.Escalation is not None:
            values["escalate_at"] = now + to_timedelta(request.Escalation.After)
    recipients = [
        {
            "id": new_id(),
            "subscription_id": values["id"],
            "position": position,
            "address": address,
            "email_status": EmailStatus.DUE,
            "email_attempts": 0,
            "email_next_at": now,
            "email_enqueued_at": now,  # published once this transaction commits
        }
        for position, address in enumerate(message.recipients())
    ]
    plan = PolicySettings.of(policy).reminders
    insert_subscription(session, values, recipients, alone=not idempotency_key and not plan)
    if plan:
        plan_reminders(session, values["id"], [r["id"] for r in recipients], plan, now)
    if idempotency_key:
        try:
            session.execute(
                insert(IdempotencyRecord).values(
                    client_id=client_id,
                    key=idempotency_key,
                    request_hash=fingerprint,
                    subscription_id=values["id"],
                    created_at=now,
                )
            )
        except IntegrityError:
            # Another request with the same key won the race; answer with its subscription.
            session.rollback()
            previous = _replay(session, client_id, idempotency_key, fingerprint)
            if previous is None:
                raise
            return previous, []
    for recipient in recipients:
        after_commit(session, Job.SEND_MAIL, recipient["id"])
    return Subscription(**values), [r["id"] for r in recipients]


def _replay(session: Session, client_id: str, key: str, fingerprint: str) -> Subscription | None:
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key
        )
    )
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise Unprocessable(
            "this Idempotency-Key was already used with a different request body",
            code="idempotency_key_reused",
            field="Idempotency-Key",
        )
    return session.get(Subscription, record.subscription_id)


def get_subscription(
    session: Session, client_id: str, kind: str, subscription_id: str
) -> Subscription:
    """The client's own subscription of that kind; anything else is "not found"."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or subscription.client_id != client_id or subscription.kind != kind:
        raise NotFound("no such subscription", field="id")
    return subscription


def cancel_subscription(
    session: Session, client_id: str, kind: str, subscription_id: str
) -> Subscription:
    """Unsubscribe: links stop working and no callback is sent. Repeating it is harmless."""
    subscription = get_subscription(session, client_id, kind, subscription_id)
    now = utcnow()
    session.execute(
        update(Subscription)
        .where(
            Subscription.id == subscription_id, Subscription.status == SubscriptionStatus.PENDING
        )
        .values(status=SubscriptionStatus.CANCELLED, finished_at=now)
    )
    # A callback owed but not yet sent is dropped (DESIGN 5: no callback after DELETE).
    drop_owed(session, owner(subscription_id))
    if subscription.policy:
        cancel_reminders(session, subscription_id)
    session.refresh(subscription)
    return subscription


def response_for(session: Session, subscription_id: str) -> Response | None:
    return session.scalar(select(Response).where(Response.subscription_id == subscription_id))


def deliveries_for(session: Session, subscription_id: str) -> list[Delivery]:
    return deliveries_of(session, owner(subscription_id))


def resend_email(
    session: Session, client_id: str, kind: str, subscription_id: str, recipient_id: str
) -> Recipient:
    """Send one recipient's email again (lost in a spam folder, deleted by mistake): the same
    links, a fresh retry schedule. Only while the request is pending and that mail not in flight.
    """
    subscription = get_subscription(session, client_id, kind, subscription_id)
    recipient = session.get(Recipient, recipient_id)
    if recipient is None or recipient.subscription_id != subscription.id:
        raise NotFound("no such recipient", field="recipientId")
    if subscription.status != SubscriptionStatus.PENDING:
        raise Unprocessable(
            f"the request is {subscription.status}; its email is not sent again",
            code="subscription_closed",
        )
    if recipient.reassigned_to is not None:
        raise Unprocessable(
            "this recipient handed their place on; their link no longer works",
            code="recipient_reassigned",
        )
    changed = session.execute(
        update(Recipient)
        .where(
            Recipient.id == recipient_id,
            Recipient.email_status.in_((EmailStatus.SENT, EmailStatus.FAILED)),
        )
        .values(
            email_status=EmailStatus.DUE,
            email_attempts=0,
            email_next_at=utcnow(),
            email_enqueued_at=utcnow(),
            email_error=None,
        )
    ).rowcount
    if not changed:
        raise Unprocessable(
            "this email is still being sent; try again when it has gone out or failed",
            code="email_in_flight",
        )
    session.refresh(recipient)
    after_commit(session, Job.SEND_MAIL, recipient.id)
    return recipient
