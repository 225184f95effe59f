"""Expiry: pending requests past their time end as ``expired``, each owing one callback.

The UPDATE that expires them is a compare-and-set (``WHERE status = 'pending'``) returning the
rows it changed, so of two sweepers at once each request is expired, and its callback owed, by
exactly one. A request that asked ``NotifyOnExpiry: false`` owes none.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from approvals.approval.owner import owner
from approvals.delivery.service import create_delivery
from approvals.policies.answers import answers_of
from approvals.policies.payloads import outcome_payload
from approvals.policies.settings import PolicySettings
from approvals.store.models import NO_CALLBACK, Reminder, Subscription, utcnow
from approvals.store.status import Outcome, ReminderStatus, SubscriptionStatus


def expire_due(session: Session, now: datetime | None = None) -> int:
    """Expire what is past due, owe each its ``expired`` callback; returns how many."""
    now = now or utcnow()
    table = Subscription.__table__
    expired = (
        session.connection()
        .execute(
            update(table)
            .where(table.c.status == SubscriptionStatus.PENDING, table.c.expires_at <= now)
            .values(status=SubscriptionStatus.EXPIRED, finished_at=now, outcome=Outcome.EXPIRED)
            .returning(table.c.id, table.c.client_id, table.c.notification_url, table.c.policy)
        )
        .all()
    )
    if not expired:
        return 0
    session.execute(
        update(Reminder)
        .where(
            Reminder.subscription_id.in_([row.id for row in expired]),
            Reminder.status == ReminderStatus.DUE,
        )
        .values(status=ReminderStatus.CANCELLED)
    )
    for row in expired:
        if (
            row.notification_url == NO_CALLBACK
            or not PolicySettings.of(row.policy).notify_on_expiry
        ):
            continue
        create_delivery(
            session,
            client_id=row.client_id,
            url=row.notification_url,
            payload=outcome_payload(row.id, Outcome.EXPIRED, None, answers_of(session, row.id)),
            owner=owner(row.id),
        )
    return len(expired)
