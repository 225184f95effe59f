"""What GET on a subscription shows of its policy: answers, what is still needed, reminders,
escalation, reassignments and the outcome. Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from approvals.policies.answers import decision_of
from approvals.policies.payloads import Answer
from approvals.store.models import Reminder, Subscription
from approvals.store.status import ReminderStatus, SubscriptionStatus


@dataclass(frozen=True)
class PolicyView:
    answers: list[Answer]
    needed: int
    reminders: list[Reminder]


def policy_view(session: Session, subscription: Subscription) -> PolicyView:
    decision, answers = decision_of(session, subscription)
    needed = decision.needed if subscription.status == SubscriptionStatus.PENDING else 0
    reminders: list[Reminder] = []
    if subscription.policy and subscription.policy.get("Reminders"):
        reminders = list(
            session.scalars(
                select(Reminder)
                .where(Reminder.subscription_id == subscription.id)
                .order_by(Reminder.due_at, Reminder.id)
            )
        )
    return PolicyView(answers, needed, reminders)


def due_or_none(status: str, due_at: datetime) -> datetime | None:
    """A reminder's next time, shown only while one is still to come."""
    return due_at if status in (ReminderStatus.DUE, ReminderStatus.SENDING) else None
