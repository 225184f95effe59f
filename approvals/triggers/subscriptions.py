"""Push trigger subscriptions: create, read, delete, and record one poll's outcome.

A subscription is polled by the worker every ``APPROVALS_TRIGGER_INTERVAL`` (its next poll is
an owed row, :data:`approvals.store.claims.TRIGGER_POLLS`, so two workers never poll one
subscription at once). Each poll that finds something owes one delivery of
``{"value": [...]}`` through the callback engine (signature, retries, attempt log, SSRF
guard), written in the same transaction as the cursor after it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from approvals.delivery.service import create_delivery, drop_owed
from approvals.errors import NotFound
from approvals.store.claims import expected_message_at
from approvals.store.jobs import Job, after_commit
from approvals.store.models import ApiClient, ClientMailbox, TriggerSubscription, utcnow
from approvals.store.status import TriggerPollStatus, TriggerSubscriptionStatus
from approvals.triggers.owner import owner

# A poll that failed (Graph refused or was unreachable) is tried again after this long at most.
FAILED_POLL_RETRY_SECONDS = 60.0


def create(
    session: Session,
    *,
    client_id: str,
    trigger: str,
    mailbox: str,
    params: dict[str, Any],
    notification_url: str,
) -> TriggerSubscription:
    """A subscription whose trigger starts now: what arrived before is not sent."""
    now = utcnow()
    subscription = TriggerSubscription(
        client_id=client_id,
        trigger=trigger,
        mailbox=mailbox,
        params=params,
        notification_url=notification_url,
        status=TriggerSubscriptionStatus.ACTIVE,
        cursor={"since": now.isoformat()},
        poll_status=TriggerPollStatus.DUE,
        polls=0,
        next_poll_at=now,
        poll_enqueued_at=now,
        created_at=now,
    )
    session.add(subscription)
    session.flush()
    after_commit(session, Job.POLL_TRIGGER, subscription.id)  # its first poll sets the baseline
    return subscription


def find(
    session: Session, client_id: str, trigger: str, subscription_id: str
) -> TriggerSubscription:
    """The client's subscription to ``trigger``; any other is 404."""
    found = session.get(TriggerSubscription, subscription_id, populate_existing=True)
    if found is None or found.client_id != client_id or found.trigger != trigger:
        raise NotFound("no such trigger subscription", field="id")
    return found


def delete(
    session: Session, client_id: str, trigger: str, subscription_id: str
) -> TriggerSubscription:
    """Stop polling and drop what it still owes; repeating it changes nothing."""
    subscription = find(session, client_id, trigger, subscription_id)
    if subscription.status != TriggerSubscriptionStatus.DELETED:
        session.execute(
            update(TriggerSubscription)
            .where(TriggerSubscription.id == subscription.id)
            .values(
                status=TriggerSubscriptionStatus.DELETED,
                poll_status=TriggerPollStatus.STOPPED,
                deleted_at=utcnow(),
            )
        )
        drop_owed(session, owner(subscription.id))
        session.refresh(subscription)
    return subscription


def still_allowed(session: Session, client_id: str, mailbox: str) -> bool:
    """Whether the subscription's key still exists and is still bound to its mailbox: a key
    unbound or revoked after subscribing reaches that mailbox no more."""
    return (
        session.scalar(
            select(ClientMailbox.address)
            .join(ApiClient, ApiClient.id == ClientMailbox.client_id)
            .where(
                ClientMailbox.client_id == client_id,
                ClientMailbox.address == mailbox,
                ApiClient.revoked_at.is_(None),
            )
        )
        is not None
    )


def record_poll(
    session: Session,
    subscription: Any,
    *,
    claimed_at: datetime,
    items: list[dict[str, Any]],
    cursor: dict[str, Any],
    interval: float,
) -> datetime | None:
    """The poll's cursor and, if it found anything, its batch's delivery, in ``session``'s
    transaction; when the next poll is due, or None (nothing written) if this worker's claim
    was taken over or DELETE stopped the polls meanwhile.

    ``subscription`` is the claimed row (id, client_id, notification_url). Polls start an
    interval apart, however long each took; the caller enqueues the next one for then."""
    now = utcnow()
    next_poll_at = max(claimed_at + timedelta(seconds=interval), now)
    if not _release(
        session,
        subscription.id,
        claimed_at,
        next_poll_at,
        cursor=cursor,
        last_poll_at=now,
        last_poll_items=len(items),
        last_error=None,
    ):
        return None
    if items:
        create_delivery(
            session,
            client_id=subscription.client_id,
            url=subscription.notification_url,
            payload={"value": items},
            owner=owner(subscription.id),
        )
    return next_poll_at


def record_failure(
    session: Session, subscription_id: str, *, claimed_at: datetime, error: str, retry_in: float
) -> datetime | None:
    """A poll that found nothing out: the cursor stays, the error is shown, it is tried again
    (when is returned; None if the claim was no longer this worker's)."""
    now = utcnow()
    next_poll_at = now + timedelta(seconds=min(retry_in, FAILED_POLL_RETRY_SECONDS))
    changed = _release(
        session,
        subscription_id,
        claimed_at,
        next_poll_at,
        last_poll_at=now,
        last_error=error[:2000],
    )
    return next_poll_at if changed else None


def _release(
    session: Session,
    subscription_id: str,
    claimed_at: datetime,
    next_poll_at: datetime,
    **values: Any,
) -> bool:
    """End this worker's claim with ``values``, if the claim is still this worker's; the
    next poll's message is expected at ``next_poll_at`` when it is near enough for a broker
    countdown (:func:`approvals.store.claims.expected_message_at`), else beat enqueues it."""
    delay = (next_poll_at - utcnow()).total_seconds()
    changed = session.execute(
        update(TriggerSubscription)
        .where(
            TriggerSubscription.id == subscription_id,
            TriggerSubscription.poll_status == TriggerPollStatus.POLLING,
            TriggerSubscription.poll_claimed_at == claimed_at,
        )
        .values(
            poll_status=TriggerPollStatus.DUE,
            poll_claimed_at=None,
            next_poll_at=next_poll_at,
            poll_enqueued_at=expected_message_at(next_poll_at, delay),
            **values,
        )
    ).rowcount
    # Not changed: the claim lapsed and another worker took it, or DELETE stopped the polls.
    return bool(changed)
