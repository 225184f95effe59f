"""Answers under a policy other than ``First``: each recipient once, the decision exactly once.

Every answer takes the subscription's row lock first (an UPDATE that changes nothing), so
answers to one request are recorded one after another: each sees all earlier ones, and of ten
people confirming at once exactly one finds the request decided by their answer, ends it and
owes its callback, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from approvals.approval.owner import owner
from approvals.delivery.service import create_delivery
from approvals.policies.payloads import Answer, outcome_payload
from approvals.policies.reminders import cancel_reminders
from approvals.policies.rules import Decision, decide
from approvals.policies.settings import PolicySettings
from approvals.store.models import NO_CALLBACK, Recipient, Response, Subscription, utcnow
from approvals.store.status import SubscriptionStatus


def lock_pending(session: Session, subscription_id: str, now: datetime) -> bool:
    """Take the subscription's row lock if it is still open; False when it is not."""
    locked = session.execute(
        update(Subscription)
        .where(
            Subscription.id == subscription_id,
            Subscription.status == SubscriptionStatus.PENDING,
            Subscription.expires_at > now,
        )
        .values(status=SubscriptionStatus.PENDING)
    ).rowcount
    return bool(locked)


def answers_of(session: Session, subscription_id: str) -> list[Answer]:
    """Every recorded answer of the subscription, oldest first, with the answerer's address."""
    rows = session.execute(
        select(Response, Recipient.address)
        .join(Recipient, Recipient.id == Response.recipient_id)
        .where(Response.subscription_id == subscription_id)
        .order_by(Response.responded_at, Response.id)
    ).all()
    return [
        Answer(r.recipient_id, address, r.option, r.comment, r.responded_at) for r, address in rows
    ]


def waiting_count(session: Session, subscription_id: str) -> int:
    """Recipients holding a place (not handed on) who have not answered."""
    answered = select(Response.recipient_id).where(Response.subscription_id == subscription_id)
    return len(
        session.scalars(
            select(Recipient.id).where(
                Recipient.subscription_id == subscription_id,
                Recipient.reassigned_to.is_(None),
                Recipient.id.not_in(answered),
            )
        ).all()
    )


def decision_of(session: Session, subscription: Subscription) -> tuple[Decision, list[Answer]]:
    """How the answers recorded so far decide the request, and those answers."""
    answers = answers_of(session, subscription.id)
    decision = decide(
        PolicySettings.of(subscription.policy),
        subscription.options,
        [a.option for a in answers],
        waiting_count(session, subscription.id),
    )
    return decision, answers


def end_if_decided(session: Session, subscription: Subscription, now: datetime) -> str | None:
    """With the row lock held: end the request if its answers decide it, owing the callback.
    Returns the new delivery's id, or None (it still waits, or the caller asked for none)."""
    decision, answers = decision_of(session, subscription)
    if decision.outcome is None:
        return None
    session.execute(
        update(Subscription)
        .where(Subscription.id == subscription.id)
        .values(
            status=SubscriptionStatus.COMPLETED,
            finished_at=now,
            outcome=decision.outcome,
            decided_option=decision.option,
        )
    )
    cancel_reminders(session, subscription.id)
    if subscription.notification_url == NO_CALLBACK:
        return None
    delivery = create_delivery(
        session,
        client_id=subscription.client_id,
        url=subscription.notification_url,
        payload=outcome_payload(subscription.id, decision.outcome, decision.option, answers),
        owner=owner(subscription.id),
    )
    return delivery.id


def record_answer(
    session: Session,
    subscription: Subscription,
    recipient: Recipient,
    option: str,
    *,
    comment: str,
    remote_addr: str | None,
    user_agent: str | None,
) -> tuple[Response, str | None] | None:
    """Record ``recipient``'s answer and end the request if it decides it.

    Returns the response and the callback's delivery id (None while the request waits), or
    None when the answer cannot be taken (ended meanwhile, or this recipient answered or
    handed on): the transaction is rolled back then and the caller looks again.
    """
    now = utcnow()
    if not lock_pending(session, subscription.id, now):
        session.rollback()
        return None
    taken = session.scalar(
        select(Recipient.id).where(
            Recipient.id == recipient.id,
            Recipient.reassigned_to.is_(None),
            Recipient.id.not_in(
                select(Response.recipient_id).where(Response.recipient_id == recipient.id)
            ),
        )
    )
    if taken is None:
        session.rollback()
        return None
    response = Response(
        subscription_id=subscription.id,
        recipient_id=recipient.id,
        option=option,
        comment=comment,
        responded_at=now,
        remote_addr=remote_addr,
        user_agent=user_agent,
    )
    session.add(response)
    session.flush()
    cancel_reminders(session, subscription.id, recipient.id)
    return response, end_if_decided(session, subscription, now)
