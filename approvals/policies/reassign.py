"""Reassignment: a recipient hands their place to another address (``AllowReassign``).

Taken under the subscription's row lock, like an answer, so a place is handed on at most once
and never after its holder answered or the request ended. The new recipient gets the email;
the old link stops working; the old row keeps who handed to whom, when, and from where.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from approvals.policies.answers import lock_pending
from approvals.policies.reminders import cancel_reminders, plan_reminders
from approvals.policies.settings import PolicySettings
from approvals.store.jobs import Job, after_commit
from approvals.store.models import Recipient, Response, Subscription, new_id, utcnow
from approvals.store.status import EmailStatus

REASSIGNMENT = "reassignment"


class Refusal(enum.Enum):
    NOT_ALLOWED = "not_allowed"
    CLOSED = "closed"  # ended, answered or handed on meanwhile: the caller looks again
    ALREADY_ASKED = "already_asked"


@dataclass(frozen=True)
class Handed:
    """The place moved: to this new recipient."""

    recipient_id: str
    address: str


def reassign(
    session: Session,
    subscription: Subscription,
    recipient: Recipient,
    address: str,
    *,
    remote_addr: str | None,
    user_agent: str | None,
) -> Handed | Refusal:
    """Hand ``recipient``'s place to ``address`` (already checked as an address)."""
    settings = PolicySettings.of(subscription.policy)
    if not settings.allow_reassign:
        return Refusal.NOT_ALLOWED
    now = utcnow()
    if not lock_pending(session, subscription.id, now):
        session.rollback()
        return Refusal.CLOSED
    holder = session.scalar(
        select(Recipient.id).where(
            Recipient.id == recipient.id,
            Recipient.reassigned_to.is_(None),
            ~select(Response.id).where(Response.recipient_id == recipient.id).exists(),
        )
    )
    if holder is None:
        session.rollback()
        return Refusal.CLOSED
    asked = session.scalar(
        select(Recipient.id).where(
            Recipient.subscription_id == subscription.id,
            Recipient.reassigned_to.is_(None),
            func.lower(Recipient.address) == address.lower(),
        )
    )
    if asked is not None:
        session.rollback()
        return Refusal.ALREADY_ASKED
    last = session.scalar(
        select(func.max(Recipient.position)).where(Recipient.subscription_id == subscription.id)
    )
    new = {
        "id": new_id(),
        "subscription_id": subscription.id,
        "position": (last or 0) + 1,
        "address": address,
        "email_status": EmailStatus.DUE,
        "email_attempts": 0,
        "email_next_at": now,
        "email_enqueued_at": now,  # published once this transaction commits
        "source": REASSIGNMENT,
    }
    session.execute(insert(Recipient.__table__), [new])
    session.execute(
        update(Recipient)
        .where(Recipient.id == recipient.id)
        .values(
            reassigned_to=new["id"],
            reassigned_at=now,
            reassign_remote_addr=remote_addr,
            reassign_user_agent=user_agent,
        )
    )
    cancel_reminders(session, subscription.id, recipient.id)
    if settings.reminders:
        plan_reminders(session, subscription.id, [new["id"]], settings.reminders, now)
    after_commit(session, Job.SEND_MAIL, new["id"])
    return Handed(new["id"], address)
