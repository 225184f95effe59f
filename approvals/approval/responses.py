"""Record a recipient's confirmed choice, atomically with the callback it causes.

Under the connector's policy (``First``) the first one wins here; under the others
(:mod:`approvals.policies.answers`) each recipient answers once and the policy decides.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from approvals.approval.links import ResponseTarget
from approvals.approval.owner import owner
from approvals.approval.subscriptions import response_for
from approvals.delivery.service import create_delivery
from approvals.policies.answers import answers_of, record_answer
from approvals.policies.payloads import Answer
from approvals.policies.reminders import cancel_reminders
from approvals.policies.settings import PolicySettings
from approvals.store.models import NO_CALLBACK, Recipient, Response, Subscription, utcnow
from approvals.store.status import Outcome as PolicyOutcome
from approvals.store.status import SubscriptionStatus
from approvals.timefmt import iso


class Outcome(enum.Enum):
    RECORDED = "recorded"
    ALREADY_ANSWERED = "already_answered"
    DECIDED = "decided"  # a policy request ended (decided or undecided) before this answer
    REASSIGNED = "reassigned"  # this recipient handed their place on
    COMMENT_REQUIRED = "comment_required"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    BAD_OPTION = "bad_option"


@dataclass(frozen=True)
class LinkState:
    """What a link leads to right now, for the page to show."""

    outcome: Outcome | None  # None: open, ready for a choice
    subscription: Subscription | None = None
    recipient: Recipient | None = None
    response: Response | None = None
    answered_by: str | None = None
    delivery_id: str | None = None
    answers: tuple[Answer, ...] = ()  # a policy request's answers, for the "decided" page
    handed_to: str | None = None


def callback_payload(
    subscription: Subscription, recipient: Recipient, response: Response
) -> dict[str, Any]:
    """The connector's ``ApprovalEmailResponse`` plus our additions (DESIGN 5)."""
    return {
        "SelectedOption": response.option,
        "UserEmailAddress": recipient.address,
        "UserTenantId": None,
        "UserId": recipient.id,
        "SubscriptionId": subscription.id,
        "Comment": response.comment,
        "RespondedAt": iso(response.responded_at),
    }


def inspect_link(session: Session, target: ResponseTarget, option: int | None) -> LinkState:
    """The state of a link without changing anything (GET and HEAD use only this)."""
    recipient = session.get(Recipient, target.recipient_id)
    if recipient is None or recipient.subscription_id != target.subscription_id:
        return LinkState(Outcome.UNKNOWN)
    subscription = recipient.subscription
    settings = PolicySettings.of(subscription.policy)
    if recipient.reassigned_to is not None:
        handed = session.get(Recipient, recipient.reassigned_to)
        return LinkState(
            Outcome.REASSIGNED, subscription, recipient, handed_to=handed.address if handed else ""
        )
    if subscription.status == SubscriptionStatus.COMPLETED and not settings.first:
        answers = tuple(answers_of(session, subscription.id))
        return LinkState(Outcome.DECIDED, subscription, recipient, answers=answers)
    if subscription.status == SubscriptionStatus.COMPLETED:
        answer = response_for(session, subscription.id)
        by = session.get(Recipient, answer.recipient_id).address if answer else None
        return LinkState(Outcome.ALREADY_ANSWERED, subscription, recipient, answer, by)
    if subscription.status == SubscriptionStatus.CANCELLED:
        return LinkState(Outcome.CANCELLED, subscription, recipient)
    if subscription.status == SubscriptionStatus.EXPIRED or subscription.expires_at <= utcnow():
        return LinkState(Outcome.EXPIRED, subscription, recipient)
    if not settings.first:
        own = session.scalar(select(Response).where(Response.recipient_id == recipient.id))
        if own is not None:
            return LinkState(
                Outcome.ALREADY_ANSWERED, subscription, recipient, own, recipient.address
            )
    if option is None or not 0 <= option < len(subscription.options):
        return LinkState(Outcome.BAD_OPTION, subscription, recipient)
    return LinkState(None, subscription, recipient)


def record_response(
    session: Session,
    target: ResponseTarget,
    option: int,
    *,
    comment: str,
    remote_addr: str | None,
    user_agent: str | None,
) -> LinkState:
    """Record the choice if the subscription is still open; otherwise say why not."""
    state = inspect_link(session, target, option)
    if state.outcome is not None:
        return state
    subscription, recipient = state.subscription, state.recipient
    assert subscription is not None and recipient is not None
    settings = PolicySettings.of(subscription.policy)
    label = subscription.options[option]
    if not comment and label in settings.require_comment:
        return LinkState(Outcome.COMMENT_REQUIRED, subscription, recipient)
    if not settings.first:
        recorded = record_answer(
            session,
            subscription,
            recipient,
            label,
            comment=comment,
            remote_addr=remote_addr,
            user_agent=user_agent,
        )
        if recorded is None:
            return inspect_link(session, target, option)
        response, delivery_id = recorded
        return LinkState(
            Outcome.RECORDED, subscription, recipient, response, recipient.address, delivery_id
        )
    now = utcnow()
    # Compare-and-set: of two confirmations at the same instant exactly one finds it pending.
    won = session.execute(
        update(Subscription)
        .where(
            Subscription.id == subscription.id,
            Subscription.status == SubscriptionStatus.PENDING,
            Subscription.expires_at > now,
            *(
                # A place handed on meanwhile no longer answers.
                [
                    select(Recipient.id)
                    .where(Recipient.id == recipient.id, Recipient.reassigned_to.is_(None))
                    .exists()
                ]
                if settings.allow_reassign
                else []
            ),
        )
        .values(
            status=SubscriptionStatus.COMPLETED,
            finished_at=now,
            outcome=PolicyOutcome.DECIDED,
            decided_option=label,
        )
    ).rowcount
    if not won:
        session.rollback()
        return inspect_link(session, target, option)
    response = Response(
        subscription_id=subscription.id,
        recipient_id=recipient.id,
        option=subscription.options[option],
        comment=comment,
        responded_at=now,
        remote_addr=remote_addr,
        user_agent=user_agent,
    )
    session.add(response)
    session.flush()
    if settings.reminders:
        cancel_reminders(session, subscription.id)
    delivery_id = None
    if subscription.notification_url != NO_CALLBACK:
        delivery_id = create_delivery(
            session,
            client_id=subscription.client_id,
            url=subscription.notification_url,
            payload=callback_payload(subscription, recipient, response),
            owner=owner(subscription.id),
        ).id
    return LinkState(
        Outcome.RECORDED, subscription, recipient, response, recipient.address, delivery_id
    )
