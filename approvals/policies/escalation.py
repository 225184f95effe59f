"""Escalation: a request still undecided after ``After`` gets the ``To`` addresses as
recipients, exactly once.

The sweeper that sets ``escalated_at`` (a compare-and-set on ``escalated_at IS NULL``, which
also holds the row lock until it commits) is the only one that adds them, so two sweepers at
once never add them twice. New recipients get the email and their answers count.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from approvals.policies.reminders import plan_reminders
from approvals.policies.settings import PolicySettings
from approvals.store.jobs import Job, after_commit
from approvals.store.models import Recipient, Subscription, new_id, utcnow
from approvals.store.status import EmailStatus, SubscriptionStatus

ESCALATION = "escalation"
ESCALATE_BATCH = 100


def escalate_due(session: Session, now: datetime | None = None) -> int:
    """Add the escalation recipients of every pending request past its time; how many
    requests were escalated."""
    now = now or utcnow()
    due = session.scalars(
        select(Subscription.id)
        .where(
            Subscription.status == SubscriptionStatus.PENDING,
            Subscription.escalate_at <= now,
            Subscription.escalated_at.is_(None),
        )
        .limit(ESCALATE_BATCH)
    ).all()
    escalated = 0
    for subscription_id in due:
        if escalate(session, subscription_id, now):
            escalated += 1
    return escalated


def escalate(session: Session, subscription_id: str, now: datetime) -> bool:
    """Escalate one request if nobody has yet; False when another sweeper did, or it ended."""
    won = session.execute(
        update(Subscription)
        .where(
            Subscription.id == subscription_id,
            Subscription.status == SubscriptionStatus.PENDING,
            Subscription.escalated_at.is_(None),
        )
        .values(escalated_at=now)
    ).rowcount
    if not won:
        return False
    policy = session.scalar(select(Subscription.policy).where(Subscription.id == subscription_id))
    addresses = (policy or {}).get("Escalation", {}).get("To", "").split(";")
    present = {
        address.lower()
        for address in session.scalars(
            select(Recipient.address).where(Recipient.subscription_id == subscription_id)
        )
    }
    last = session.scalar(
        select(func.max(Recipient.position)).where(Recipient.subscription_id == subscription_id)
    )
    rows = [
        {
            "id": new_id(),
            "subscription_id": subscription_id,
            "position": (last or 0) + 1 + index,
            "address": address,
            "email_status": EmailStatus.DUE,
            "email_attempts": 0,
            "email_next_at": now,
            "email_enqueued_at": now,  # published once this transaction commits
            "source": ESCALATION,
        }
        for index, address in enumerate(a for a in addresses if a and a.lower() not in present)
    ]
    if rows:
        session.execute(insert(Recipient.__table__), rows)
        plan = PolicySettings.of(policy).reminders
        if plan:
            plan_reminders(session, subscription_id, [r["id"] for r in rows], plan, now)
        for row in rows:
            after_commit(session, Job.SEND_MAIL, row["id"])
    return True
