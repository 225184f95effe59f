"""Reminder rows: planned with their recipients, claimed like mail, settled after sending.

A recipient's reminders are one row, due at ``After`` and then every ``Every`` until ``Max``
went out. The sweeper enqueues due rows (:data:`REMINDERS`); a worker claims them by
compare-and-set and sends only while the request is pending and the recipient has neither
answered nor handed on, so no reminder follows a decision (the decision also cancels the
rows not yet claimed, in its own transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session

from approvals.policies.settings import PolicySettings, ReminderPlan
from approvals.store.claims import OwedRows
from approvals.store.models import Recipient, Reminder, Response, Subscription, new_id
from approvals.store.status import ReminderStatus, SubscriptionStatus

REMINDERS = OwedRows(
    Reminder,
    Reminder.status,
    ReminderStatus.SENDING,
    Reminder.claimed_at,
    Reminder.attempts,
    Reminder.due_at,
    Reminder.enqueued_at,
)


def plan_reminders(
    session: Session,
    subscription_id: str,
    recipient_ids: Sequence[str],
    plan: ReminderPlan,
    now: datetime,
    *,
    first_after: float | None = None,
) -> None:
    """One reminder row per recipient, first due ``After`` from now (the sweeper finds it)."""
    due = now + timedelta(seconds=plan.after if first_after is None else first_after)
    session.execute(
        insert(Reminder.__table__),
        [
            {
                "id": new_id(),
                "subscription_id": subscription_id,
                "recipient_id": recipient_id,
                "status": ReminderStatus.DUE,
                "due_at": due,
                "sent_count": 0,
                "attempts": 0,
            }
            for recipient_id in recipient_ids
        ],
    )


def cancel_reminders(
    session: Session, subscription_id: str, recipient_id: str | None = None
) -> None:
    """Reminders not yet claimed are not sent: the request ended, or this recipient is done."""
    condition = [Reminder.subscription_id == subscription_id]
    if recipient_id is not None:
        condition.append(Reminder.recipient_id == recipient_id)
    session.execute(
        update(Reminder)
        .where(*condition, Reminder.status == ReminderStatus.DUE)
        .values(status=ReminderStatus.CANCELLED, enqueued_at=None)
    )


@dataclass(frozen=True)
class ReminderToSend:
    """A claimed reminder whose request still waits for this recipient."""

    id: str
    recipient_id: str
    subscription_id: str
    address: str
    sent_count: int
    options: list[str]
    message: dict[str, object]
    client_id: str
    plan: ReminderPlan


def claim_reminders(
    conn: Connection, reminder_ids: Sequence[str], *, now: datetime, claim_timeout: float
) -> list[ReminderToSend]:
    """Claim the due reminders of ``reminder_ids``; cancel those nobody needs any more."""
    claimed = REMINDERS.claim(
        conn,
        reminder_ids,
        now=now,
        claim_timeout=claim_timeout,
        returning=(Reminder.recipient_id, Reminder.subscription_id, Reminder.sent_count),
    )
    if not claimed:
        return []
    rows = conn.execute(
        select(
            Recipient.id,
            Recipient.address,
            Recipient.reassigned_to,
            Subscription.id.label("subscription_id"),
            Subscription.status,
            Subscription.options,
            Subscription.message,
            Subscription.client_id,
            Subscription.policy,
        )
        .join(Subscription, Subscription.id == Recipient.subscription_id)
        .where(Recipient.id.in_([c.recipient_id for c in claimed]))
    ).all()
    by_recipient = {row.id: row for row in rows}
    answered = set(
        conn.scalars(
            select(Response.recipient_id).where(
                Response.recipient_id.in_([c.recipient_id for c in claimed])
            )
        )
    )
    to_send: list[ReminderToSend] = []
    unwanted: list[str] = []
    for claim in claimed:
        row = by_recipient[claim.recipient_id]
        plan = PolicySettings.of(row.policy).reminders
        if (
            row.status != SubscriptionStatus.PENDING
            or row.reassigned_to is not None
            or row.id in answered
            or plan is None
        ):
            unwanted.append(claim.id)
            continue
        to_send.append(
            ReminderToSend(
                claim.id,
                row.id,
                row.subscription_id,
                row.address,
                claim.sent_count,
                row.options,
                row.message,
                row.client_id,
                plan,
            )
        )
    if unwanted:
        conn.execute(
            update(Reminder)
            .where(Reminder.id.in_(unwanted))
            .values(status=ReminderStatus.CANCELLED, claimed_at=None)
        )
    return to_send


def record_sent(conn: Connection, reminder: ReminderToSend, now: datetime) -> None:
    """One more went out: due again after ``Every``, or done after ``Max``."""
    count = reminder.sent_count + 1
    done = count >= reminder.plan.max
    conn.execute(
        update(Reminder)
        .where(Reminder.id == reminder.id, Reminder.status == ReminderStatus.SENDING)
        .values(
            status=ReminderStatus.DONE if done else ReminderStatus.DUE,
            sent_count=count,
            last_sent_at=now,
            claimed_at=None,
            enqueued_at=None,
            due_at=now if done else now + timedelta(seconds=reminder.plan.every),
        )
    )


def give_back(conn: Connection, reminder_id: str, due: datetime) -> None:
    """Sending failed: due again at ``due`` (the sweeper enqueues it)."""
    REMINDERS.give_back(conn, [reminder_id], due=due, message_expected=False)
